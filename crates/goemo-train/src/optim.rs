//! AdamW with decoupled weight decay, as `torch.optim.AdamW`, and global-norm gradient clipping,
//! as `torch.nn.utils.clip_grad_norm_`.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::Result;

/// AdamW's hyperparameters (the learning rate comes from the schedule at each step).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// Whether a parameter takes weight decay: not biases, not LayerNorm weights (the convention of
/// BERT and `transformers`' Trainer). The reference applied L2 to everything, through Adam.
pub fn decays(name: &str) -> bool {
    let layer_norm = name.contains("LayerNorm.") || name.contains("layer_norm.");
    !(name.ends_with(".bias") || name == "bias" || layer_norm)
}

/// One parameter and its moment estimates.
#[derive(Debug)]
struct Slot {
    name: String,
    param: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    decay: bool,
}

extern "C" {
    // csrc/fused_adamw.cpp
    #[allow(clippy::too_many_arguments)]
    fn goemo_fused_adamw(
        params: *const *const torch_sys::C_tensor,
        grads: *const *const torch_sys::C_tensor,
        exp_avgs: *const *const torch_sys::C_tensor,
        exp_avg_sqs: *const *const torch_sys::C_tensor,
        n: i64,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
        step: f64,
        error: *mut std::ffi::c_char,
        error_len: usize,
    ) -> std::ffi::c_int;
}

/// One call of libtorch's `_fused_adamw_` over matching lists of tensors.
fn fused_adamw(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avgs: &[Tensor],
    exp_avg_sqs: &[Tensor],
    lr: f64,
    c: AdamWConfig,
    step: u64,
) -> Result<()> {
    let pointers = |tensors: &[Tensor]| tensors.iter().map(Tensor::as_ptr).collect::<Vec<_>>();
    let (p, g, m, v) = (
        pointers(params),
        pointers(grads),
        pointers(exp_avgs),
        pointers(exp_avg_sqs),
    );
    assert!(g.len() == p.len() && m.len() == p.len() && v.len() == p.len());
    let mut error = [0 as std::ffi::c_char; 1024];
    // SAFETY: four arrays of `p.len()` live tensors (borrowed for the call); the shim catches
    // every C++ exception and writes at most `error.len()` bytes, NUL-terminated.
    let status = unsafe {
        goemo_fused_adamw(
            p.as_ptr(),
            g.as_ptr(),
            m.as_ptr(),
            v.as_ptr(),
            p.len() as i64,
            lr,
            c.beta1,
            c.beta2,
            c.weight_decay,
            c.eps,
            step as f64,
            error.as_mut_ptr(),
            error.len(),
        )
    };
    if status != 0 {
        // SAFETY: the shim NUL-terminated the message inside the buffer.
        let message = unsafe { std::ffi::CStr::from_ptr(error.as_ptr()) };
        let message = format!("fused AdamW: {}", message.to_string_lossy());
        return Err(tch::TchError::Torch(message).into());
    }
    Ok(())
}

/// AdamW over named parameters.
#[derive(Debug)]
pub struct AdamW {
    config: AdamWConfig,
    slots: Vec<Slot>,
    step: u64,
}

impl AdamW {
    /// An optimiser over `(name, parameter)` pairs (e.g. `VarStore::variables()`, sorted).
    pub fn new(params: Vec<(String, Tensor)>, config: AdamWConfig) -> Self {
        let slots = params
            .into_iter()
            .map(|(name, param)| Slot {
                decay: decays(&name),
                exp_avg: param.zeros_like(),
                exp_avg_sq: param.zeros_like(),
                name,
                param,
            })
            .collect();
        AdamW { config, slots, step: 0 }
    }

    /// Optimiser steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Applies one update with learning rate `lr` from the parameters' gradients (parameters
    /// without a gradient are left alone).
    ///
    /// libtorch's fused AdamW kernel does the work (`torch.optim.AdamW(fused=True)`): one pass
    /// over each parameter, gradient and moments, where the element-wise formulation makes five
    /// or six (`scripts/bench_adamw_torch.py` times the variants in PyTorch); on CUDA, one
    /// launch per call.
    pub fn step(&mut self, lr: f64) -> Result<()> {
        self.step += 1;
        let c = self.config;
        for decay in [true, false] {
            let group = AdamWConfig {
                weight_decay: if decay { c.weight_decay } else { 0.0 },
                ..c
            };
            let (mut params, mut grads, mut exp_avgs, mut exp_avg_sqs) = (vec![], vec![], vec![], vec![]);
            for slot in self.slots.iter().filter(|slot| slot.decay == decay) {
                let grad = slot.param.grad();
                if grad.defined() {
                    params.push(slot.param.shallow_clone());
                    grads.push(grad);
                    exp_avgs.push(slot.exp_avg.shallow_clone());
                    exp_avg_sqs.push(slot.exp_avg_sq.shallow_clone());
                }
            }
            fused_adamw(&params, &grads, &exp_avgs, &exp_avg_sqs, lr, group, self.step)?;
        }
        Ok(())
    }

    /// Clears every gradient.
    pub fn zero_grad(&mut self) {
        for slot in &mut self.slots {
            let mut grad = slot.param.grad();
            if grad.defined() {
                let _ = grad.detach_().zero_();
            }
        }
    }

    /// The optimiser state as named tensors (`exp_avg.NAME`, `exp_avg_sq.NAME`) and the step,
    /// to save with a checkpoint and resume from.
    pub fn state(&self) -> (Vec<(String, Tensor)>, u64) {
        let mut tensors = Vec::with_capacity(self.slots.len() * 2);
        for slot in &self.slots {
            tensors.push((format!("exp_avg.{}", slot.name), slot.exp_avg.shallow_clone()));
            tensors.push((format!("exp_avg_sq.{}", slot.name), slot.exp_avg_sq.shallow_clone()));
        }
        (tensors, self.step)
    }

    /// Restores a state saved by [`AdamW::state`]; every parameter's moments must be there.
    pub fn load_state(&mut self, tensors: &[(String, Tensor)], step: u64) -> Result<()> {
        let find = |name: &str| {
            tensors
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.shallow_clone())
                .ok_or_else(|| crate::TrainError::InvalidOption(format!("optimiser state lacks {name}")))
        };
        tch::no_grad(|| -> Result<()> {
            for slot in &mut self.slots {
                slot.exp_avg.f_copy_(&find(&format!("exp_avg.{}", slot.name))?)?;
                slot.exp_avg_sq.f_copy_(&find(&format!("exp_avg_sq.{}", slot.name))?)?;
            }
            Ok(())
        })?;
        self.step = step;
        Ok(())
    }
}

/// Scales gradients so that their global L2 norm is at most `max_norm`; returns the norm before
/// clipping (`clip_grad_norm_`'s rule: coefficient `max_norm / (norm + 1e-6)`, applied below 1).
pub fn clip_grad_norm(params: &[Tensor], max_norm: f64) -> Result<f64> {
    let grads: Vec<Tensor> = params.iter().map(Tensor::grad).filter(Tensor::defined).collect();
    if grads.is_empty() {
        return Ok(0.0);
    }
    let total = tch::no_grad(|| -> Result<f64> {
        // As PyTorch: the norm of the per-tensor norms (one read of each gradient, no copies).
        let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
        Ok(Tensor::stack(&norms, 0)
            .to_kind(Kind::Double)
            .norm()
            .f_double_value(&[])?)
    })?;
    let coefficient = max_norm / (total + 1e-6);
    if coefficient < 1.0 {
        tch::no_grad(|| -> Result<()> {
            for mut g in grads {
                let _ = g.f_mul_scalar_(coefficient)?;
            }
            Ok(())
        })?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtorch_errors_in_the_fused_kernel_come_back_as_errors() {
        // The fused kernel has no integer version: libtorch throws inside the shim.
        let t = || Tensor::zeros([3], (Kind::Int64, tch::Device::Cpu));
        let err = fused_adamw(&[t()], &[t()], &[t()], &[t()], 0.1, AdamWConfig::default(), 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("fused AdamW") && err.contains("Long"), "{err}");
        // An empty group (every parameter without a gradient) changes nothing.
        fused_adamw(&[], &[], &[], &[], 0.1, AdamWConfig::default(), 1).unwrap();
    }

    #[test]
    fn one_fused_step_is_adamw() {
        // First step from zero moments: after bias correction m̂ = g and v̂ = g², so the update
        // is lr · g / (|g| + ε) ≈ lr · sign(g); decay first scales p by 1 - lr · wd.
        let c = AdamWConfig {
            weight_decay: 0.01,
            ..AdamWConfig::default()
        };
        let p = Tensor::from_slice(&[1.0f64, -2.0, 0.5]);
        let g = Tensor::from_slice(&[0.3f64, -0.1, 2.0]);
        let (m, v) = (p.zeros_like(), p.zeros_like());
        fused_adamw(&[p.shallow_clone()], &[g], &[m], &[v], 0.1, c, 1).unwrap();
        let want = [
            1.0 * (1.0 - 0.001) - 0.1,
            -2.0 * (1.0 - 0.001) + 0.1,
            0.5 * (1.0 - 0.001) - 0.1,
        ];
        for (got, want) in Vec::<f64>::try_from(&p).unwrap().iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }
}
