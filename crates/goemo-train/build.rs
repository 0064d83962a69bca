//! libtorch's rpath (the workspace root's build script) and the fused-AdamW shim
//! (csrc/fused_adamw.cpp), compiled against libtorch's headers.

mod rpath {
    include!("../../build.rs");
}

fn main() {
    rpath::main();
    println!("cargo:rerun-if-changed=csrc/fused_adamw.cpp");
    // Set by torch-sys (`links = "tch"`), a direct dependency for exactly this reason.
    let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB").map(std::path::PathBuf::from) else {
        panic!("torch-sys did not report libtorch's lib folder (DEP_TCH_LIBTORCH_LIB)");
    };
    // Both layouts (a libtorch download and PyTorch's site-packages/torch) keep the headers in
    // `include` beside `lib`.
    let include = lib.parent().map(|root| root.join("include")).unwrap_or_default();
    cc::Build::new()
        .cpp(true)
        .file("csrc/fused_adamw.cpp")
        .include(&include)
        .flag("-std=c++17")
        // PyTorch's wheels and libtorch downloads use the C++11 ABI since 2.7.
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .warnings(false)
        .compile("goemo_fused_adamw");
}
