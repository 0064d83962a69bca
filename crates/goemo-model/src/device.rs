//! Device choice (`auto`, `cpu`, `cuda`, `cuda:N`), loading libtorch's CUDA library on demand,
//! and libtorch thread counts.

use std::path::PathBuf;
use std::sync::OnceLock;

use tch::Device;

use crate::error::{ModelError, Result};

/// Loads libtorch's CUDA library into the process (once; later calls return the first result).
///
/// Nothing in goemo references a symbol of libtorch_cuda, so binaries do not link it, and a CPU
/// run does not pay for mapping and relocating it (about 300 MiB of resident memory). CUDA
/// registers itself with libtorch when that library loads, so it must be loaded before any CUDA
/// device is used: [`parse_device`], [`crate::SequenceClassifier::load`] and
/// [`crate::SequenceClassifier::from_config`] call this for CUDA devices. A program that makes
/// CUDA tensors itself calls it first.
pub fn load_cuda() -> Result<()> {
    static LOADED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(open_cuda_library)
        .clone()
        .map_err(ModelError::Device)
}

#[cfg(target_os = "linux")]
fn open_cuda_library() -> std::result::Result<(), String> {
    use std::ffi::{CStr, CString};
    use std::os::unix::ffi::OsStrExt;
    const NAME: &str = "libtorch_cuda.so";
    // By name first (the binary's rpath, LD_LIBRARY_PATH), then beside the libtorch_cpu in use.
    let candidates = std::iter::once(PathBuf::from(NAME)).chain(libtorch_dir().map(|dir| dir.join(NAME)));
    let mut errors = Vec::new();
    for path in candidates {
        let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: a NUL-terminated path. The library's initialisers register CUDA with the
        // libtorch_cpu already loaded, as they do when it is linked; the handle is never closed.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if !handle.is_null() {
            return Ok(());
        }
        // SAFETY: dlerror returns this thread's last message, or null.
        let message = unsafe {
            let e = libc::dlerror();
            if e.is_null() {
                "unknown error".to_string()
            } else {
                CStr::from_ptr(e).to_string_lossy().into_owned()
            }
        };
        errors.push(message);
    }
    Err(format!(
        "cannot load libtorch's CUDA library, so this libtorch is CPU-only or its CUDA libraries are missing ({})",
        errors.join("; ")
    ))
}

/// Elsewhere tch's own build links CUDA when libtorch has it.
#[cfg(not(target_os = "linux"))]
fn open_cuda_library() -> std::result::Result<(), String> {
    Ok(())
}

/// The folder of the libtorch_cpu library this process runs on (from `/proc/self/maps`).
#[cfg(target_os = "linux")]
pub fn libtorch_dir() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| path.ends_with("/libtorch_cpu.so"))
        .and_then(|path| std::path::Path::new(path).parent().map(PathBuf::from))
}

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
