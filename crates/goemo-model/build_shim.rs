// Shared by the build scripts of goemo-model (csrc/autocast.cpp) and goemo-train
// (csrc/fused_adamw.cpp), which `include!` it after the workspace root's build.rs.

/// Compiles the C++ shim `file` against libtorch's headers into the static library `name`.
fn compile_libtorch_shim(file: &str, name: &str) {
    println!("cargo:rerun-if-changed={file}");
    // Set by torch-sys (`links = "tch"`), a direct dependency of each package for this reason.
    let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB").map(std::path::PathBuf::from) else {
        panic!("torch-sys did not report libtorch's lib folder (DEP_TCH_LIBTORCH_LIB)");
    };
    // Both layouts (a libtorch download and PyTorch's site-packages/torch) keep the headers in
    // `include` beside `lib`.
    let include = lib.parent().map(|root| root.join("include")).unwrap_or_default();
    cc::Build::new()
        .cpp(true)
        .file(file)
        .include(&include)
        .flag("-std=c++17")
        // PyTorch's wheels and libtorch downloads use the C++11 ABI since 2.7.
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .warnings(false)
        .compile(name);
}
