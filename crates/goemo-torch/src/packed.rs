//! Float32 Linear layers for CPU inference through oneDNN (csrc/packed_linear.cpp): the weight
//! packed once into the blocked layout oneDNN's kernels read, the activation applied as a
//! post-op of the product. What PyTorch's inductor emits for a frozen model on the CPU; libtorch's
//! `linear` calls MKL's sgemm on the unpacked weight instead.

use std::cell::OnceCell;
use std::ffi::{c_char, c_int};

use tch::Tensor;

use crate::{cpu_linear_shape, shim_error, shim_tensor, Activation, Result, TorchError};

#[repr(C)]
struct PackedLinearHandle {
    _private: [u8; 0],
}

extern "C" {
    fn goemo_packed_linear_available() -> c_int;
    fn goemo_packed_linear_pack(
        weight: *const torch_sys::C_tensor,
        bias: *const torch_sys::C_tensor,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut PackedLinearHandle;
    fn goemo_packed_linear_forward(
        layer: *mut PackedLinearHandle,
        input: *const torch_sys::C_tensor,
        activation: i32,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut torch_sys::C_tensor;
    fn goemo_packed_linear_free(layer: *mut PackedLinearHandle);
}

/// Whether this libtorch has oneDNN, which [`PackedLinear`] needs.
pub fn packed_linear_available() -> bool {
    // SAFETY: reads a build flag of libtorch.
    unsafe { goemo_packed_linear_available() == 1 }
}

/// A float32 Linear layer whose weight is packed for oneDNN's CPU kernels at its first forward
/// pass, so that a layer replaced before it runs (an encoder quantized after loading) never
/// pays for packing. Inference only: once packed, the copy does not follow later changes to the
/// weight it was made from.
pub struct PackedLinear {
    weight: Tensor,
    bias: Option<Tensor>,
    packed: OnceCell<PackedWeight>,
    in_features: i64,
    out_features: i64,
}

/// The shim's packed weight and bias, freed on drop.
struct PackedWeight(*mut PackedLinearHandle);

// SAFETY: the packed weight and bias are immutable after packing and owned by this value alone;
// moving it to another thread moves that ownership.
unsafe impl Send for PackedWeight {}

impl Drop for PackedWeight {
    fn drop(&mut self) {
        // SAFETY: made by the shim, owned by this value, freed once.
        unsafe { goemo_packed_linear_free(self.0) }
    }
}

impl std::fmt::Debug for PackedLinear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedLinear({} -> {})", self.in_features, self.out_features)
    }
}

impl PackedLinear {
    /// The layer over `weight` (out × in, on the CPU) and `bias` (shared, not copied, until the
    /// first forward pass packs them). Fails with the reason when the weight is not a CPU
    /// matrix, the bias does not match it, or libtorch has no oneDNN.
    pub fn new(weight: &Tensor, bias: Option<&Tensor>) -> Result<Self> {
        let (out_features, in_features) = cpu_linear_shape(weight, "packed float linear")?;
        if let Some(bias) = bias {
            if bias.size() != [out_features] {
                return Err(TorchError::Unsupported(format!(
                    "a Linear bias has shape [{out_features}], this one has {:?}",
                    bias.size()
                )));
            }
        }
        if !packed_linear_available() {
            return Err(TorchError::Unsupported(
                "packed float linear needs a libtorch built with oneDNN (mkldnn)".into(),
            ));
        }
        Ok(PackedLinear {
            weight: weight.shallow_clone(),
            bias: bias.map(Tensor::shallow_clone),
            packed: OnceCell::new(),
            in_features,
            out_features,
        })
    }

    /// Width of the input.
    pub fn in_features(&self) -> i64 {
        self.in_features
    }

    /// Width of the output.
    pub fn out_features(&self) -> i64 {
        self.out_features
    }

    /// Whether the first forward pass has packed the weight.
    pub fn is_packed(&self) -> bool {
        self.packed.get().is_some()
    }

    /// `x Wᵀ + b` over the last dimension of a float32 CPU tensor.
    pub fn forward(&self, input: &Tensor) -> Result<Tensor> {
        self.call(input, -1)
    }

    /// `activation(x Wᵀ + b)`, the activation applied by oneDNN as the product is written.
    pub fn forward_activation(&self, input: &Tensor, activation: Activation) -> Result<Tensor> {
        self.call(input, activation.code())
    }

    /// The packed weight, packed now if this is the first call.
    fn packed(&self) -> Result<*mut PackedLinearHandle> {
        if let Some(packed) = self.packed.get() {
            return Ok(packed.0);
        }
        let mut error = [0 as c_char; 1024];
        let bias = self.bias.as_ref().map_or(std::ptr::null(), Tensor::as_ptr);
        // SAFETY: live tensors (or null for no bias) borrowed for the call; the shim catches
        // every C++ exception and returns null or a layer the PackedWeight below owns.
        let layer = unsafe { goemo_packed_linear_pack(self.weight.as_ptr(), bias, error.as_mut_ptr(), error.len()) };
        if layer.is_null() {
            return Err(shim_error("packing a float linear weight", &error));
        }
        Ok(self.packed.get_or_init(|| PackedWeight(layer)).0)
    }

    fn call(&self, input: &Tensor, activation: i32) -> Result<Tensor> {
        let layer = self.packed()?;
        let mut error = [0 as c_char; 1024];
        // SAFETY: a live packed layer and input borrowed for the call; the shim catches every
        // C++ exception and returns null or a new tensor whose ownership passes to us.
        let output =
            unsafe { goemo_packed_linear_forward(layer, input.as_ptr(), activation, error.as_mut_ptr(), error.len()) };
        shim_tensor(output, "packed float linear", &error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn packed_linear_equals_libtorch_linear_with_each_activation() {
        assert!(packed_linear_available(), "the PyPI libtorch has oneDNN");
        tch::manual_seed(19);
        // 61 × 45: widths off oneDNN's blocks.
        let w = Tensor::randn([61, 45], (Kind::Float, Device::Cpu)) * 0.2;
        let b = Tensor::randn([61], (Kind::Float, Device::Cpu));
        let x = Tensor::randn([3, 7, 45], (Kind::Float, Device::Cpu));
        let layer = PackedLinear::new(&w, Some(&b)).unwrap();
        assert!(!layer.is_packed(), "packing waits for the first forward pass");
        let float = x.linear(&w, Some(&b));
        let worst = |a: &Tensor, b: &Tensor| (a - b).abs().max().double_value(&[]);
        let out = layer.forward(&x).unwrap();
        assert!(layer.is_packed());
        assert_eq!(out.size(), [3, 7, 61]);
        assert!(worst(&out, &float) < 1e-5, "{}", worst(&out, &float));
        for (activation, expected) in [
            (Activation::GeluErf, float.gelu("none")),
            (Activation::GeluTanh, float.gelu("tanh")),
            (Activation::Relu, float.relu()),
        ] {
            let out = layer.forward_activation(&x, activation).unwrap();
            assert!(
                worst(&out, &expected) < 1e-5,
                "{activation:?}: {}",
                worst(&out, &expected)
            );
        }
        let no_bias = PackedLinear::new(&w, None).unwrap().forward(&x).unwrap();
        assert!(worst(&no_bias, &x.linear::<Tensor>(&w, None)) < 1e-5);
        let empty = layer
            .forward(&Tensor::zeros([0, 45], (Kind::Float, Device::Cpu)))
            .unwrap();
        assert_eq!(empty.size(), [0, 61]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let w = Tensor::zeros([4, 3], (Kind::Float, Device::Cpu));
        let layer = PackedLinear::new(&w, None).unwrap();
        let err = layer
            .forward(&Tensor::zeros([2, 5], (Kind::Float, Device::Cpu)))
            .unwrap_err();
        assert!(err.to_string().contains("last dimension of 3"), "{err}");
        let err = layer
            .forward(&Tensor::zeros([2, 3], (Kind::Double, Device::Cpu)))
            .unwrap_err();
        assert!(err.to_string().contains("float32"), "{err}");
        let err = PackedLinear::new(&Tensor::zeros([4], (Kind::Float, Device::Cpu)), None).unwrap_err();
        assert!(err.to_string().contains("2 dimensions"), "{err}");
        let err = PackedLinear::new(&w, Some(&Tensor::zeros([5], (Kind::Float, Device::Cpu)))).unwrap_err();
        assert!(err.to_string().contains("bias"), "{err}");
    }
}
