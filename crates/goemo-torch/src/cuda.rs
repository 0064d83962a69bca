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

/// Opens one of goemo's shims that link libtorch_cuda (after libtorch_cuda itself): the path in
/// the environment variable `env_var` when set, else `file_name` beside the executable (binaries
/// copied to another machine), else `built` (where this build put it; empty when the build had
/// no CUDA headers). The handle is never closed.
#[cfg(target_os = "linux")]
pub(crate) fn open_cuda_shim(
    env_var: &str,
    file_name: &str,
    built: &str,
) -> std::result::Result<*mut libc::c_void, String> {
    use std::ffi::CString;
    let beside = || {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join(file_name)))
            .filter(|p| p.exists())
    };
    let path = std::env::var_os(env_var)
        .map(PathBuf::from)
        .or_else(beside)
        .or_else(|| (!built.is_empty()).then(|| PathBuf::from(built)))
        .ok_or_else(|| {
            format!(
                "this goemo was built without {file_name}: the CUDA and NCCL headers were not found \
                 (run scripts/setup.sh, or set CUDA_HOME, and rebuild)"
            )
        })?;
    load_cuda().map_err(|e| e.to_string())?;
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: a NUL-terminated path; the library's only initialisers are libtorch's static ones,
    // and the handle is never closed.
    let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(format!("cannot load {}: {}", path.display(), dl_error()));
    }
    Ok(handle)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn open_cuda_shim(
    _env_var: &str,
    file_name: &str,
    _built: &str,
) -> std::result::Result<*mut std::ffi::c_void, String> {
    Err(format!("{file_name} is built on Linux only"))
}

/// This thread's last dynamic-loader message.
#[cfg(target_os = "linux")]
pub(crate) fn dl_error() -> String {
    // SAFETY: dlerror returns this thread's last message, or null.
    unsafe {
        let e = libc::dlerror();
        if e.is_null() {
            "unknown error".into()
        } else {
            std::ffi::CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    }
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
