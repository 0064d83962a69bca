//! Gradients beyond tch (csrc/gradients.cpp): clipping through libtorch's `_foreach_` kernels,
//! and setting the tensor a parameter's gradient lives in.

use std::ffi::c_char;

use tch::Tensor;

use crate::{shim_error, Result};

extern "C" {
    fn goemo_clip_grad_norm(
        grads: *const *const torch_sys::C_tensor,
        n: i64,
        max_norm: f64,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut torch_sys::C_tensor;
    fn goemo_set_grad(
        param: *const torch_sys::C_tensor,
        grad: *const torch_sys::C_tensor,
        error: *mut c_char,
        error_len: usize,
    ) -> std::ffi::c_int;
}

/// Makes `grad` (same shape, dtype and device) the gradient of `param`; later backward passes
/// accumulate into it in place, and zeroing it keeps it (DDP's `gradient_as_bucket_view`).
pub fn set_grad(param: &Tensor, grad: &Tensor) -> Result<()> {
    let mut error = [0 as c_char; 1024];
    // SAFETY: two live tensors borrowed for the call; the shim catches every C++ exception and
    // writes at most `error.len()` bytes, NUL-terminated.
    let status = unsafe { goemo_set_grad(param.as_ptr(), grad.as_ptr(), error.as_mut_ptr(), error.len()) };
    if status != 0 {
        return Err(shim_error("set_grad", &error));
    }
    Ok(())
}

/// `torch.nn.utils.clip_grad_norm_(foreach=True)` over `grads` (one device, one dtype): scales
/// them in place so that their global L2 norm is at most `max_norm` (coefficient
/// `max_norm / (norm + 1e-6)` clamped at 1) and returns the norm before clipping, a 0-d tensor
/// on their device. Nothing waits for the device: one `_foreach_norm`, one norm, one
/// `_foreach_mul_`.
pub fn clip_grad_norm(grads: &[Tensor], max_norm: f64) -> Result<Tensor> {
    if grads.is_empty() {
        return Ok(Tensor::from(0.0f32));
    }
    let pointers: Vec<_> = grads.iter().map(Tensor::as_ptr).collect();
    let mut error = [0 as c_char; 1024];
    // SAFETY: `n` pointers to live tensors borrowed for the call; the shim catches every C++
    // exception, writes at most `error.len()` bytes NUL-terminated, and returns null or a new
    // `at::Tensor` whose ownership passes to us.
    let total = unsafe {
        goemo_clip_grad_norm(
            pointers.as_ptr(),
            pointers.len() as i64,
            max_norm,
            error.as_mut_ptr(),
            error.len(),
        )
    };
    if total.is_null() {
        return Err(shim_error("gradient clipping", &error));
    }
    // SAFETY: a tensor the shim allocated with `new` for us; tch frees it on drop.
    Ok(unsafe { Tensor::from_ptr(total) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn clips_to_the_global_norm_and_returns_it() {
        let a = Tensor::from_slice(&[3.0f32, 0.0]);
        let b = Tensor::from_slice(&[4.0f32]);
        let total = clip_grad_norm(&[a.shallow_clone(), b.shallow_clone()], 1.0).unwrap();
        assert!((total.double_value(&[]) - 5.0).abs() < 1e-6);
        let scale = 1.0 / (5.0 + 1e-6);
        assert!((a.double_value(&[0]) - 3.0 * scale).abs() < 1e-6);
        assert!((b.double_value(&[0]) - 4.0 * scale).abs() < 1e-6);
        // Under the limit nothing changes.
        let c = Tensor::from_slice(&[0.3f32, 0.4]);
        let _norm = clip_grad_norm(&[c.shallow_clone()], 1.0).unwrap();
        assert_eq!(Vec::<f32>::try_from(&c).unwrap(), [0.3, 0.4]);
    }

    #[test]
    fn a_set_gradient_is_where_backward_accumulates() {
        let p = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
        let flat = Tensor::zeros([5], (Kind::Float, Device::Cpu));
        let view = flat.narrow(0, 2, 2);
        set_grad(&p, &view).unwrap();
        (&p * 3.0).sum(Kind::Float).backward();
        (&p * 1.0).sum(Kind::Float).backward();
        assert_eq!(Vec::<f32>::try_from(&flat).unwrap(), [0.0, 0.0, 4.0, 4.0, 0.0]);
        let _ = p.grad().zero_();
        assert_eq!(Vec::<f32>::try_from(&flat).unwrap(), [0.0; 5]);
        let err = set_grad(&p, &flat).unwrap_err().to_string();
        assert!(err.contains("shape"), "{err}");
    }

    #[test]
    fn libtorch_errors_come_back_as_errors() {
        // Integer tensors have no norm: libtorch throws inside the shim.
        let t = Tensor::zeros([3], (Kind::Int64, Device::Cpu));
        let err = clip_grad_norm(&[t], 1.0).unwrap_err().to_string();
        assert!(err.contains("gradient clipping"), "{err}");
        assert!(!err.contains("frame #"), "{err}");
    }
}
