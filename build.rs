// Shared by the root package, goemo-model and goemo-train (`include!`d). Bakes libtorch's lib
// folder into the rpath of every binary, example, test and bench of the package, so that they run
// without LD_LIBRARY_PATH (the idea of tch-rs's own build.rs). libtorch_cuda is not linked:
// goemo-model loads it on demand (`load_cuda`), so that CPU runs do not map it.
pub fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // Set by torch-sys (`links = "tch"`), a direct dependency for exactly this reason.
    let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB").map(std::path::PathBuf::from) else {
        return;
    };
    if os == "linux" || os == "windows" {
        println!("cargo:rustc-link-arg=-Wl,-rpath={}", lib.display());
    }
}
