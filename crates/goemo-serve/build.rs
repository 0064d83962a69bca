//! libtorch's rpath for this package's tests (the shims live in goemo-torch).

fn main() {
    goemo_build::libtorch_rpath();
}
