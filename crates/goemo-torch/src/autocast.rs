//! libtorch's autocast per device type and dtype (csrc/autocast.cpp).

use std::os::raw::c_int;

use tch::{Device, Kind};

use crate::{Result, TorchError};

extern "C" {
    fn goemo_autocast_set(cuda: c_int, enabled: c_int, dtype: c_int) -> c_int;
    fn goemo_autocast_nesting(enter: c_int) -> c_int;
}

/// c10::ScalarType codes of the dtypes autocast reduces to.
fn scalar_type(kind: Kind) -> Result<c_int> {
    match kind {
        Kind::Half => Ok(5),
        Kind::BFloat16 => Ok(15),
        other => Err(TorchError::Unsupported(format!(
            "autocast reduces to float16 or bfloat16, not {other:?}"
        ))),
    }
}

/// libtorch's autocast switched on for one device type until dropped (also when unwinding),
/// then put back as it was. Autocast state is per thread in libtorch: other threads are not
/// affected. Nested guards keep autocast on until the outermost one ends, which also frees the
/// cache of cast weights, as `torch.autocast`'s `__exit__` does.
#[derive(Debug)]
pub struct AutocastGuard {
    cuda: c_int,
    previous: c_int,
}

impl AutocastGuard {
    /// Enables autocast to `dtype` (`Kind::BFloat16` or `Kind::Half`) for tensors on `device`'s
    /// type: matrix products run in `dtype`, while softmax, layer norms and reductions stay in
    /// float32.
    pub fn enter(device: Device, dtype: Kind) -> Result<Self> {
        let cuda = match device {
            Device::Cpu => 0,
            Device::Cuda(_) => 1,
            other => {
                return Err(TorchError::Unsupported(format!(
                    "autocast is implemented for the CPU and CUDA, not {other:?}"
                )))
            }
        };
        let code = scalar_type(dtype)?;
        // SAFETY: plain C functions of the shim taking integers; they catch every C++ exception
        // and report it as -1.
        let previous = unsafe { goemo_autocast_set(cuda, 1, code) };
        if previous < 0 {
            return Err(TorchError::Shim {
                operation: "autocast",
                message: format!("libtorch refused to enable {dtype:?} autocast on {device:?}"),
            });
        }
        // SAFETY: as above; the guard's drop leaves the region it enters here.
        unsafe { goemo_autocast_nesting(1) };
        Ok(AutocastGuard { cuda, previous })
    }
}

impl Drop for AutocastGuard {
    fn drop(&mut self) {
        // SAFETY: as in `enter`; `previous` is the state `goemo_autocast_set` returned
        // (enabled + 2 × dtype code), restored as it was.
        unsafe {
            goemo_autocast_nesting(0);
            goemo_autocast_set(self.cuda, self.previous & 1, self.previous >> 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Tensor;

    #[test]
    fn matrix_products_run_in_bfloat16_inside_and_float_after() {
        let a = Tensor::ones([4, 8], (Kind::Float, Device::Cpu));
        let b = Tensor::ones([8, 2], (Kind::Float, Device::Cpu));
        let inside = {
            let _outer = AutocastGuard::enter(Device::Cpu, Kind::BFloat16).unwrap();
            {
                let _inner = AutocastGuard::enter(Device::Cpu, Kind::BFloat16).unwrap();
            }
            a.matmul(&b)
        };
        assert_eq!(inside.kind(), Kind::BFloat16, "nested regions keep autocast on");
        assert_eq!(a.matmul(&b).kind(), Kind::Float, "autocast must end with the region");
        assert!(AutocastGuard::enter(Device::Cpu, Kind::Float).is_err());
    }
}
