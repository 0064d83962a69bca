//! Compiles every C++ shim of goemo (csrc/) against libtorch's headers, and bakes libtorch's
//! rpath into this package's tests; records libtorch's version.

fn main() {
    goemo_build::libtorch_rpath();
    let version = goemo_build::libtorch_version().unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=GOEMO_LIBTORCH_VERSION={version}");
    goemo_build::compile_shim(&["csrc/autocast.cpp", "csrc/fused_adamw.cpp"], "goemo_torch_shim");
}
