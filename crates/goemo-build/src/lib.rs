//! Build-script helpers shared by every goemo package that links libtorch.
//!
//! A build script's link arguments reach only its own package's binaries, tests and benches, so
//! each such package has a one-line `build.rs` that calls [`libtorch_rpath`]; `goemo-torch`
//! also calls [`compile_shim`] for its C++ files. Each package depends on `torch-sys` directly,
//! which is what makes `DEP_TCH_LIBTORCH_LIB` reach its build script.
//!
//! A package's `build.rs` then reads `fn main() { goemo_build::libtorch_rpath(); }`.

use std::path::PathBuf;

/// libtorch's lib folder as torch-sys reports it (`links = "tch"`), if it does.
pub fn libtorch_lib() -> Option<PathBuf> {
    std::env::var_os("DEP_TCH_LIBTORCH_LIB").map(PathBuf::from)
}

/// Bakes libtorch's lib folder into the rpath of the package's binaries, examples, tests and
/// benches, so that they run without `LD_LIBRARY_PATH` (the idea of tch-rs's own build script).
/// libtorch_cuda is not linked: goemo-torch loads it on demand, so CPU runs do not map it.
pub fn libtorch_rpath() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if let Some(lib) = libtorch_lib() {
        if os == "linux" || os == "windows" {
            println!("cargo:rustc-link-arg=-Wl,-rpath={}", lib.display());
        }
    }
}

/// libtorch's version, read from its headers (`TORCH_VERSION_MAJOR`, `_MINOR`, `_PATCH`).
pub fn libtorch_version() -> Option<String> {
    let root = libtorch_lib()?.parent()?.to_path_buf();
    let header = [
        "include/torch/headeronly/version.h",
        "include/torch/csrc/api/include/torch/version.h",
    ]
    .iter()
    .find_map(|h| std::fs::read_to_string(root.join(h)).ok())?;
    let part = |name: &str| {
        header.lines().find_map(|line| {
            let rest = line.trim().strip_prefix("#define ")?.strip_prefix(name)?;
            rest.trim().parse::<u32>().ok()
        })
    };
    Some(format!(
        "{}.{}.{}",
        part("TORCH_VERSION_MAJOR")?,
        part("TORCH_VERSION_MINOR")?,
        part("TORCH_VERSION_PATCH")?
    ))
}

/// What a shim needs besides libtorch's headers.
#[derive(Debug, Clone, Default)]
pub struct ShimOptions<'a> {
    /// More include folders (vendored or found headers).
    pub includes: Vec<PathBuf>,
    /// Preprocessor symbols to define (`USE_C10D_GLOO`).
    pub defines: Vec<&'a str>,
}

fn shim_build(files: &[&str], options: &ShimOptions<'_>) -> cc::Build {
    let lib = libtorch_lib().expect("torch-sys did not report libtorch's lib folder (DEP_TCH_LIBTORCH_LIB)");
    // Both layouts (a libtorch download and PyTorch's site-packages/torch) keep the headers in
    // `include` beside `lib`.
    let include = lib.parent().map(|root| root.join("include")).unwrap_or_default();
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        // PyTorch's wheels and libtorch downloads use the C++11 ABI since 2.7.
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .warnings(false);
    for dir in &options.includes {
        build.include(dir);
    }
    for define in &options.defines {
        build.define(define, None);
    }
    for file in files {
        println!("cargo:rerun-if-changed={file}");
        build.file(file);
    }
    build
}

/// Compiles the C++ files into the static library `name` against libtorch's headers, linked
/// into the package.
///
/// # Panics
/// When torch-sys reported no libtorch folder: a build script has no other way to fail.
pub fn compile_shim(files: &[&str], name: &str, options: &ShimOptions<'_>) {
    shim_build(files, options).compile(name);
}

/// Compiles the C++ files into the shared library `lib{name}.so` in `OUT_DIR`, linked against
/// the libtorch libraries `libs` (by name, with libtorch's folder as rpath), and returns its
/// path. For code that needs a libtorch library the package must not link, such as
/// libtorch_cuda: the program loads the shared library when it needs it.
///
/// # Panics
/// When torch-sys reported no libtorch folder, or the compiler or linker fails.
pub fn compile_shared_shim(files: &[&str], name: &str, options: &ShimOptions<'_>, libs: &[&str]) -> PathBuf {
    let lib = libtorch_lib().expect("torch-sys did not report libtorch's lib folder (DEP_TCH_LIBTORCH_LIB)");
    let mut build = shim_build(files, options);
    build.pic(true);
    let objects = build.compile_intermediates();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join(format!("lib{name}.so"));
    let mut link = build.get_compiler().to_command();
    link.arg("-shared").arg("-o").arg(&out).args(&objects);
    link.arg(format!("-L{}", lib.display()));
    link.arg(format!("-Wl,-rpath,{}", lib.display()));
    for l in libs {
        link.arg(format!("-l{l}"));
    }
    let status = link.status().expect("cannot run the C++ compiler to link");
    assert!(status.success(), "linking {} failed: {status}", out.display());
    out
}
