//! c10d process groups (csrc/distributed.cpp, csrc/distributed_nccl.cpp): a TCPStore
//! rendezvous, then Gloo (CPU tensors) or NCCL (CUDA tensors), and the collectives
//! data-parallel training needs. This is what `torch.distributed.init_process_group` and
//! `dist.all_reduce` run; goemo adds no communication code of its own.

use std::ffi::{c_char, c_int, CStr, CString};
use std::fmt;
use std::time::Duration;

use tch::Tensor;

use crate::{Result, TorchError};

/// The handle the shim returns (a `goemo::Group`).
#[repr(C)]
pub(crate) struct Group {
    _private: [u8; 0],
}

extern "C" {
    #[allow(clippy::too_many_arguments)] // The C signature of the shim: one flat call.
    fn goemo_dist_new_gloo(
        host: *const c_char,
        port: c_int,
        rank: c_int,
        world: c_int,
        timeout_ms: i64,
        serve_store: c_int,
        prefix: *const c_char,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut Group;
    fn goemo_dist_all_reduce(
        group: *mut Group,
        tensors: *const *const torch_sys::C_tensor,
        n: i64,
        op: c_int,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn goemo_dist_broadcast(
        group: *mut Group,
        tensors: *const *const torch_sys::C_tensor,
        n: i64,
        root: c_int,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn goemo_dist_barrier(group: *mut Group, error: *mut c_char, error_len: usize) -> c_int;
    fn goemo_dist_free(group: *mut Group);
}

/// The signature of `goemo_dist_new_gloo` and `goemo_dist_new_nccl`.
type NewGroup = unsafe extern "C" fn(
    *const c_char,
    c_int,
    c_int,
    c_int,
    i64,
    c_int,
    *const c_char,
    *mut c_char,
    usize,
) -> *mut Group;

/// The NCCL shim's path, when this build has one (see build.rs).
const NCCL_SHIM: &str = env!("GOEMO_NCCL_SHIM");

/// A c10d communication backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Gloo, for CPU tensors (in libtorch_cpu).
    Gloo,
    /// NCCL, for CUDA tensors (in libtorch_cuda).
    Nccl,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Gloo => "gloo",
            Backend::Nccl => "nccl",
        })
    }
}

/// Where and how the ranks of a group meet: torch.distributed's `env://` rendezvous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendezvous {
    /// The TCPStore's address (`MASTER_ADDR`).
    pub host: String,
    /// The TCPStore's port.
    pub port: u16,
    /// This process's rank.
    pub rank: usize,
    /// Processes in the group.
    pub world_size: usize,
    /// Whether this process serves the store (rank 0, unless torchrun's agent already does).
    pub serve_store: bool,
    /// The namespace of this group's keys in the store (one per restart of the group).
    pub prefix: String,
    /// How long to wait for the store, for peers, and for any collective.
    pub timeout: Duration,
}

/// The reduction of an all-reduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    /// Element-wise sum.
    Sum,
    /// Element-wise maximum.
    Max,
}

/// A c10d process group this process is one rank of.
///
/// ```no_run
/// use goemo_torch::{Backend, ProcessGroup, ReduceOp, Rendezvous};
/// # fn demo() -> goemo_torch::Result<()> {
/// let rendezvous = Rendezvous {
///     host: "127.0.0.1".into(), port: 29500, rank: 0, world_size: 1, serve_store: true,
///     prefix: "demo".into(), timeout: std::time::Duration::from_secs(30),
/// };
/// let group = ProcessGroup::new(Backend::Gloo, &rendezvous)?;
/// let t = tch::Tensor::from_slice(&[1.0f32, 2.0]);
/// group.all_reduce(&[t.shallow_clone()], ReduceOp::Sum, "a demo tensor")?;
/// # Ok(()) }
/// ```
pub struct ProcessGroup {
    group: *mut Group,
    backend: Backend,
    rank: usize,
    world_size: usize,
    timeout: Duration,
}

impl fmt::Debug for ProcessGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessGroup")
            .field("backend", &self.backend)
            .field("rank", &self.rank)
            .field("world_size", &self.world_size)
            .finish_non_exhaustive()
    }
}

/// A message buffer for the shims.
pub(crate) struct ErrorBuffer(pub(crate) [c_char; 2048]);

impl ErrorBuffer {
    pub(crate) fn new() -> Self {
        ErrorBuffer([0; 2048])
    }

    pub(crate) fn message(&self) -> String {
        // SAFETY: zero-initialised, and the shims write at most len − 1 bytes then a NUL.
        unsafe { CStr::from_ptr(self.0.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }
}

impl ProcessGroup {
    /// Meets the other ranks at the rendezvous and sets up the group; fails within the
    /// rendezvous timeout when they do not come, the store's port is taken or its host cannot
    /// be reached.
    pub fn new(backend: Backend, rendezvous: &Rendezvous) -> Result<Self> {
        let r = rendezvous;
        if r.world_size == 0 || r.rank >= r.world_size {
            return Err(TorchError::Unsupported(format!(
                "rank {} is outside a group of {} ranks",
                r.rank, r.world_size
            )));
        }
        let new_group: NewGroup = match backend {
            Backend::Gloo => goemo_dist_new_gloo,
            Backend::Nccl => nccl_constructor()?,
        };
        let c_string = |s: &str, what: &str| {
            CString::new(s).map_err(|_| TorchError::Unsupported(format!("the {what} {s:?} holds a NUL byte")))
        };
        let host = c_string(&r.host, "rendezvous host")?;
        let prefix = c_string(&r.prefix, "store prefix")?;
        let mut error = ErrorBuffer::new();
        // SAFETY: NUL-terminated strings and a buffer, borrowed for the call; the shim catches
        // every C++ exception and returns null with a message, or a group this value owns.
        let group = unsafe {
            new_group(
                host.as_ptr(),
                c_int::from(r.port),
                r.rank as c_int,
                r.world_size as c_int,
                r.timeout.as_millis() as i64,
                c_int::from(r.serve_store),
                prefix.as_ptr(),
                error.0.as_mut_ptr(),
                error.0.len(),
            )
        };
        if group.is_null() {
            let role = if r.serve_store { "serving" } else { "reaching" };
            return Err(TorchError::Distributed {
                operation: format!("{backend} rendezvous ({role} the store at {}:{})", r.host, r.port),
                rank: r.rank,
                world_size: r.world_size,
                message: error.message(),
            });
        }
        Ok(ProcessGroup {
            group,
            backend,
            rank: r.rank,
            world_size: r.world_size,
            timeout: r.timeout,
        })
    }

    /// Gloo or NCCL.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Processes in the group.
    pub fn world_size(&self) -> usize {
        self.world_size
    }

    /// How long a collective waits for the other ranks before it fails.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Reduces each tensor over the ranks, in place; all are queued before the first is
    /// waited on. `what` names the data in errors ("gradients, step 12").
    pub fn all_reduce(&self, tensors: &[Tensor], op: ReduceOp, what: &str) -> Result<()> {
        let pointers: Vec<_> = tensors.iter().map(Tensor::as_ptr).collect();
        let op = match op {
            ReduceOp::Sum => 0,
            ReduceOp::Max => 1,
        };
        self.call(&format!("all-reduce of {what}"), |error| {
            // SAFETY: a live group and `n` pointers to live tensors borrowed for the call; the
            // shim catches every C++ exception.
            unsafe {
                goemo_dist_all_reduce(
                    self.group,
                    pointers.as_ptr(),
                    pointers.len() as i64,
                    op,
                    error.0.as_mut_ptr(),
                    error.0.len(),
                )
            }
        })
    }

    /// Copies each tensor from rank `root` to every rank, in place.
    pub fn broadcast(&self, tensors: &[Tensor], root: usize, what: &str) -> Result<()> {
        let pointers: Vec<_> = tensors.iter().map(Tensor::as_ptr).collect();
        self.call(&format!("broadcast of {what} from rank {root}"), |error| {
            // SAFETY: as in `all_reduce`.
            unsafe {
                goemo_dist_broadcast(
                    self.group,
                    pointers.as_ptr(),
                    pointers.len() as i64,
                    root as c_int,
                    error.0.as_mut_ptr(),
                    error.0.len(),
                )
            }
        })
    }

    /// Returns when every rank has reached it.
    pub fn barrier(&self, what: &str) -> Result<()> {
        self.call(&format!("barrier ({what})"), |error| {
            // SAFETY: a live group; the shim catches every C++ exception.
            unsafe { goemo_dist_barrier(self.group, error.0.as_mut_ptr(), error.0.len()) }
        })
    }

    fn call(&self, operation: &str, f: impl FnOnce(&mut ErrorBuffer) -> c_int) -> Result<()> {
        let mut error = ErrorBuffer::new();
        if f(&mut error) == 0 {
            return Ok(());
        }
        Err(self.error(operation, &error))
    }

    /// The error of `operation` on this rank, with the shim's message.
    pub(crate) fn error(&self, operation: &str, error: &ErrorBuffer) -> TorchError {
        TorchError::Distributed {
            operation: operation.to_string(),
            rank: self.rank,
            world_size: self.world_size,
            message: error.message(),
        }
    }

    /// The shim's group, for the reducer (which keeps its backend alive on its own).
    pub(crate) fn raw(&self) -> *mut Group {
        self.group
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: the group was made by the shim, is owned by this value and freed once.
        unsafe { goemo_dist_free(self.group) }
    }
}

/// `goemo_dist_new_nccl` from the NCCL shim, loaded (with libtorch_cuda) on first use.
#[cfg(target_os = "linux")]
fn nccl_constructor() -> Result<NewGroup> {
    use std::sync::OnceLock;
    static CONSTRUCTOR: OnceLock<std::result::Result<usize, String>> = OnceLock::new();
    let loaded = CONSTRUCTOR.get_or_init(|| {
        let handle = crate::cuda::open_cuda_shim("GOEMO_NCCL_SHIM", "libgoemo_nccl.so", NCCL_SHIM)?;
        // SAFETY: a live handle and a NUL-terminated symbol name.
        let symbol = unsafe { libc::dlsym(handle, c"goemo_dist_new_nccl".as_ptr()) };
        if symbol.is_null() {
            return Err(format!(
                "the NCCL shim has no goemo_dist_new_nccl: {}",
                crate::cuda::dl_error()
            ));
        }
        Ok(symbol as usize)
    });
    match loaded {
        // SAFETY: the symbol is `goemo_dist_new_nccl`, whose C signature is `NewGroup`.
        Ok(address) => Ok(unsafe { std::mem::transmute::<usize, NewGroup>(*address) }),
        Err(message) => Err(TorchError::Unsupported(format!("NCCL: {message}"))),
    }
}

#[cfg(not(target_os = "linux"))]
fn nccl_constructor() -> Result<NewGroup> {
    Err(TorchError::Unsupported(
        "NCCL process groups are built on Linux only".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Instant;
    use tch::{Device, Kind};

    /// A port nobody listens on now.
    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    fn rendezvous(port: u16, rank: usize, world_size: usize, timeout: Duration) -> Rendezvous {
        Rendezvous {
            host: "127.0.0.1".into(),
            port,
            rank,
            world_size,
            serve_store: rank == 0,
            prefix: "test".into(),
            timeout,
        }
    }

    /// Runs `body` on each rank of a Gloo group of `world` threads; their results in rank order.
    fn on_ranks<T: Send>(world: usize, timeout: Duration, body: impl Fn(ProcessGroup) -> T + Sync) -> Vec<T> {
        let port = free_port();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..world)
                .map(|rank| {
                    let body = &body;
                    scope.spawn(move || {
                        let group = ProcessGroup::new(Backend::Gloo, &rendezvous(port, rank, world, timeout)).unwrap();
                        body(group)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn a_backward_reducer_sums_each_bucket_once_backward_completes_it() {
        let v = |t: &Tensor| Vec::<f32>::try_from(t).unwrap();
        let results = on_ranks(2, Duration::from_secs(20), |group| {
            let r = group.rank() as f64 + 1.0;
            let a = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
            let b = Tensor::from_slice(&[3.0f32, 4.0, 5.0]).set_requires_grad(true);
            let unused = Tensor::from_slice(&[7.0f32]).set_requires_grad(true);
            // b's bucket first (backward completes it first), then a's, shared with `unused`,
            // which gets no gradient, so that bucket waits for `finish`.
            let first = Tensor::zeros([3], (Kind::Float, Device::Cpu));
            let second = Tensor::zeros([3], (Kind::Float, Device::Cpu));
            let views = [second.narrow(0, 0, 2), first.narrow(0, 0, 3), second.narrow(0, 2, 1)];
            let params = [a.shallow_clone(), b.shallow_clone(), unused.shallow_clone()];
            for (p, view) in params.iter().zip(&views) {
                crate::set_grad(p, view).unwrap();
            }
            let reducer = group
                .backward_reducer(
                    &params,
                    &views,
                    &[1, 0, 1],
                    &[first.shallow_clone(), second.shallow_clone()],
                )
                .unwrap();
            let backward = || (((&a * &a).sum(Kind::Float) + b.sum(Kind::Float)) * r).backward();
            // Not armed: the gradients stay this rank's own.
            backward();
            let local = (v(&a.grad()), v(&b.grad()));
            let _ = first.shallow_clone().zero_();
            let _ = second.shallow_clone().zero_();
            reducer.arm().unwrap();
            backward();
            let launched = reducer.finish("test gradients").unwrap();
            let in_place = a.grad().data_ptr() == second.data_ptr();
            (local, v(&a.grad()), v(&b.grad()), v(&unused.grad()), launched, in_place)
        });
        for (rank, (local, a, b, unused, launched, in_place)) in results.into_iter().enumerate() {
            let r = rank as f32 + 1.0;
            assert_eq!(local, (vec![2.0 * r, 4.0 * r], vec![r; 3]));
            assert_eq!(a, [6.0, 12.0], "2a summed over ranks weighted 1 and 2");
            assert_eq!(b, [3.0; 3]);
            assert_eq!(unused, [0.0]);
            assert_eq!(
                launched, 1,
                "b's bucket started during backward, a's waited for `unused`"
            );
            assert!(in_place, "the gradients stay views of the buckets");
        }
    }

    #[test]
    fn a_reducer_needs_a_view_per_parameter_inside_its_bucket() {
        let results = on_ranks(1, Duration::from_secs(20), |group| {
            let a = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
            let bucket = Tensor::zeros([2], (Kind::Float, Device::Cpu));
            let elsewhere = Tensor::zeros([2], (Kind::Float, Device::Cpu));
            let count = group
                .backward_reducer(&[a.shallow_clone()], &[], &[0], &[bucket.shallow_clone()])
                .unwrap_err()
                .to_string();
            let outside = group
                .backward_reducer(&[a.shallow_clone()], &[elsewhere], &[0], &[bucket])
                .unwrap_err()
                .to_string();
            (count, outside)
        });
        let (count, outside) = &results[0];
        assert!(count.contains("1 parameters, 0 views"), "{count}");
        assert!(outside.contains("not a slice of its bucket"), "{outside}");
    }

    #[test]
    fn all_reduce_and_broadcast_over_three_ranks() {
        let results = on_ranks(3, Duration::from_secs(20), |group| {
            let r = group.rank() as f32;
            let a = Tensor::from_slice(&[r, 10.0 * r]);
            let b = Tensor::from_slice(&[r + 1.0; 5]);
            group
                .all_reduce(&[a.shallow_clone(), b.shallow_clone()], ReduceOp::Sum, "t")
                .unwrap();
            let m = Tensor::from_slice(&[r]);
            group.all_reduce(&[m.shallow_clone()], ReduceOp::Max, "m").unwrap();
            let c = Tensor::from_slice(&[r * 7.0]);
            group.broadcast(&[c.shallow_clone()], 2, "c").unwrap();
            group.barrier("end").unwrap();
            let v = |t: &Tensor| Vec::<f32>::try_from(t).unwrap();
            (v(&a), v(&b), v(&m), v(&c))
        });
        for (a, b, m, c) in results {
            assert_eq!(a, [3.0, 30.0]);
            assert_eq!(b, [6.0; 5]);
            assert_eq!(m, [2.0]);
            assert_eq!(c, [14.0]);
        }
    }

    #[test]
    fn a_rank_that_never_joins_a_collective_fails_the_others_within_the_timeout() {
        let timeout = Duration::from_secs(3);
        let results = on_ranks(2, timeout, |group| {
            if group.rank() == 1 {
                // Rank 1 hangs: it holds its group open but never calls the collective.
                std::thread::sleep(timeout + Duration::from_secs(3));
                return None;
            }
            let started = Instant::now();
            let t = Tensor::zeros([4], (Kind::Float, Device::Cpu));
            let err = group.all_reduce(&[t], ReduceOp::Sum, "gradients, step 3").unwrap_err();
            Some((err.to_string(), started.elapsed()))
        });
        let (message, waited) = results[0].clone().unwrap();
        assert!(
            message.contains("rank 0 of 2") && message.contains("all-reduce of gradients, step 3"),
            "{message}"
        );
        assert!(waited < timeout + Duration::from_secs(2), "waited {waited:?}");
    }

    #[test]
    fn a_taken_port_and_an_absent_store_are_clear_errors() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = ProcessGroup::new(Backend::Gloo, &rendezvous(port, 0, 2, Duration::from_secs(2)))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("serving the store at 127.0.0.1:{port}")), "{err}");
        assert!(err.to_lowercase().contains("address already in use"), "{err}");
        assert!(!err.contains("frame #"), "no C++ backtrace: {err}");
        drop(listener);

        // Rank 1 with nobody serving the store: it gives up after the timeout.
        let started = Instant::now();
        let err = ProcessGroup::new(Backend::Gloo, &rendezvous(free_port(), 1, 2, Duration::from_secs(2)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("reaching the store at 127.0.0.1"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());

        let err = ProcessGroup::new(Backend::Gloo, &rendezvous(1, 2, 2, Duration::from_secs(1))).unwrap_err();
        assert!(err.to_string().contains("rank 2 is outside a group of 2"), "{err}");
    }

    #[test]
    fn nccl_without_a_gpu_is_a_clear_error() {
        if tch::Cuda::is_available() {
            return;
        }
        let err = ProcessGroup::new(Backend::Nccl, &rendezvous(free_port(), 0, 1, Duration::from_secs(5)))
            .unwrap_err()
            .to_string();
        eprintln!("{err}");
        assert!(err.contains("NCCL") || err.contains("nccl"), "{err}");
        assert!(!err.contains("frame #"), "no C++ backtrace: {err}");
    }
}
