//! The facade's test executables link libtorch through the rpath that build.rs adds: this test
//! runs only if the dynamic loader finds libtorch without LD_LIBRARY_PATH.

#[test]
fn libtorch_runs_without_ld_library_path() {
    let t = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0]);
    assert_eq!(t.sum(tch::Kind::Float).double_value(&[]), 6.0);
}
