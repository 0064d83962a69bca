//! Compiles every C++ shim of goemo (csrc/) against libtorch's headers, and bakes libtorch's
//! rpath into this package's tests; records libtorch's version.
//!
//! The NCCL and CUDA graph shims link libtorch_cuda, which goemo binaries do not link, so each is
//! a shared library of its own (`GOEMO_NCCL_SHIM`, `GOEMO_CUDA_GRAPH_SHIM`, loaded when a run asks
//! for NCCL or for CUDA graphs); they are built only when the CUDA and NCCL headers are found
//! (`nvidia-*` wheels beside torch, or `CUDA_HOME`).

use std::path::{Path, PathBuf};

use goemo_build::ShimOptions;

fn main() {
    goemo_build::libtorch_rpath();
    let version = goemo_build::libtorch_version().unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=GOEMO_LIBTORCH_VERSION={version}");
    // Every header the shims include (the .cpp files are listed by goemo-build as it compiles them).
    for header in [
        "distributed_common.hpp",
        "shim_common.hpp",
        "row_kernels.hpp",
        "attention_kernel.hpp",
    ] {
        println!("cargo:rerun-if-changed=csrc/{header}");
    }
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    println!("cargo:rerun-if-env-changed=GOEMO_NVIDIA_SITE");
    let gloo = ShimOptions {
        // Gloo's headers are not in the wheel; csrc/third_party/gloo has the ones c10d's
        // ProcessGroupGloo.hpp includes (all types behind pointers there, so any recent Gloo).
        includes: vec![PathBuf::from("csrc/third_party")],
        defines: vec!["USE_C10D_GLOO"],
    };
    goemo_build::compile_shim(
        &[
            "csrc/activation.cpp",
            "csrc/allocator.cpp",
            "csrc/attention.cpp",
            "csrc/autocast.cpp",
            "csrc/fused_adamw.cpp",
            "csrc/gradients.cpp",
            "csrc/layer_norm.cpp",
            "csrc/mapped_file.cpp",
            "csrc/packed_linear.cpp",
            "csrc/quantized_linear.cpp",
            "csrc/distributed.cpp",
            "csrc/reducer.cpp",
        ],
        "goemo_torch_shim",
        &gloo,
    );
    let cuda_shims = match cuda_includes() {
        Some(includes) => {
            let options = ShimOptions {
                includes: [vec![PathBuf::from("csrc")], includes].concat(),
                defines: vec!["USE_C10D_NCCL", "USE_CUDA"],
            };
            let libs = ["torch_cuda", "torch_cpu", "c10_cuda", "c10"];
            let nccl = goemo_build::compile_shared_shim(&["csrc/distributed_nccl.cpp"], "goemo_nccl", &options, &libs);
            let graphs =
                goemo_build::compile_shared_shim(&["csrc/cuda_graph.cpp"], "goemo_cuda_graph", &options, &libs);
            (nccl.display().to_string(), graphs.display().to_string())
        }
        None => (String::new(), String::new()),
    };
    println!("cargo:rustc-env=GOEMO_NCCL_SHIM={}", cuda_shims.0);
    println!("cargo:rustc-env=GOEMO_CUDA_GRAPH_SHIM={}", cuda_shims.1);
}

/// The include folders ProcessGroupNCCL.hpp needs (nccl.h, the CUDA runtime, its crt/ and CCCL
/// headers), when they are all there.
fn cuda_includes() -> Option<Vec<PathBuf>> {
    let lib = goemo_build::libtorch_lib()?;
    // The nvidia-* wheels beside torch, or those of another site-packages (a libtorch unpacked
    // on its own, scripts/build_for_libtorch.sh).
    let site = std::env::var_os("GOEMO_NVIDIA_SITE")
        .map(PathBuf::from)
        .unwrap_or(lib.parent()?.parent()?.to_path_buf());
    let mut candidates: Vec<PathBuf> = ["nvidia/nccl/include", "nvidia/cu13/include", "nvidia/cu13/include/cccl"]
        .iter()
        .map(|d| site.join(d))
        .collect();
    if let Some(home) = std::env::var_os("CUDA_HOME") {
        candidates.push(Path::new(&home).join("include"));
    }
    let found: Vec<PathBuf> = candidates.into_iter().filter(|d| d.is_dir()).collect();
    let has = |file: &str| found.iter().any(|d| d.join(file).exists());
    let complete = ["nccl.h", "cuda_runtime.h", "crt/host_config.h", "nv/target"]
        .iter()
        .all(|f| has(f));
    complete.then_some(found)
}
