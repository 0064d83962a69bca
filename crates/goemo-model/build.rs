//! libtorch's rpath (the workspace root's build script: binaries run without LD_LIBRARY_PATH)
//! and the autocast shim (csrc/autocast.cpp). libtorch_cuda is not linked: `load_cuda` loads it
//! on demand, so that CPU runs do not map it.

mod rpath {
    include!("../../build.rs");
}
include!("build_shim.rs");

fn main() {
    rpath::main();
    compile_libtorch_shim("csrc/autocast.cpp", "goemo_autocast");
}
