//! libtorch's rpath for the examples, tests and benches of the root package.

fn main() {
    goemo_build::libtorch_rpath();
}
