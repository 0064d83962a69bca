//! libtorch_cuda loaded on demand.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::{Result, TorchError};

/// Loads libtorch's CUDA library into the process (once; later calls return the first result).
///
/// Nothing in goemo references a symbol of libtorch_cuda, so binaries do not link it, and a CPU
/// run does not pay for mapping and relocating it (about 300 MiB of resident memory). CUDA
/// registers itself with libtorch when that library loads, so it must be loaded before any CUDA
/// device is used: goemo-model's `parse_device` and its model loaders call this for CUDA devices. A program that makes
/// CUDA tensors itself calls it first.
pub fn load_cuda() -> Result<()> {
    static LOADED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    LOADED.get_or_init(open_cuda_library).clone().map_err(TorchError::Cuda)
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
    Err(errors.join("; "))
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
