//! libtorch's rpath (the workspace root's build script) and the fused-AdamW shim
//! (csrc/fused_adamw.cpp).

mod rpath {
    include!("../../build.rs");
}
include!("../goemo-model/build_shim.rs");

fn main() {
    rpath::main();
    compile_libtorch_shim("csrc/fused_adamw.cpp", "goemo_fused_adamw");
}
