//! Device choice (`auto`, `cpu`, `cuda`, `cuda:N`) and libtorch thread counts.

pub use goemo_torch::load_cuda;
use tch::Device;

use crate::error::{ModelError, Result};

/// Parses a device name; `auto` picks the first CUDA device when there is one. Asking for CUDA
/// where there is none is an error, not a silent fall-back.
pub fn parse_device(name: &str) -> Result<Device> {
    let cuda = |index: usize| {
        load_cuda().map_err(|e| ModelError::Device(format!("{name:?} asked for, but {e}")))?;
        let count = tch::Cuda::device_count() as usize;
        if index < count {
            Ok(Device::Cuda(index))
        } else if count == 0 {
            Err(ModelError::Device(format!(
                "{name:?} asked for, but libtorch sees no CUDA device"
            )))
        } else {
            Err(ModelError::Device(format!(
                "{name:?} asked for, but there are only {count} CUDA devices"
            )))
        }
    };
    match name.trim() {
        // Without a CUDA library there is no CUDA device: the CPU, as `auto` promises.
        "auto" => Ok(match load_cuda() {
            Ok(()) => Device::cuda_if_available(),
            Err(_) => Device::Cpu,
        }),
        "cpu" => Ok(Device::Cpu),
        "cuda" => cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(index)) => cuda(index),
            _ => Err(ModelError::Device(format!(
                "unknown device {other:?} (auto, cpu, cuda, cuda:N)"
            ))),
        },
    }
}

/// Sets libtorch's intra-op and inter-op thread counts (0 leaves libtorch's default).
pub fn set_threads(threads: usize) {
    if threads > 0 {
        tch::set_num_threads(threads as i32);
        tch::set_num_interop_threads(threads as i32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_cuda_is_never_a_silent_fallback() {
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
        assert!(parse_device("gpu").is_err());
        assert!(parse_device("cuda:x").is_err());
        if !tch::Cuda::is_available() {
            assert_eq!(parse_device("auto").unwrap(), Device::Cpu);
            let err = parse_device("cuda").unwrap_err().to_string();
            assert!(err.contains("no CUDA device"), "{err}");
            assert!(parse_device("cuda:1").is_err());
        }
    }
}
