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
    /// The encoder's Linear layers in int8 on the CPU: weights per output channel, activations
    /// per token (`goemo_torch::Int8Linear`).
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

/// How a classifier runs inference: the arithmetic of its encoder. `Auto` picks, at load, the
/// fastest mode this machine runs within the quality bounds that `scripts/bench_cpu_inference.py`
/// measures ([`InferenceMode::fastest`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InferenceMode {
    /// float32 throughout.
    #[default]
    Fp32,
    /// Matrix products in bfloat16 under autocast (oneDNN on the CPU, tensor cores on a GPU).
    Bf16,
    /// The encoder's Linear layers in int8 (weights per output channel, activations per token);
    /// CPU only.
    Int8,
    /// The fastest of the three for this device and CPU.
    Auto,
}

impl InferenceMode {
    /// The fastest mode on `device`, with the reason. CUDA: bf16. CPU: int8 where the CPU has
    /// VNNI dot-product instructions (oneDNN's int8 kernels use them; `scripts/bench_cpu_inference.py`
    /// measures each mode), else bf16 where it multiplies bfloat16 natively (AVX512-BF16 or
    /// AMX), else fp32.
    pub fn fastest(device: Device) -> (InferenceMode, &'static str) {
        if device.is_cuda() {
            (
                InferenceMode::Bf16,
                "a CUDA device multiplies bfloat16 on its tensor cores",
            )
        } else if cpu_has_vnni() {
            (InferenceMode::Int8, "this CPU has VNNI int8 dot products")
        } else if cpu_has_native_bf16() {
            (
                InferenceMode::Bf16,
                "this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX)",
            )
        } else {
            (InferenceMode::Fp32, "this CPU has neither VNNI nor native bfloat16")
        }
    }

    /// `Auto` made concrete for `device`; the others as they are.
    pub fn resolve(self, device: Device) -> InferenceMode {
        match self {
            InferenceMode::Auto => InferenceMode::fastest(device).0,
            other => other,
        }
    }

    /// The precision of this mode's arithmetic outside int8 layers.
    pub fn precision(self) -> Precision {
        match self {
            InferenceMode::Bf16 => Precision::Bf16,
            InferenceMode::Auto => Precision::Auto,
            InferenceMode::Fp32 | InferenceMode::Int8 => Precision::Fp32,
        }
    }

    /// Whether this mode quantizes the encoder's Linear layers.
    pub fn quantization(self) -> Quantization {
        match self {
            InferenceMode::Int8 => Quantization::Int8,
            _ => Quantization::None,
        }
    }
}

impl FromStr for InferenceMode {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "fp32" => Ok(InferenceMode::Fp32),
            "bf16" => Ok(InferenceMode::Bf16),
            "int8" => Ok(InferenceMode::Int8),
            "auto" => Ok(InferenceMode::Auto),
            other => Err(ModelError::UnknownMode(other.to_string())),
        }
    }
}

impl fmt::Display for InferenceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InferenceMode::Fp32 => "fp32",
            InferenceMode::Bf16 => "bf16",
            InferenceMode::Int8 => "int8",
            InferenceMode::Auto => "auto",
        })
    }
}

/// Whether the CPU has VNNI int8 dot products (AVX512-VNNI or AVX-VNNI), which oneDNN's int8
/// kernels use.
pub fn cpu_has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512vnni")
            || std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| c.split_whitespace().any(|f| f == "avx_vnni"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
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

    #[test]
    fn inference_modes_parse_resolve_and_split_into_precision_and_quantization() {
        for name in ["fp32", "bf16", "int8", "auto"] {
            assert_eq!(name.parse::<InferenceMode>().unwrap().to_string(), name);
        }
        let err = "fp16".parse::<InferenceMode>().unwrap_err().to_string();
        assert!(err.contains("fp32, bf16, int8, auto"), "{err}");
        let (fastest, why) = InferenceMode::fastest(Device::Cpu);
        assert_ne!(fastest, InferenceMode::Auto);
        assert!(!why.is_empty());
        assert_eq!(InferenceMode::Auto.resolve(Device::Cpu), fastest);
        assert_eq!(InferenceMode::Auto.resolve(Device::Cuda(0)), InferenceMode::Bf16);
        assert_eq!(InferenceMode::Fp32.resolve(Device::Cuda(0)), InferenceMode::Fp32);
        assert_eq!(
            (InferenceMode::Int8.precision(), InferenceMode::Int8.quantization()),
            (Precision::Fp32, Quantization::Int8)
        );
        assert_eq!(
            (InferenceMode::Bf16.precision(), InferenceMode::Bf16.quantization()),
            (Precision::Bf16, Quantization::None)
        );
        let vnni = cpu_has_vnni();
        if vnni {
            assert_eq!(fastest, InferenceMode::Int8);
        }
    }
}
