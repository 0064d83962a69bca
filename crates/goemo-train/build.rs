//! Bakes libtorch's lib folder into the rpath of every binary, example, test and bench of this
//! package, so that they run without LD_LIBRARY_PATH (the idea of tch-rs's own build.rs).
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "windows" {
        // Set by torch-sys (`links = "tch"`), a direct dependency for exactly this reason.
        if let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB") {
            println!("cargo:rustc-link-arg=-Wl,-rpath={}", lib.to_string_lossy());
        }
    }
}
