//! Bakes libtorch's lib folder into the rpath of every binary, example, test and bench of this
//! package, so that they run without LD_LIBRARY_PATH (the idea of tch-rs's own build.rs), and
//! compiles the small autocast shim (csrc/autocast.cpp) against libtorch's headers. libtorch_cuda
//! is not linked: `load_cuda` loads it on demand, so that CPU runs do not map it.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=csrc/autocast.cpp");
    // Set by torch-sys (`links = "tch"`), a direct dependency for exactly this reason.
    let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB").map(PathBuf::from) else {
        panic!("torch-sys did not report libtorch's lib folder (DEP_TCH_LIBTORCH_LIB)");
    };
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "windows" {
        println!("cargo:rustc-link-arg=-Wl,-rpath={}", lib.display());
    }
    // Both layouts (a libtorch download and PyTorch's site-packages/torch) keep the headers in
    // `include` beside `lib`.
    let include = lib.parent().map(|root| root.join("include")).unwrap_or_default();
    cc::Build::new()
        .cpp(true)
        .file("csrc/autocast.cpp")
        .include(&include)
        .flag("-std=c++17")
        // PyTorch's wheels and libtorch downloads use the C++11 ABI since 2.7; the shim passes
        // no standard-library types across it either way.
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .warnings(false)
        .compile("goemo_autocast");
}
