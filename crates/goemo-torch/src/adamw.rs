//! libtorch's fused AdamW kernel (csrc/fused_adamw.cpp).

use std::ffi::{c_char, c_int};

use tch::Tensor;

use crate::{shim_error, Result, TorchError};

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
    #[allow(clippy::too_many_arguments)] // The C signature of the shim: one flat call.
    fn goemo_fused_adamw_on_device(
        params: *const *const torch_sys::C_tensor,
        grads: *const *const torch_sys::C_tensor,
        exp_avgs: *const *const torch_sys::C_tensor,
        exp_avg_sqs: *const *const torch_sys::C_tensor,
        n: i64,
        lr: *const torch_sys::C_tensor,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
        step: *const torch_sys::C_tensor,
        skip: *const torch_sys::C_tensor,
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

/// AdamW's hyperparameters with the values that change from step to step held on the device,
/// as 0-d float32 tensors beside the parameters: a recorded step (a CUDA graph) then reads the
/// values of each replay, not those of the recording.
#[derive(Debug)]
pub struct AdamWOnDevice<'a> {
    /// This group's learning rate.
    pub lr: &'a Tensor,
    /// The step number of this update, counted from 1.
    pub step: &'a Tensor,
    /// Where nonzero, the update is skipped: parameters and moments stay as they are (a
    /// non-finite loss, say; AMP's `found_inf`).
    pub skip: Option<&'a Tensor>,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the second moment's root.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
}

/// [`fused_adamw`] with the learning rate, step number and skip flag read from the device
/// ([`AdamWOnDevice`]); nothing is read back to the host.
pub fn fused_adamw_on_device(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avgs: &[Tensor],
    exp_avg_sqs: &[Tensor],
    group: &AdamWOnDevice<'_>,
) -> Result<()> {
    let [p, g, m, v] = pointer_lists(params, grads, exp_avgs, exp_avg_sqs)?;
    let skip = group.skip.map_or(std::ptr::null(), Tensor::as_ptr);
    let mut error = [0 as c_char; 1024];
    // SAFETY: four arrays of `n` pointers to live tensors and three live 0-d tensors (or null for
    // `skip`), borrowed for the call; the shim reads `n` entries of each array, catches every C++
    // exception and writes at most `error.len()` bytes, NUL-terminated.
    let status = unsafe {
        goemo_fused_adamw_on_device(
            p.as_ptr(),
            g.as_ptr(),
            m.as_ptr(),
            v.as_ptr(),
            params.len() as i64,
            group.lr.as_ptr(),
            group.beta1,
            group.beta2,
            group.weight_decay,
            group.eps,
            group.step.as_ptr(),
            skip,
            error.as_mut_ptr(),
            error.len(),
        )
    };
    shim_status(status, &error)
}

/// The four lists as arrays of tensor pointers for the shim, after checking their lengths match.
fn pointer_lists(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avgs: &[Tensor],
    exp_avg_sqs: &[Tensor],
) -> Result<[Vec<*const torch_sys::C_tensor>; 4]> {
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
    Ok([
        pointers(params),
        pointers(grads),
        pointers(exp_avgs),
        pointers(exp_avg_sqs),
    ])
}

fn shim_status(status: c_int, error: &[c_char]) -> Result<()> {
    if status == 0 {
        return Ok(());
    }
    Err(shim_error("fused AdamW", error))
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
    let [p, g, m, v] = pointer_lists(params, grads, exp_avgs, exp_avg_sqs)?;
    let n = params.len();
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
    shim_status(status, &error)
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

    #[test]
    fn the_schedule_on_the_device_equals_the_host_one_and_skips_on_request() {
        let start = [1.0f32, -2.0, 0.5];
        let grads = [[0.3f32, -0.1, 2.0], [-0.2, 0.4, 1.0], [0.05, 0.05, -3.0]];
        let host = Tensor::from_slice(&start);
        let device = Tensor::from_slice(&start);
        let (hm, hv, dm, dv) = (
            host.zeros_like(),
            host.zeros_like(),
            host.zeros_like(),
            host.zeros_like(),
        );
        let lr = Tensor::from(0.0f32);
        let step = Tensor::from(0.0f32);
        let skip = Tensor::from(0.0f32);
        for (k, g) in grads.iter().enumerate() {
            let g = Tensor::from_slice(g);
            let host_group = AdamWGroup {
                step: k as u64 + 1,
                lr: 0.1 / (k as f64 + 1.0),
                ..group(0.01)
            };
            let _ = lr.shallow_clone().fill_(host_group.lr);
            let _ = step.shallow_clone().fill_(host_group.step as f64);
            fused_adamw(
                &[host.shallow_clone()],
                &[g.shallow_clone()],
                &[hm.shallow_clone()],
                &[hv.shallow_clone()],
                host_group,
            )
            .unwrap();
            let on_device = AdamWOnDevice {
                lr: &lr,
                step: &step,
                skip: Some(&skip),
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
            };
            fused_adamw_on_device(
                &[device.shallow_clone()],
                &[g],
                &[dm.shallow_clone()],
                &[dv.shallow_clone()],
                &on_device,
            )
            .unwrap();
        }
        // The learning rate is a float32 on the device: equal to float32 precision.
        assert!(host.allclose(&device, 1e-6, 1e-7, false), "{host} vs {device}");
        // A nonzero skip flag leaves parameters and moments alone.
        let _ = skip.shallow_clone().fill_(1.0);
        let before = (device.copy(), dm.copy(), dv.copy());
        let on_device = AdamWOnDevice {
            lr: &lr,
            step: &step,
            skip: Some(&skip),
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        };
        let g = Tensor::from_slice(&[f32::NAN, 1.0, 1.0]);
        fused_adamw_on_device(
            &[device.shallow_clone()],
            &[g],
            &[dm.shallow_clone()],
            &[dv.shallow_clone()],
            &on_device,
        )
        .unwrap();
        assert!(device.equal(&before.0) && dm.equal(&before.1) && dv.equal(&before.2));
    }
}
