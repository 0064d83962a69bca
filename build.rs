// Shared by the root package and goemo-train (`include!`d). Bakes libtorch's lib folder into
// the rpath of every binary, example, test and bench of the package, so that they run without
// LD_LIBRARY_PATH (the idea of tch-rs's own build.rs), and keeps libtorch_cuda linked where libtorch has it: no symbol of it is referenced, so the
// linker's default `--as-needed` would drop it and CUDA would never be seen.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // Set by torch-sys (`links = "tch"`), a direct dependency for exactly this reason.
    let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB").map(std::path::PathBuf::from) else {
        return;
    };
    if os == "linux" {
        println!("cargo:rustc-link-arg=-Wl,-rpath={}", lib.display());
        if lib.join("libtorch_cuda.so").exists() {
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
        }
    } else if os == "windows" {
        println!("cargo:rustc-link-arg=-Wl,-rpath={}", lib.display());
    }
}
