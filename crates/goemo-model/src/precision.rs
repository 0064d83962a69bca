//! Numeric precision of the forward pass. `Bf16` runs it under libtorch's autocast: matrix
//! products in bfloat16, while softmax, layer norms and reductions stay in float32 and weights,
//! gradients and optimiser moments stay float32 (no loss scaling is needed with bfloat16's
//! exponent range). Autocast state is per thread in libtorch, so runs on other threads are not
//! affected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::Device;

use crate::error::{ModelError, Result};

/// Precision of the forward pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats.
    #[default]
    Fp32,
    /// bfloat16 autocast (fast on GPUs with bf16 tensor cores and on CPUs with native bf16
    /// instructions; other CPUs run it, but slower than fp32).
    Bf16,
    /// What the hardware runs fastest: bf16 on CUDA and on CPUs with native bf16 (AVX512-BF16
    /// or AMX-BF16), fp32 on other CPUs. Resolved once the device is known ([`Precision::resolve`]).
    Auto,
}

impl Precision {
    /// The precision `Auto` stands for on `device`; other precisions are themselves.
    pub fn resolve(self, device: Device) -> Precision {
        match self {
            Precision::Auto if device.is_cuda() || cpu_has_native_bf16() => Precision::Bf16,
            Precision::Auto => Precision::Fp32,
            other => other,
        }
    }
}

/// Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX-BF16), where oneDNN's bf16
/// kernels beat fp32; elsewhere bf16 is emulated and slower.
pub fn cpu_has_native_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // AMX detection is not stable in std; the kernel lists `amx_bf16` once it enabled AMX.
        std::arch::is_x86_feature_detected!("avx512bf16")
            || std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| c.split_whitespace().any(|f| f == "amx_bf16"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl FromStr for Precision {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "fp32" => Ok(Precision::Fp32),
            "bf16" => Ok(Precision::Bf16),
            "auto" => Ok(Precision::Auto),
            other => Err(ModelError::UnknownPrecision(other.to_string())),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Auto => "auto",
        })
    }
}

/// Weight quantization for inference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    /// Float weights as loaded.
    #[default]
    None,
    /// int8 dynamic quantization of the encoder's Linear layers on the CPU (fbgemm), as
    /// `torch.ao.quantization.quantize_dynamic` with per-channel weights.
    Int8,
}

impl FromStr for Quantization {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "none" => Ok(Quantization::None),
            "int8" => Ok(Quantization::Int8),
            other => Err(ModelError::Device(format!(
                "unknown quantization {other:?} (none, int8)"
            ))),
        }
    }
}

impl fmt::Display for Quantization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Quantization::None => "none",
            Quantization::Int8 => "int8",
        })
    }
}

/// Runs `f` at `precision` for tensors on `device`.
pub fn with_precision<T>(precision: Precision, device: Device, f: impl FnOnce() -> T) -> Result<T> {
    match precision.resolve(device) {
        Precision::Fp32 | Precision::Auto => Ok(f()),
        Precision::Bf16 => {
            let _guard = goemo_torch::AutocastGuard::enter(device, tch::Kind::BFloat16)?;
            Ok(f())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    #[test]
    fn bf16_runs_matrix_products_in_bfloat16_and_restores_the_state() {
        let a = Tensor::ones([4, 8], (Kind::Float, Device::Cpu));
        let b = Tensor::ones([8, 2], (Kind::Float, Device::Cpu));
        let inside = with_precision(Precision::Bf16, Device::Cpu, || a.matmul(&b)).unwrap();
        assert_eq!(inside.kind(), Kind::BFloat16);
        // Nested regions keep autocast on until the outermost ends.
        let nested = with_precision(Precision::Bf16, Device::Cpu, || {
            with_precision(Precision::Bf16, Device::Cpu, || ()).unwrap();
            a.matmul(&b)
        })
        .unwrap();
        assert_eq!(nested.kind(), Kind::BFloat16);
        assert_eq!(a.matmul(&b).kind(), Kind::Float, "autocast must end with the region");
        let fp32 = with_precision(Precision::Fp32, Device::Cpu, || a.matmul(&b)).unwrap();
        assert_eq!(fp32.kind(), Kind::Float);
        assert_eq!(
            f64::try_from(inside.to_kind(Kind::Float).sum(Kind::Float)).unwrap(),
            64.0
        );
    }

    #[test]
    fn names_parse() {
        assert_eq!("bf16".parse::<Precision>().unwrap(), Precision::Bf16);
        assert_eq!("fp32".parse::<Precision>().unwrap().to_string(), "fp32");
        assert!("fp16".parse::<Precision>().unwrap_err().to_string().contains("fp16"));
        assert_eq!("auto".parse::<Precision>().unwrap(), Precision::Auto);
    }

    #[test]
    fn auto_resolves_by_the_hardware() {
        let want = if cpu_has_native_bf16() {
            Precision::Bf16
        } else {
            Precision::Fp32
        };
        assert_eq!(Precision::Auto.resolve(Device::Cpu), want);
        assert_eq!(Precision::Auto.resolve(Device::Cuda(0)), Precision::Bf16);
        assert_eq!(Precision::Fp32.resolve(Device::Cuda(0)), Precision::Fp32);
    }
}
