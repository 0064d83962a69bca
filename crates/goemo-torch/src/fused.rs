//! The parameters goemo-torch's fused CPU inference kernels share (csrc/row_kernels.hpp).

use tch::Tensor;

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
}
