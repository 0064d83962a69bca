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
    /// Reused every step: fresh parameter-sized temporaries cost more than the arithmetic.
    scratch: Tensor,
    decay: bool,
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
                scratch: param.zeros_like(),
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

    /// Applies one update with learning rate `lr` from the parameters' gradients.
    pub fn step(&mut self, lr: f64) -> Result<()> {
        self.step += 1;
        let c = self.config;
        let bias1 = 1.0 - c.beta1.powi(self.step as i32);
        let bias2 = 1.0 - c.beta2.powi(self.step as i32);
        let step_size = lr / bias1;
        // torch.optim.AdamW's single-tensor update, in place: every operation below reads and
        // writes existing tensors, none allocates.
        tch::no_grad(|| -> Result<()> {
            for slot in &mut self.slots {
                let grad = slot.param.grad();
                if !grad.defined() {
                    continue;
                }
                if slot.decay && c.weight_decay != 0.0 {
                    let _ = slot.param.f_mul_scalar_(1.0 - lr * c.weight_decay)?;
                }
                // m = β1 m + (1 - β1) g
                let _ = slot.exp_avg.f_lerp_(&grad, 1.0 - c.beta1)?;
                // v = β2 v + (1 - β2) g²
                let _ = grad.f_mul_scalar_out(&slot.scratch, 1.0 - c.beta2)?;
                let _ = slot
                    .exp_avg_sq
                    .f_mul_scalar_(c.beta2)?
                    .f_addcmul_(&slot.scratch, &grad)?;
                if step_size == 0.0 {
                    continue; // a zero learning rate (warm-up's first step) moves nothing
                }
                // p -= step m / (√v / √(1 - β2^t) + ε), as p += m / (-(√v / √(1 - β2^t) + ε) / step)
                let _ = slot.exp_avg_sq.f_sqrt_out(&slot.scratch)?;
                let _ = slot
                    .scratch
                    .f_mul_scalar_(-1.0 / (bias2.sqrt() * step_size))?
                    .f_add_scalar_(-c.eps / step_size)?;
                let _ = slot.param.f_addcdiv_(&slot.exp_avg, &slot.scratch)?;
            }
            Ok(())
        })
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
