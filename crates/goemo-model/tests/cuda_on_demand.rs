//! libtorch_cuda is loaded on demand, never at start-up. One test in this file: the libraries a
//! process has loaded are global state.

#[cfg(target_os = "linux")]
#[test]
fn cuda_library_is_loaded_on_demand_only() {
    use tch::{Device, Kind, Tensor};
    let cuda_mapped = || {
        std::fs::read_to_string("/proc/self/maps")
            .expect("/proc/self/maps")
            .contains("/libtorch_cuda.so")
    };
    // A CPU tensor first: libtorch itself is in use.
    let _ = Tensor::zeros([1], (Kind::Float, Device::Cpu));
    assert!(!cuda_mapped(), "libtorch_cuda was loaded at start-up");
    let dir = goemo_model::libtorch_dir().expect("libtorch_cpu is mapped");
    assert_eq!(goemo_model::parse_device("cpu").unwrap(), Device::Cpu);
    assert!(!cuda_mapped(), "choosing the CPU loaded libtorch_cuda");

    if !dir.join("libtorch_cuda.so").exists() {
        // A CPU-only libtorch: a clear error, and `auto` is the CPU.
        let err = goemo_model::load_cuda().unwrap_err().to_string();
        assert!(err.contains("CPU-only"), "{err}");
        assert_eq!(goemo_model::parse_device("auto").unwrap(), Device::Cpu);
        return;
    }
    goemo_model::load_cuda().unwrap();
    assert!(cuda_mapped());
    goemo_model::load_cuda().unwrap(); // once only, then the first result
                                       // CUDA is now registered with libtorch: a CUDA tensor works, or fails for want of a GPU
                                       // ("Found no NVIDIA driver", "no CUDA-capable device"), not for want of the CUDA backend
                                       // (before loading: "Could not run 'aten::empty.memory_format' with arguments from the 'CUDA'
                                       // backend", or "Cannot initialize CUDA without ATen_cuda library").
    match Tensor::f_zeros([1], (Kind::Float, Device::Cuda(0))) {
        Ok(t) => assert_eq!(t.device(), Device::Cuda(0)),
        Err(e) => {
            let message = e.to_string();
            assert!(
                !message.contains("'CUDA' backend") && !message.contains("without ATen_cuda"),
                "{message}"
            );
            assert!(!tch::Cuda::is_available());
        }
    }
}
