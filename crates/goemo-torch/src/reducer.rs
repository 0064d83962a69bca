//! Gradients summed over the ranks while the backward pass still runs (csrc/reducer.cpp), as
//! PyTorch DDP's c10d `Reducer` does: a hook on each parameter's gradient accumulator marks it
//! ready, and each bucket's all-reduce starts as soon as all its parameters are, so that
//! communication overlaps the rest of the backward pass instead of following it.

use std::ffi::c_char;

use tch::Tensor;

use crate::distributed::{ErrorBuffer, Group, ProcessGroup};
use crate::{Result, TorchError};

/// The handle the shim returns (a `goemo::Reducer`).
#[repr(C)]
struct Reducer {
    _private: [u8; 0],
}

extern "C" {
    #[allow(clippy::too_many_arguments)] // The C signature of the shim: one flat call.
    fn goemo_reducer_new(
        group: *mut Group,
        params: *const *const torch_sys::C_tensor,
        views: *const *const torch_sys::C_tensor,
        bucket_of: *const i64,
        n: i64,
        buckets: *const *const torch_sys::C_tensor,
        n_buckets: i64,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut Reducer;
    fn goemo_reducer_arm(reducer: *mut Reducer, error: *mut c_char, error_len: usize) -> i32;
    fn goemo_reducer_finish(reducer: *mut Reducer, launched: *mut i64, error: *mut c_char, error_len: usize) -> i32;
    fn goemo_reducer_free(reducer: *mut Reducer);
}

/// Sums flat gradient buckets over a [`ProcessGroup`] during the backward passes it is armed
/// for. Each parameter's gradient must be a view of its bucket (the layout DDP calls
/// `gradient_as_bucket_view`), so that the backward pass accumulates into the buckets.
///
/// Buckets are launched in their order, the same on every rank: order them as the backward pass
/// completes them (the last layers' parameters first) for the most overlap. A bucket holding a
/// parameter that gets no gradient waits for [`BackwardReducer::finish`], and so do the buckets
/// after it.
pub struct BackwardReducer {
    reducer: *mut Reducer,
    rank: usize,
    world_size: usize,
    buckets: usize,
}

impl std::fmt::Debug for BackwardReducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackwardReducer")
            .field("rank", &self.rank)
            .field("buckets", &self.buckets)
            .finish_non_exhaustive()
    }
}

impl ProcessGroup {
    /// A reducer of `buckets` over this group: `params[i]`'s gradient is `views[i]`, a slice of
    /// `buckets[bucket_of[i]]`. The reducer keeps the group's backend alive on its own.
    pub fn backward_reducer(
        &self,
        params: &[Tensor],
        views: &[Tensor],
        bucket_of: &[usize],
        buckets: &[Tensor],
    ) -> Result<BackwardReducer> {
        if params.len() != views.len() || params.len() != bucket_of.len() {
            return Err(TorchError::Unsupported(format!(
                "a reducer needs one view and one bucket index per parameter: {} parameters, {} views, {} indices",
                params.len(),
                views.len(),
                bucket_of.len()
            )));
        }
        let params_ptr: Vec<_> = params.iter().map(Tensor::as_ptr).collect();
        let views_ptr: Vec<_> = views.iter().map(Tensor::as_ptr).collect();
        let buckets_ptr: Vec<_> = buckets.iter().map(Tensor::as_ptr).collect();
        let bucket_of: Vec<i64> = bucket_of.iter().map(|&b| b as i64).collect();
        let mut error = ErrorBuffer::new();
        // SAFETY: a live group, and arrays of live tensors and indices of the lengths passed,
        // borrowed for the call (the shim keeps its own references to the tensors); the shim
        // catches every C++ exception and returns null with a message, or a reducer this value
        // owns.
        let reducer = unsafe {
            goemo_reducer_new(
                self.raw(),
                params_ptr.as_ptr(),
                views_ptr.as_ptr(),
                bucket_of.as_ptr(),
                params.len() as i64,
                buckets_ptr.as_ptr(),
                buckets.len() as i64,
                error.0.as_mut_ptr(),
                error.0.len(),
            )
        };
        if reducer.is_null() {
            return Err(self.error("setting up the backward reducer", &error));
        }
        Ok(BackwardReducer {
            reducer,
            rank: self.rank(),
            world_size: self.world_size(),
            buckets: buckets.len(),
        })
    }
}

impl BackwardReducer {
    /// The next backward pass's gradients are the ones to sum: its hooks launch the buckets.
    pub fn arm(&self) -> Result<()> {
        let mut error = ErrorBuffer::new();
        // SAFETY: a live reducer this value owns; the shim catches every C++ exception.
        let rc = unsafe { goemo_reducer_arm(self.reducer, error.0.as_mut_ptr(), error.0.len()) };
        self.check(rc, "arming the backward reducer", &error)
    }

    /// After the armed backward pass: launches the buckets not launched yet, waits until every
    /// bucket holds its sum over the ranks, and disarms. Answers how many buckets started while
    /// the backward pass ran. `what` names the data in errors ("gradients, step 12").
    pub fn finish(&self, what: &str) -> Result<usize> {
        let mut error = ErrorBuffer::new();
        let mut launched = 0i64;
        // SAFETY: a live reducer this value owns and a live out-parameter; the shim catches
        // every C++ exception.
        let rc = unsafe { goemo_reducer_finish(self.reducer, &mut launched, error.0.as_mut_ptr(), error.0.len()) };
        self.check(rc, &format!("all-reduce of {what}"), &error)?;
        Ok(launched as usize)
    }

    /// Buckets it reduces.
    pub fn buckets(&self) -> usize {
        self.buckets
    }

    fn check(&self, rc: i32, operation: &str, error: &ErrorBuffer) -> Result<()> {
        if rc == 0 {
            return Ok(());
        }
        Err(TorchError::Distributed {
            operation: operation.to_string(),
            rank: self.rank,
            world_size: self.world_size,
            message: error.message(),
        })
    }
}

impl Drop for BackwardReducer {
    fn drop(&mut self) {
        // SAFETY: made by the shim, owned by this value and freed once; the shim removes its
        // hooks and waits for collectives in flight.
        unsafe { goemo_reducer_free(self.reducer) }
    }
}
