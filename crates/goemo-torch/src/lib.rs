//! goemo's one libtorch boundary: everything tch does not wrap goes through the C++ shims in
//! `csrc/` (compiled by this crate's build script) and the `extern "C"` declarations in this
//! crate, each call with its `SAFETY` argument. Other goemo crates use tch and this crate's safe
//! functions only.
//!
//! - [`AutocastGuard`]: libtorch's autocast switched on for one device type with a chosen dtype
//!   (tch only toggles CUDA autocast at float16);
//! - [`fused_adamw`]: libtorch's `_fused_adamw_`, what `torch.optim.AdamW(fused=True)` runs, and
//!   [`fused_adamw_on_device`], the same with its schedule in device tensors;
//! - [`CudaGraph`]: CUDA work recorded once and replayed with one launch, on a [`SideStream`];
//! - [`clip_grad_norm`]: `clip_grad_norm_(foreach=True)`, with no wait for the device, and
//!   [`set_grad`]: a parameter's gradient placed in a given tensor;
//! - [`load_cuda`]: libtorch_cuda loaded on demand, so that CPU runs do not map it;
//! - [`short_attention`]: attention over short sequences for CPU inference, one AVX-512 task
//!   per text and head, in the projections' own layout;
//! - [`map_safetensors`]: a checkpoint's tensors over a private mapping of the file, shared
//!   through the page cache by every model copy that maps it;
//! - [`keep_freed_memory`]: glibc's malloc tuned to reuse freed activations, not fault in fresh
//!   pages;
//! - [`Int8Linear`]: int8 Linear layers with one activation scale per row (`_int_mm`, oneDNN's
//!   VNNI kernels), so that a text's scores do not depend on its batch, and the int8 attention
//!   and feed-forward blocks built on them ([`int8_attention_block`], [`Int8FeedForward`]);
//! - [`ProcessGroup`]: c10d's Gloo and NCCL process groups with a TCPStore rendezvous, and the
//!   collectives data-parallel training uses (all-reduce, broadcast, barrier).
//!
//! ```
//! use goemo_torch::AutocastGuard;
//! use tch::{Device, Kind, Tensor};
//!
//! let a = Tensor::ones([2, 2], (Kind::Float, Device::Cpu));
//! let product = {
//!     let _bf16 = AutocastGuard::enter(Device::Cpu, Kind::BFloat16)?;
//!     a.matmul(&a)
//! };
//! assert_eq!(product.kind(), Kind::BFloat16);
//! # Ok::<(), goemo_torch::TorchError>(())
//! ```

mod adamw;
mod allocator;
mod attention;
mod autocast;
mod cuda;
mod cuda_graph;
mod distributed;
mod fused;
mod gradients;
mod layer_norm;
mod mapped;
mod packed;
mod quantized;
mod reducer;

pub use adamw::{fused_adamw, fused_adamw_on_device, AdamWGroup, AdamWOnDevice};
pub use allocator::keep_freed_memory;
pub use attention::{short_attention, short_attention_applies, short_attention_fits};
pub use autocast::AutocastGuard;
#[cfg(target_os = "linux")]
pub use cuda::libtorch_dir;
pub use cuda::load_cuda;
pub use cuda_graph::{CudaGraph, GraphPool, SideStream};
pub use distributed::{Backend, ProcessGroup, ReduceOp, Rendezvous};
pub use fused::{Activation, LayerNormParams};
pub use gradients::{clip_grad_norm, set_grad};
pub use layer_norm::{add_layer_norm_, add_layer_norm_applies};
pub use mapped::map_safetensors;
pub use packed::{packed_linear_available, PackedLinear};
pub use quantized::{int8_attention_block, Int8FeedForward, Int8Linear};
pub use reducer::BackwardReducer;

/// The version of the libtorch goemo was built against, read from its headers.
pub const LIBTORCH_VERSION: &str = env!("GOEMO_LIBTORCH_VERSION");

/// The error of a shim call that failed: `operation`, with the message the shim wrote into
/// `error` (NUL-terminated, or filling the buffer).
pub(crate) fn shim_error(operation: &'static str, error: &[std::ffi::c_char]) -> TorchError {
    // c_char is i8 or u8 by platform; either way each is one byte of the message.
    let bytes: Vec<u8> = error.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    TorchError::Shim {
        operation,
        message: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Takes ownership of the tensor a shim returned, or turns its null into the shim's message.
pub(crate) fn shim_tensor(
    output: *mut torch_sys::C_tensor,
    operation: &'static str,
    error: &[std::ffi::c_char],
) -> Result<tch::Tensor> {
    if output.is_null() {
        return Err(shim_error(operation, error));
    }
    // SAFETY: a tensor the shim allocated with `new` for the caller; tch frees it on drop.
    Ok(unsafe { tch::Tensor::from_ptr(output) })
}

/// `(out, in)` of a Linear weight that a CPU inference layer (`what`) can take: a matrix on the
/// CPU.
pub(crate) fn cpu_linear_shape(weight: &tch::Tensor, what: &str) -> Result<(i64, i64)> {
    if weight.device() != tch::Device::Cpu {
        return Err(TorchError::Unsupported(format!(
            "{what} runs on the CPU; this weight is on {:?}",
            weight.device()
        )));
    }
    match weight.size().as_slice() {
        &[out_features, in_features] => Ok((out_features, in_features)),
        other => Err(TorchError::Unsupported(format!(
            "a Linear weight has 2 dimensions (out, in); this one has shape {other:?}"
        ))),
    }
}

/// Errors at the libtorch boundary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TorchError {
    /// libtorch failed in a call through tch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// libtorch threw inside a shim; the message is its own.
    #[error("libtorch ({operation}): {message}")]
    Shim {
        /// The shim's operation.
        operation: &'static str,
        /// libtorch's message.
        message: String,
    },
    /// An operation this build or device does not offer.
    #[error("{0}")]
    Unsupported(String),
    /// A collective or the rendezvous failed (a peer gone, a timeout, the store unreachable).
    #[error("rank {rank} of {world_size}: {operation} failed: {message}")]
    Distributed {
        /// The collective or rendezvous step.
        operation: String,
        /// This process's rank.
        rank: usize,
        /// Processes in the group.
        world_size: usize,
        /// What failed.
        message: String,
    },
    /// A file could not be read as the operation needs.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// libtorch's CUDA library could not be loaded.
    #[error(
        "cannot load libtorch's CUDA library, so this libtorch is CPU-only or its CUDA libraries are missing ({0})"
    )]
    Cuda(String),
}

/// Result alias of this crate.
pub type Result<T, E = TorchError> = std::result::Result<T, E>;
