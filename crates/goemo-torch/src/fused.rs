//! The parameters goemo-torch's fused CPU inference kernels share (csrc/row_kernels.hpp).

use std::ffi::c_char;

use tch::Tensor;

use crate::{shim_tensor, Result};

extern "C" {
    fn goemo_activate(
        activation: i32,
        input: *const torch_sys::C_tensor,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut torch_sys::C_tensor;
}

/// A LayerNorm over the last dimension: float32 weight and bias, and epsilon.
#[derive(Debug, Clone, Copy)]
pub struct LayerNormParams<'a> {
    /// γ, one per feature.
    pub weight: &'a Tensor,
    /// β, one per feature.
    pub bias: &'a Tensor,
    /// Added to the variance.
    pub eps: f64,
}

/// The activation between a feed-forward block's two layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU, `x/2 · (1 + erf(x/√2))`.
    GeluErf,
    /// GELU's tanh approximation.
    GeluTanh,
    /// `max(x, 0)`.
    Relu,
}

impl Activation {
    /// The code csrc/row_kernels.hpp's `Activation` gives it.
    pub(crate) fn code(self) -> i32 {
        match self {
            Activation::GeluErf => 0,
            Activation::GeluTanh => 1,
            Activation::Relu => 2,
        }
    }

    /// The activation of every element of a CPU tensor, as a new float32 tensor, computed as
    /// [`crate::Int8FeedForward`] computes it: with AVX-512, GELU's erf is a rational
    /// approximation within 2.4e-7 · max(1, |x|) of the exact GELU (the tanh form, through e^x,
    /// within the same bound of its exact value); without it, libm's erf and tanh.
    pub fn apply(self, input: &Tensor) -> Result<Tensor> {
        let mut error = [0 as c_char; 1024];
        // SAFETY: a live tensor borrowed for the call; the shim catches every C++ exception and
        // returns null or a new tensor.
        let result = unsafe { goemo_activate(self.code(), input.as_ptr(), error.as_mut_ptr(), error.len()) };
        shim_tensor(result, "activation", &error)
    }
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind};

    use super::*;

    #[test]
    fn activations_are_within_their_stated_error() {
        // Every 1e-4 over ±12 (erf is ±1 to float precision past ±4√2), and the tails.
        let x = Tensor::arange_start_step(-120_000, 120_001, 1, (Kind::Float, Device::Cpu)) * 1e-4;
        let x = Tensor::cat(&[x, Tensor::from_slice(&[-1e4f32, -60.0, 0.0, 60.0, 1e4])], 0);
        let exact = x.to_kind(Kind::Double);
        let bound = exact.abs().clamp_min(1.0) * 2.4e-7;
        for (activation, reference) in [
            (Activation::GeluErf, exact.gelu("none")),
            (Activation::GeluTanh, exact.gelu("tanh")),
            (Activation::Relu, exact.relu()),
        ] {
            let applied = activation.apply(&x).unwrap();
            assert_eq!(applied.kind(), Kind::Float);
            let excess = (applied.to_kind(Kind::Double) - &reference).abs() - &bound;
            let worst = excess.max().double_value(&[]);
            assert!(worst <= 0.0, "{activation:?} exceeds its bound by {worst}");
        }
    }
}
