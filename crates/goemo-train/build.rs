// The workspace root's build script: libtorch's rpath, and libtorch_cuda kept linked.
include!("../../build.rs");
