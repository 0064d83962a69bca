//! CUDA graphs (csrc/cuda_graph.cpp): the kernels of a step recorded once and replayed with one
//! launch, as `torch.cuda.graph` does, and the side stream that recording and the eager warm-up
//! before it run on.
//!
//! The shim links libtorch_cuda, so it is a shared library of its own, opened on first use
//! (`GOEMO_CUDA_GRAPH_SHIM`, else `libgoemo_cuda_graph.so` beside the executable, else where this
//! build put it).

use std::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;

use tch::Device;

use crate::{shim_error, Result, TorchError};

const BUILT_SHIM: &str = env!("GOEMO_CUDA_GRAPH_SHIM");

type Error = *mut c_char;
type StreamEnter = unsafe extern "C" fn(i64, Error, usize) -> *mut c_void;
type StreamExit = unsafe extern "C" fn(*mut c_void, Error, usize) -> c_int;
type GraphNew = unsafe extern "C" fn(Error, usize) -> *mut c_void;
type GraphFree = unsafe extern "C" fn(*mut c_void);
type GraphBegin = unsafe extern "C" fn(*mut c_void, u64, u64, Error, usize) -> c_int;
type GraphCall = unsafe extern "C" fn(*mut c_void, Error, usize) -> c_int;
type GraphPoolOf = unsafe extern "C" fn(*mut c_void, *mut u64, *mut u64);

/// The shim's functions, resolved once.
struct Shim {
    stream_enter: StreamEnter,
    stream_exit: StreamExit,
    graph_new: GraphNew,
    graph_free: GraphFree,
    graph_begin: GraphBegin,
    graph_end: GraphCall,
    graph_replay: GraphCall,
    graph_pool: GraphPoolOf,
}

fn shim() -> Result<&'static Shim> {
    static SHIM: OnceLock<std::result::Result<Shim, String>> = OnceLock::new();
    SHIM.get_or_init(load)
        .as_ref()
        .map_err(|message| TorchError::Unsupported(format!("CUDA graphs: {message}")))
}

/// `name` of the shim as a function of type `$ty`.
macro_rules! resolve {
    ($handle:expr, $name:literal, $ty:ty) => {{
        // SAFETY: a live handle and a NUL-terminated symbol name.
        let address = unsafe { libc::dlsym($handle, $name.as_ptr()) };
        if address.is_null() {
            return Err(format!("the CUDA graph shim has no {}", $name.to_string_lossy()));
        }
        // SAFETY: the symbol is the shim's function of that name, whose C signature is `$ty`
        // (csrc/cuda_graph.cpp).
        unsafe { std::mem::transmute::<*mut c_void, $ty>(address) }
    }};
}

fn load() -> std::result::Result<Shim, String> {
    let handle = crate::cuda::open_cuda_shim("GOEMO_CUDA_GRAPH_SHIM", "libgoemo_cuda_graph.so", BUILT_SHIM)?;
    Ok(Shim {
        stream_enter: resolve!(handle, c"goemo_side_stream_enter", StreamEnter),
        stream_exit: resolve!(handle, c"goemo_side_stream_exit", StreamExit),
        graph_new: resolve!(handle, c"goemo_graph_new", GraphNew),
        graph_free: resolve!(handle, c"goemo_graph_free", GraphFree),
        graph_begin: resolve!(handle, c"goemo_graph_begin", GraphBegin),
        graph_end: resolve!(handle, c"goemo_graph_end", GraphCall),
        graph_replay: resolve!(handle, c"goemo_graph_replay", GraphCall),
        graph_pool: resolve!(handle, c"goemo_graph_pool", GraphPoolOf),
    })
}

/// Runs a shim call with an error buffer; the message as a [`TorchError::Shim`].
fn call<T>(operation: &'static str, f: impl FnOnce(Error, usize) -> T, failed: impl Fn(&T) -> bool) -> Result<T> {
    let mut error = [0 as c_char; 1024];
    let out = f(error.as_mut_ptr(), error.len());
    if failed(&out) {
        return Err(shim_error(operation, &error));
    }
    Ok(out)
}

fn cuda_index(device: Device) -> Result<i64> {
    match device {
        Device::Cuda(index) => Ok(index as i64),
        other => Err(TorchError::Unsupported(format!(
            "CUDA graphs record CUDA work only, not {other:?}"
        ))),
    }
}

/// goemo's side stream of a CUDA device (one per device and process, from libtorch's pool) made
/// its current stream while this value lives (it first waits for the work queued on the stream
/// it replaces, and that stream waits for it when it ends). Recording a [`CudaGraph`] needs one,
/// and the eager steps before a recording run on the same stream.
pub struct SideStream {
    guard: *mut c_void,
    shim: &'static Shim,
}

impl std::fmt::Debug for SideStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SideStream").finish_non_exhaustive()
    }
}

impl SideStream {
    /// Makes a side stream current on `device` (a CUDA device).
    pub fn enter(device: Device) -> Result<Self> {
        let index = cuda_index(device)?;
        crate::load_cuda()?;
        let shim = shim()?;
        let guard = call(
            "side stream",
            |e, len| {
                // SAFETY: the shim catches every C++ exception, writes at most `len` bytes NUL-terminated,
                // and returns a guard it allocated, or null on error.
                unsafe { (shim.stream_enter)(index, e, len) }
            },
            |g| g.is_null(),
        )?;
        Ok(SideStream { guard, shim })
    }
}

impl Drop for SideStream {
    fn drop(&mut self) {
        let _ = call(
            "side stream",
            |e, len| {
                // SAFETY: a guard from `stream_enter`, freed once here; a failure to wait (a device
                // already in error) has nowhere to go from drop and shows at the next operation.
                unsafe { (self.shim.stream_exit)(self.guard, e, len) }
            },
            |s| *s != 0,
        );
    }
}

/// The memory pool of a recorded graph: graphs recorded into one pool share its memory, which
/// is sound when they are replayed one at a time on one stream and each one's outputs are read
/// before the next replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphPool(u64, u64);

/// The CUDA kernels of one piece of work, recorded once ([`CudaGraph::record`]) and replayed
/// with one launch: the same kernels on the same memory, so inputs change by copying into the
/// tensors the recording read, and outputs are read from the tensors it wrote.
pub struct CudaGraph {
    graph: *mut c_void,
    shim: &'static Shim,
}

impl std::fmt::Debug for CudaGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaGraph").field("pool", &self.pool()).finish()
    }
}

impl CudaGraph {
    /// Records the CUDA work that `body` queues on the current stream (a [`SideStream`]): none
    /// of it runs now; [`CudaGraph::replay`] runs it. `pool`: share another graph's memory.
    /// `body` must not read values back to the host or change shapes with data; libtorch
    /// refuses such operations during a recording, and the error names them.
    pub fn record<T, E: From<TorchError>>(
        device: Device,
        pool: Option<GraphPool>,
        body: impl FnOnce() -> std::result::Result<T, E>,
    ) -> std::result::Result<(CudaGraph, T), E> {
        cuda_index(device)?;
        crate::load_cuda()?;
        let shim = shim()?;
        let raw = call(
            "CUDA graph",
            |e, len| {
                // SAFETY: the shim catches every C++ exception and returns a new graph, or null.
                unsafe { (shim.graph_new)(e, len) }
            },
            |g| g.is_null(),
        )?;
        let graph = CudaGraph { graph: raw, shim };
        let GraphPool(a, b) = pool.unwrap_or(GraphPool(0, 0));
        call(
            "CUDA graph recording",
            |e, len| {
                // SAFETY: a live graph; the shim catches every exception.
                unsafe { (shim.graph_begin)(raw, a, b, e, len) }
            },
            |s| *s != 0,
        )?;
        let out = body();
        let ended = call(
            "CUDA graph recording",
            |e, len| {
                // SAFETY: a live graph that is recording; the recording ends whether or not `body` failed.
                unsafe { (shim.graph_end)(raw, e, len) }
            },
            |s| *s != 0,
        );
        let out = out?;
        ended?;
        Ok((graph, out))
    }

    /// Runs the recorded work again on the current stream.
    pub fn replay(&self) -> Result<()> {
        call(
            "CUDA graph replay",
            |e, len| {
                // SAFETY: a live, recorded graph; the shim catches every exception.
                unsafe { (self.shim.graph_replay)(self.graph, e, len) }
            },
            |s| *s != 0,
        )?;
        Ok(())
    }

    /// This graph's memory pool.
    pub fn pool(&self) -> GraphPool {
        let (mut a, mut b) = (0u64, 0u64);
        // SAFETY: a live graph and two writable integers.
        unsafe { (self.shim.graph_pool)(self.graph, &mut a, &mut b) };
        GraphPool(a, b)
    }
}

// SAFETY: an instantiated CUDA graph is not tied to the host thread that recorded it: CUDA
// launches it from any thread, and the shim's object is only read by `replay` and `pool` and
// freed once by drop.
unsafe impl Send for CudaGraph {}

impl Drop for CudaGraph {
    fn drop(&mut self) {
        // SAFETY: a graph from `graph_new`, freed once here.
        unsafe { (self.shim.graph_free)(self.graph) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphs_are_for_cuda_devices_and_fail_clearly_without_one() {
        let err = SideStream::enter(Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("CUDA graphs record CUDA work only"), "{err}");
        let recorded = CudaGraph::record(Device::Cpu, None, || Ok::<_, TorchError>(()));
        assert!(recorded.unwrap_err().to_string().contains("not Cpu"));
        if tch::Cuda::is_available() {
            return;
        }
        // Without a GPU the shim still loads (every symbol resolves) and libtorch says why.
        match SideStream::enter(Device::Cuda(0)) {
            Err(TorchError::Shim { operation, message }) => {
                assert_eq!(operation, "side stream");
                assert!(message.contains("no CUDA device 0"), "{message}");
            }
            // A build without the CUDA headers, or a CPU-only libtorch, says so.
            Err(TorchError::Unsupported(m) | TorchError::Cuda(m)) => assert!(!m.is_empty()),
            other => panic!("unexpected: {other:?}"),
        }
    }
}
