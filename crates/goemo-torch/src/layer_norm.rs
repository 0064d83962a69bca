//! `x ← LayerNorm(x + residual)` in place for float inference on the CPU (csrc/layer_norm.cpp):
//! one pass per row where libtorch's add and `layer_norm` make two, each with a new tensor.

use std::ffi::c_char;

use tch::{Device, Kind, Tensor};

use crate::{shim_error, LayerNormParams, Result};

extern "C" {
    fn goemo_add_layer_norm_(
        x: *mut torch_sys::C_tensor,
        residual: *const torch_sys::C_tensor,
        gamma: *const torch_sys::C_tensor,
        beta: *const torch_sys::C_tensor,
        eps: f64,
        error: *mut c_char,
        error_len: usize,
    ) -> i32;
}

/// Whether [`add_layer_norm_`] takes `xs`: contiguous float32 on the CPU, nothing to
/// differentiate.
pub fn add_layer_norm_applies(xs: &Tensor) -> bool {
    xs.kind() == Kind::Float && xs.device() == Device::Cpu && xs.is_contiguous() && !xs.requires_grad()
}

/// `xs ← LayerNorm(xs + residual)` over the last dimension, in place; `residual` has `xs`'s
/// shape. An error (and `xs` unchanged) unless [`add_layer_norm_applies`] and the parameters
/// match the last dimension.
pub fn add_layer_norm_(xs: &mut Tensor, residual: &Tensor, norm: LayerNormParams<'_>) -> Result<()> {
    let mut error = [0 as c_char; 1024];
    // SAFETY: live tensors for the call, `xs` borrowed mutably; the shim catches every C++
    // exception and writes only into `xs`'s storage.
    let status = unsafe {
        goemo_add_layer_norm_(
            xs.as_mut_ptr(),
            residual.as_ptr(),
            norm.weight.as_ptr(),
            norm.bias.as_ptr(),
            norm.eps,
            error.as_mut_ptr(),
            error.len(),
        )
    };
    if status != 0 {
        return Err(shim_error("add + layer norm", &error));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_libtorch_add_and_layer_norm() {
        tch::manual_seed(17);
        // 45 features: a masked vector tail; rows of very different scales.
        let x = Tensor::randn([4, 6, 45], (Kind::Float, Device::Cpu)) * 50.0 + 3.0;
        let residual = Tensor::randn([4, 6, 45], (Kind::Float, Device::Cpu));
        let gamma = Tensor::rand([45], (Kind::Float, Device::Cpu)) + 0.5;
        let beta = Tensor::randn([45], (Kind::Float, Device::Cpu));
        let norm = LayerNormParams {
            weight: &gamma,
            bias: &beta,
            eps: 1e-12,
        };
        let expected = (&x + &residual).layer_norm([45], Some(&gamma), Some(&beta), 1e-12, false);
        let mut fused = x.copy();
        add_layer_norm_(&mut fused, &residual, norm).unwrap();
        let worst = (&fused - &expected).abs().max().double_value(&[]);
        assert!(worst < 1e-5, "fused add + layer norm differs by {worst}");
    }

    #[test]
    fn bad_inputs_are_errors_and_leave_the_input() {
        let mut x = Tensor::ones([2, 8], (Kind::Float, Device::Cpu));
        let gamma = Tensor::ones([8], (Kind::Float, Device::Cpu));
        let beta = Tensor::zeros([8], (Kind::Float, Device::Cpu));
        let norm = LayerNormParams {
            weight: &gamma,
            bias: &beta,
            eps: 1e-5,
        };
        let err = add_layer_norm_(&mut x, &Tensor::ones([2, 7], (Kind::Float, Device::Cpu)), norm).unwrap_err();
        assert!(err.to_string().contains("residual"), "{err}");
        let short = gamma.narrow(0, 0, 4);
        let err = add_layer_norm_(
            &mut x,
            &Tensor::ones([2, 8], (Kind::Float, Device::Cpu)),
            LayerNormParams { weight: &short, ..norm },
        )
        .unwrap_err();
        assert!(err.to_string().contains("layer norm parameters"), "{err}");
        assert!(x.equal(&Tensor::ones([2, 8], (Kind::Float, Device::Cpu))));
        let mut double = Tensor::ones([2, 8], (Kind::Double, Device::Cpu));
        let err = add_layer_norm_(&mut double, &Tensor::ones([2, 8], (Kind::Double, Device::Cpu)), norm).unwrap_err();
        assert!(err.to_string().contains("float32"), "{err}");
        assert!(!add_layer_norm_applies(&double));
    }
}
