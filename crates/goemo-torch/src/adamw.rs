//! libtorch's fused AdamW kernel (csrc/fused_adamw.cpp).

use std::ffi::{c_char, c_int, CStr};

use tch::Tensor;

use crate::{Result, TorchError};

extern "C" {
    #[allow(clippy::too_many_arguments)] // The C signature of the shim: one flat call.
    fn goemo_fused_adamw(
        params: *const *const torch_sys::C_tensor,
        grads: *const *const torch_sys::C_tensor,
        exp_avgs: *const *const torch_sys::C_tensor,
        exp_avg_sqs: *const *const torch_sys::C_tensor,
        n: i64,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
        step: f64,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
}

/// The hyperparameters of one AdamW parameter group at one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWGroup {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the second moment's root.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// The step number of this update, counted from 1 (bias corrections).
    pub step: u64,
}

/// One call of libtorch's `_fused_adamw_` over matching lists of parameters, gradients and
/// moments (all on one device, one dtype), updated in place: one pass over each, and on CUDA
/// one launch for all.
pub fn fused_adamw(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avgs: &[Tensor],
    exp_avg_sqs: &[Tensor],
    group: AdamWGroup,
) -> Result<()> {
    let n = params.len();
    if grads.len() != n || exp_avgs.len() != n || exp_avg_sqs.len() != n {
        return Err(TorchError::Unsupported(format!(
            "fused AdamW needs as many gradients and moments as parameters: {n} parameters, {} gradients, {} + {} moments",
            grads.len(),
            exp_avgs.len(),
            exp_avg_sqs.len()
        )));
    }
    let pointers = |tensors: &[Tensor]| tensors.iter().map(Tensor::as_ptr).collect::<Vec<_>>();
    let (p, g, m, v) = (
        pointers(params),
        pointers(grads),
        pointers(exp_avgs),
        pointers(exp_avg_sqs),
    );
    let mut error = [0 as c_char; 1024];
    // SAFETY: four arrays of `n` pointers to live tensors, borrowed for the call; the shim reads
    // `n` entries of each, catches every C++ exception and writes at most `error.len()` bytes,
    // NUL-terminated.
    let status = unsafe {
        goemo_fused_adamw(
            p.as_ptr(),
            g.as_ptr(),
            m.as_ptr(),
            v.as_ptr(),
            n as i64,
            group.lr,
            group.beta1,
            group.beta2,
            group.weight_decay,
            group.eps,
            group.step as f64,
            error.as_mut_ptr(),
            error.len(),
        )
    };
    if status != 0 {
        // SAFETY: the shim NUL-terminated the message inside the buffer.
        let message = unsafe { CStr::from_ptr(error.as_ptr()) };
        return Err(TorchError::Shim {
            operation: "fused AdamW",
            message: message.to_string_lossy().into_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn group(weight_decay: f64) -> AdamWGroup {
        AdamWGroup {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            step: 1,
        }
    }

    #[test]
    fn libtorch_errors_in_the_fused_kernel_come_back_as_errors() {
        // The fused kernel has no integer version: libtorch throws inside the shim.
        let t = || Tensor::zeros([3], (Kind::Int64, Device::Cpu));
        let err = fused_adamw(&[t()], &[t()], &[t()], &[t()], group(0.01))
            .unwrap_err()
            .to_string();
        assert!(err.contains("fused AdamW") && err.contains("Long"), "{err}");
        // An empty group (every parameter without a gradient) changes nothing.
        fused_adamw(&[], &[], &[], &[], group(0.01)).unwrap();
        // Lists of different lengths never reach the shim.
        assert!(fused_adamw(&[t()], &[], &[], &[], group(0.01)).is_err());
    }

    #[test]
    fn one_fused_step_is_adamw() {
        // First step from zero moments: after bias correction m̂ = g and v̂ = g², so the update
        // is lr · g / (|g| + ε) ≈ lr · sign(g); decay first scales p by 1 - lr · wd.
        let p = Tensor::from_slice(&[1.0f64, -2.0, 0.5]);
        let g = Tensor::from_slice(&[0.3f64, -0.1, 2.0]);
        let (m, v) = (p.zeros_like(), p.zeros_like());
        fused_adamw(&[p.shallow_clone()], &[g], &[m], &[v], group(0.01)).unwrap();
        let want = [
            1.0 * (1.0 - 0.001) - 0.1,
            -2.0 * (1.0 - 0.001) + 0.1,
            0.5 * (1.0 - 0.001) - 0.1,
        ];
        for (got, want) in Vec::<f64>::try_from(&p).unwrap().iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }
}
