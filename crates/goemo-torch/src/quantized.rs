//! int8 dynamic quantization of Linear layers through libtorch's fbgemm kernels
//! (csrc/quantized_linear.cpp), as `torch.ao.quantization.quantize_dynamic` with per-channel
//! weights makes them.

use std::ffi::{c_char, c_int, CStr};

use tch::{Device, Tensor};

use crate::{Result, TorchError};

#[repr(C)]
struct PackedLinear {
    _private: [u8; 0],
}

extern "C" {
    fn goemo_quantized_engines(names: *mut c_char, names_len: usize, error: *mut c_char, error_len: usize) -> c_int;
    fn goemo_set_quantized_engine(name: *const c_char, error: *mut c_char, error_len: usize) -> c_int;
    fn goemo_int8_linear_pack(
        weight: *const torch_sys::C_tensor,
        bias: *const torch_sys::C_tensor,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut PackedLinear;
    fn goemo_int8_linear_forward(
        layer: *mut PackedLinear,
        input: *const torch_sys::C_tensor,
        error: *mut c_char,
        error_len: usize,
    ) -> *mut torch_sys::C_tensor;
    fn goemo_int8_linear_free(layer: *mut PackedLinear);
}

fn shim_error(operation: &'static str, error: &[c_char]) -> TorchError {
    // SAFETY: the shims NUL-terminate their messages inside the buffer (zero-initialised).
    let message = unsafe { CStr::from_ptr(error.as_ptr()) };
    TorchError::Shim {
        operation,
        message: message.to_string_lossy().into_owned(),
    }
}

/// A Linear layer with its weight in int8 (symmetric, one scale per output channel) packed for
/// fbgemm; its input is quantized to uint8 per call with the batch's own range. CPU only.
pub struct Int8Linear {
    layer: *mut PackedLinear,
    in_features: i64,
    out_features: i64,
}

// SAFETY: the packed weight is immutable after packing, and libtorch's dynamic quantized linear
// only reads it, from any thread (PyTorch calls it from many threads at once).
unsafe impl Send for Int8Linear {}
// SAFETY: as above; `forward` takes `&self` and writes only its new output.
unsafe impl Sync for Int8Linear {}

impl std::fmt::Debug for Int8Linear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Int8Linear({} -> {})", self.in_features, self.out_features)
    }
}

impl Int8Linear {
    /// Quantizes and packs `weight` (out × in, on the CPU) and keeps `bias` in float32.
    /// Fails with the reason when this libtorch has no fbgemm engine or the weight is not a
    /// CPU matrix.
    pub fn new(weight: &Tensor, bias: Option<&Tensor>) -> Result<Self> {
        select_int8_engine()?;
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
        // every C++ exception and returns null or a packed layer this value owns.
        let layer = unsafe { goemo_int8_linear_pack(weight.as_ptr(), bias_ptr, error.as_mut_ptr(), error.len()) };
        if layer.is_null() {
            return Err(shim_error("int8 weight packing", &error));
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
        // SAFETY: a live packed layer and input tensor; the shim catches every C++ exception
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

/// Makes libtorch use a quantized engine with fbgemm kernels; an error naming the engines it
/// has when there is none.
pub fn select_int8_engine() -> Result<()> {
    let mut names = [0 as c_char; 256];
    let mut error = [0 as c_char; 1024];
    // SAFETY: two buffers borrowed for the call; the shim catches every C++ exception and writes
    // NUL-terminated text within each buffer's length.
    if unsafe { goemo_quantized_engines(names.as_mut_ptr(), names.len(), error.as_mut_ptr(), error.len()) } != 0 {
        return Err(shim_error("quantized engines", &error));
    }
    // SAFETY: NUL-terminated by the shim inside the zero-initialised buffer.
    let list = unsafe { CStr::from_ptr(names.as_ptr()) }.to_string_lossy().into_owned();
    let engines: Vec<&str> = list.split(',').filter(|e| !e.is_empty()).collect();
    let chosen = int8_engine(&engines)?;
    let name = std::ffi::CString::new(chosen).expect("engine names hold no NUL");
    // SAFETY: a NUL-terminated name and a buffer borrowed for the call.
    if unsafe { goemo_set_quantized_engine(name.as_ptr(), error.as_mut_ptr(), error.len()) } != 0 {
        return Err(shim_error("quantized engine", &error));
    }
    Ok(())
}

/// The engine with fbgemm's int8 kernels among `engines` (libtorch's names): X86 (fbgemm with
/// x86-specific choices), else FBGEMM.
pub fn int8_engine<'a>(engines: &[&'a str]) -> Result<&'a str> {
    ["X86", "FBGEMM"]
        .into_iter()
        .find_map(|want| engines.iter().copied().find(|e| e.eq_ignore_ascii_case(want)))
        .ok_or_else(|| {
            TorchError::Unsupported(format!(
                "int8 inference needs libtorch's fbgemm kernels (x86 with AVX2); this libtorch has {}",
                if engines.is_empty() {
                    "no quantized engine".to_string()
                } else {
                    format!("only the quantized engines {}", engines.join(", "))
                }
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    #[test]
    fn int8_linear_is_close_to_float() {
        tch::manual_seed(3);
        let w = Tensor::randn([64, 48], (Kind::Float, Device::Cpu)) * 0.1;
        let b = Tensor::randn([64], (Kind::Float, Device::Cpu));
        let x = Tensor::randn([5, 7, 48], (Kind::Float, Device::Cpu));
        let float = x.matmul(&w.tr()) + &b;
        let layer = Int8Linear::new(&w, Some(&b)).unwrap();
        let int8 = layer.forward(&x).unwrap();
        assert_eq!(int8.size(), [5, 7, 64]);
        // Relative to the output's scale: 8-bit weights and 7-bit activations.
        let worst = (&int8 - &float).abs().max().double_value(&[]);
        let scale = float.abs().max().double_value(&[]);
        assert!(worst / scale < 0.03, "int8 differs by {worst} on outputs up to {scale}");
        assert!(worst > 0.0, "the int8 path must not be the float one");
        let no_bias = Int8Linear::new(&w, None).unwrap().forward(&x).unwrap();
        let d = (&no_bias - x.matmul(&w.tr())).abs().max().double_value(&[]);
        assert!(d / scale < 0.03, "{d}");
    }

    #[test]
    fn int8_needs_an_fbgemm_engine() {
        assert_eq!(int8_engine(&["NoQEngine", "QNNPACK", "X86", "FBGEMM"]).unwrap(), "X86");
        assert_eq!(int8_engine(&["FBGEMM"]).unwrap(), "FBGEMM");
        // An ARM build of libtorch has QNNPACK only: a clear error, not a crash in a kernel.
        let err = int8_engine(&["NoQEngine", "QNNPACK"]).unwrap_err().to_string();
        assert!(err.contains("fbgemm") && err.contains("QNNPACK"), "{err}");
        let err = int8_engine(&[]).unwrap_err().to_string();
        assert!(err.contains("no quantized engine"), "{err}");
        // This libtorch (x86 wheels) has one.
        select_int8_engine().unwrap();
    }

    #[test]
    fn bad_inputs_are_errors() {
        let w = Tensor::zeros([4, 3], (Kind::Float, Device::Cpu));
        let layer = Int8Linear::new(&w, None).unwrap();
        let err = layer
            .forward(&Tensor::zeros([2, 5], (Kind::Float, Device::Cpu)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("int8 linear"), "{err}");
        let err = Int8Linear::new(&Tensor::zeros([4], (Kind::Float, Device::Cpu)), None).unwrap_err();
        assert!(err.to_string().contains("2 dimensions"), "{err}");
    }
}
