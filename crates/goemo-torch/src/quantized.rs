//! int8 Linear layers for CPU inference (csrc/quantized_linear.cpp): weights symmetric int8 per
//! output channel, each input row (token) quantized with its own scale, products in int8 through
//! libtorch's `_int_mm` (oneDNN's VNNI kernels on x86). A row's output depends on that row
//! alone, never on the rows batched with it, unlike per-batch dynamic quantization.

use std::ffi::c_char;

use tch::{Device, Tensor};

use crate::{shim_error, Result, TorchError};

#[repr(C)]
struct RowwiseInt8Linear {
    _private: [u8; 0],
}

extern "C" {
    fn goemo_int8_linear_pack(
        weight: *const torch_sys::C_tensor,
        bias: *const torch_sys::C_tensor,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut RowwiseInt8Linear;
    fn goemo_int8_linear_forward(
        layer: *mut RowwiseInt8Linear,
        input: *const torch_sys::C_tensor,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut torch_sys::C_tensor;
    fn goemo_int8_linear_free(layer: *mut RowwiseInt8Linear);
}

/// A Linear layer with its weight in int8 (symmetric, one scale per output channel); each row of
/// its input is quantized to int8 with the row's own scale. CPU only.
pub struct Int8Linear {
    layer: *mut RowwiseInt8Linear,
    in_features: i64,
    out_features: i64,
}

// SAFETY: the quantized weight, scales and bias are immutable after packing, and `forward` only
// reads them (libtorch's `_int_mm` reads its operands), from any thread.
unsafe impl Send for Int8Linear {}
// SAFETY: as above; `forward` takes `&self` and writes only its new output.
unsafe impl Sync for Int8Linear {}

impl std::fmt::Debug for Int8Linear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Int8Linear({} -> {})", self.in_features, self.out_features)
    }
}

impl Int8Linear {
    /// Quantizes `weight` (out × in, on the CPU) and keeps `bias` in float32. Fails with the
    /// reason when the weight is not a CPU matrix or the bias does not match it.
    pub fn new(weight: &Tensor, bias: Option<&Tensor>) -> Result<Self> {
        if weight.device() != Device::Cpu {
            return Err(TorchError::Unsupported(format!(
                "int8 quantization runs on the CPU; this weight is on {:?}",
                weight.device()
            )));
        }
        let &[out_features, in_features] = weight.size().as_slice() else {
            return Err(TorchError::Unsupported(format!(
                "a Linear weight has 2 dimensions (out, in); this one has shape {:?}",
                weight.size()
            )));
        };
        let mut error = [0 as c_char; 1024];
        let bias_ptr = bias.map_or(std::ptr::null(), tch::Tensor::as_ptr);
        // SAFETY: live tensors (or null for no bias) borrowed for the call; the shim catches
        // every C++ exception and returns null or a layer this value owns.
        let layer = unsafe { goemo_int8_linear_pack(weight.as_ptr(), bias_ptr, error.as_mut_ptr(), error.len()) };
        if layer.is_null() {
            return Err(shim_error("int8 weight quantization", &error));
        }
        Ok(Int8Linear {
            layer,
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

    /// `x Wᵀ + b` over the last dimension of a float32 CPU tensor.
    pub fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let mut error = [0 as c_char; 1024];
        // SAFETY: a live layer and input tensor; the shim catches every C++ exception
        // and returns null or a new tensor whose ownership passes to us.
        let output = unsafe { goemo_int8_linear_forward(self.layer, input.as_ptr(), error.as_mut_ptr(), error.len()) };
        if output.is_null() {
            return Err(shim_error("int8 linear", &error));
        }
        // SAFETY: a tensor the shim allocated with `new` for us; tch frees it on drop.
        Ok(unsafe { Tensor::from_ptr(output) })
    }
}

impl Drop for Int8Linear {
    fn drop(&mut self) {
        // SAFETY: made by the shim, owned by this value, freed once.
        unsafe { goemo_int8_linear_free(self.layer) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn worst_relative(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[]) / b.abs().max().double_value(&[])
    }

    #[test]
    fn int8_linear_is_close_to_float() {
        tch::manual_seed(3);
        // Widths that are not multiples of the vector width exercise the scalar tails too.
        let w = Tensor::randn([61, 45], (Kind::Float, Device::Cpu)) * 0.1;
        let b = Tensor::randn([61], (Kind::Float, Device::Cpu));
        let x = Tensor::randn([5, 7, 45], (Kind::Float, Device::Cpu));
        let float = x.matmul(&w.tr()) + &b;
        let layer = Int8Linear::new(&w, Some(&b)).unwrap();
        let int8 = layer.forward(&x).unwrap();
        assert_eq!(int8.size(), [5, 7, 61]);
        // 8-bit weights per channel and 8-bit activations per row: under 1 % of the output's
        // scale (measured 0.54 %).
        let worst = worst_relative(&int8, &float);
        assert!(worst < 0.01, "int8 differs by {worst} of the output's scale");
        assert!(worst > 0.0, "the int8 path must not be the float one");
        let no_bias = Int8Linear::new(&w, None).unwrap().forward(&x).unwrap();
        let worst = worst_relative(&no_bias, &x.matmul(&w.tr()));
        assert!(worst < 0.01, "{worst}");
    }

    #[test]
    fn a_row_does_not_depend_on_its_batch() {
        tch::manual_seed(5);
        let w = Tensor::randn([96, 64], (Kind::Float, Device::Cpu));
        let layer = Int8Linear::new(&w, Some(&Tensor::randn([96], (Kind::Float, Device::Cpu)))).unwrap();
        let row = Tensor::randn([1, 64], (Kind::Float, Device::Cpu));
        // Beside rows a thousand times larger, which would take a shared range for themselves.
        let loud = Tensor::randn([40, 64], (Kind::Float, Device::Cpu)) * 1000.0;
        let alone = layer.forward(&row).unwrap();
        let batched = layer.forward(&Tensor::cat(&[&loud, &row], 0)).unwrap().narrow(0, 40, 1);
        assert!(alone.equal(&batched), "a row's output moved with its batch");
        // A row of zeros gives the bias, not NaN.
        let zeros = layer
            .forward(&Tensor::zeros([3, 64], (Kind::Float, Device::Cpu)))
            .unwrap();
        assert!(zeros.isfinite().all().int64_value(&[]) == 1);
        assert_eq!(
            layer
                .forward(&Tensor::zeros([0, 64], (Kind::Float, Device::Cpu)))
                .unwrap()
                .size(),
            [0, 96]
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let w = Tensor::zeros([4, 3], (Kind::Float, Device::Cpu));
        let layer = Int8Linear::new(&w, None).unwrap();
        let err = layer
            .forward(&Tensor::zeros([2, 5], (Kind::Float, Device::Cpu)))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("int8 linear") && err.contains("last dimension of 3"),
            "{err}"
        );
        let err = Int8Linear::new(&Tensor::zeros([4], (Kind::Float, Device::Cpu)), None).unwrap_err();
        assert!(err.to_string().contains("2 dimensions"), "{err}");
        let err = Int8Linear::new(&w, Some(&Tensor::zeros([5], (Kind::Float, Device::Cpu)))).unwrap_err();
        assert!(err.to_string().contains("bias"), "{err}");
    }
}
