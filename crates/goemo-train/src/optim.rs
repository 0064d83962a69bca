//! Optimisers behind one trait: AdamW with decoupled weight decay (`torch.optim.AdamW`, through
//! libtorch's fused kernel), and two wrappers that compose with any optimiser: global-norm
//! gradient clipping ([`Clipped`], `torch.nn.utils.clip_grad_norm_`) and gradient accumulation
//! ([`Accumulated`]).

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::{Result, TrainError};

/// An optimiser over parameters whose gradients libtorch's autograd fills.
///
/// [`Optimizer::step`] is called once per backward pass; it answers whether the parameters
/// changed, so that wrappers such as [`Accumulated`] can hold updates back. The learning rate
/// comes from outside (a schedule) before each step.
///
/// ```
/// use goemo_train::{AdamW, AdamWConfig, Accumulated, Clipped, Optimizer};
/// use tch::{Kind, Tensor};
///
/// let w = Tensor::ones([3], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
/// let adamw = AdamW::new(vec![("w".into(), w.shallow_clone())], AdamWConfig::default());
/// // Clip the summed gradients of two backward passes to norm 1, then update.
/// let mut optimizer = Accumulated::new(Clipped::new(adamw, 1.0), 2);
/// optimizer.set_learning_rate(0.1);
/// for _ in 0..2 {
///     (&w * &w).sum(Kind::Float).backward();
///     let updated = optimizer.step()?;
///     println!("updated: {updated}");
/// }
/// # Ok::<(), goemo_train::TrainError>(())
/// ```
pub trait Optimizer {
    /// Takes the gradients of one backward pass; returns whether the parameters were updated
    /// (and their gradients cleared).
    fn step(&mut self) -> Result<bool>;

    /// Applies any gradients held back (the end of an epoch); returns whether it updated.
    fn flush(&mut self) -> Result<bool> {
        Ok(false)
    }

    /// Called before each backward pass. `completes_update`: the caller knows that an update
    /// follows this pass (the epoch's last batch, which `flush` follows); wrappers that
    /// accumulate pass on whether their own next `step` updates. [`crate::AllReduced`] uses it
    /// to sum the gradients while that backward pass runs.
    fn before_backward(&mut self, completes_update: bool) -> Result<()> {
        let _ = completes_update;
        Ok(())
    }

    /// A 0-d float32 tensor on the parameters' device that makes the next update a no-op
    /// while it holds a nonzero value (AMP's `found_inf`): optimisers whose whole update runs
    /// on the device offer one ([`AdamW::on_device`]), and a recorded step writes it from the
    /// loss, since it cannot read the loss before updating.
    fn skip_flag(&self) -> Option<Tensor> {
        None
    }

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate of the next step.
    fn set_learning_rate(&mut self, lr: f64);

    /// Updates applied so far.
    fn updates(&self) -> u64;

    /// The state a resumed run needs, as named tensors (saved with the training state).
    fn state(&self) -> Vec<(String, Tensor)>;

    /// Restores [`Optimizer::state`] and the number of updates applied.
    fn load_state(&mut self, tensors: &[(String, Tensor)], updates: u64) -> Result<()>;
}

/// AdamW's hyperparameters (the learning rate comes from the schedule at each step).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the second moment's root.
    pub eps: f64,
    /// Decoupled weight decay.
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
/// BERT and `transformers`' Trainer).
pub fn decays(name: &str) -> bool {
    let layer_norm = name.contains("LayerNorm.") || name.contains("layer_norm.");
    !(name.ends_with(".bias") || name == "bias" || layer_norm)
}

/// Layer-wise learning-rate decay: the output layers keep the full rate, encoder layer `i` of
/// `L` gets `decay^(L − i)` and the embeddings `decay^(L + 1)` (layer indices are read from
/// names such as `bert.encoder.layer.3.` or `distilbert.transformer.layer.3.`).
pub fn layer_decay(names: &[String], decay: f64) -> impl Fn(&str) -> f64 {
    fn layer_of(name: &str) -> Option<usize> {
        let rest = name.split(".layer.").nth(1)?;
        rest.split('.').next()?.parse().ok()
    }
    let layers = names.iter().filter_map(|n| layer_of(n)).max().map_or(0, |m| m + 1);
    move |name: &str| match layer_of(name) {
        Some(i) => decay.powi((layers - i.min(layers)) as i32),
        None if name.contains("embeddings.") => decay.powi(layers as i32 + 1),
        None => 1.0,
    }
}

/// One parameter and its moment estimates.
#[derive(Debug)]
struct Slot {
    name: String,
    param: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    decay: bool,
    /// This parameter's learning rate relative to the optimiser's.
    lr_scale: f64,
}

/// AdamW over named parameters, with no decay on biases and LayerNorm weights.
///
/// libtorch's fused AdamW kernel does the work (`torch.optim.AdamW(fused=True)`): one pass over
/// each parameter, gradient and moments, where the element-wise formulation makes five or six
/// (`scripts/bench_adamw_torch.py` times the variants in PyTorch); on CUDA, one launch per
/// decay group.
#[derive(Debug)]
pub struct AdamW {
    config: AdamWConfig,
    slots: Vec<Slot>,
    lr: f64,
    updates: u64,
    on_device: Option<DeviceSchedule>,
}

/// The values AdamW's update reads that change from step to step, as 0-d float32 tensors on
/// the parameters' device ([`AdamW::on_device`]).
#[derive(Debug)]
struct DeviceSchedule {
    lr: Tensor,
    step: Tensor,
    skip: Tensor,
}

impl AdamW {
    /// An optimiser over `(name, parameter)` pairs (e.g. `TrainableModel::named_parameters`).
    pub fn new(params: Vec<(String, Tensor)>, config: AdamWConfig) -> Self {
        let slots = params
            .into_iter()
            .map(|(name, param)| Slot {
                decay: decays(&name),
                lr_scale: 1.0,
                exp_avg: param.zeros_like(),
                exp_avg_sq: param.zeros_like(),
                name,
                param,
            })
            .collect();
        AdamW {
            config,
            slots,
            lr: 0.0,
            updates: 0,
            on_device: None,
        }
    }

    /// Keeps the learning rate, the step number and a skip flag ([`Optimizer::skip_flag`]) in
    /// tensors on the parameters' device, so that an update is device work only, with no value
    /// taken from the host: what a step recorded once and replayed (a CUDA graph) needs. The
    /// updates equal the host-scheduled ones to float32 precision of the learning rate.
    pub fn on_device(mut self) -> Result<Self> {
        let device = self.slots.first().map_or(tch::Device::Cpu, |s| s.param.device());
        let scalar = |value: f64| Tensor::f_full([], value, (tch::Kind::Float, device));
        self.on_device = Some(DeviceSchedule {
            lr: scalar(self.lr)?,
            step: scalar(self.updates as f64)?,
            skip: scalar(0.0)?,
        });
        Ok(self)
    }

    /// Scales each parameter's learning rate by `scale(name)` (layer-wise decay, say:
    /// [`layer_decay`]).
    pub fn with_lr_scales(mut self, scale: impl Fn(&str) -> f64) -> Self {
        for slot in &mut self.slots {
            slot.lr_scale = scale(&slot.name);
        }
        self
    }

    /// The parameters, in the order given.
    pub fn parameters(&self) -> Vec<Tensor> {
        self.slots.iter().map(|s| s.param.shallow_clone()).collect()
    }

    /// Clears every gradient in place (`step` does this after each update): gradients that are
    /// views of data-parallel buckets stay views (no `detach_`, which views refuse; gradients of
    /// a plain backward pass have no history to detach).
    pub fn zero_grad(&mut self) {
        tch::no_grad(|| {
            for slot in &mut self.slots {
                let mut grad = slot.param.grad();
                if grad.defined() {
                    let _ = grad.zero_();
                }
            }
        });
    }
}

impl Optimizer for AdamW {
    /// Applies one update from the parameters' gradients (parameters without a gradient are
    /// left alone), then clears the gradients.
    fn step(&mut self) -> Result<bool> {
        self.updates += 1;
        if let Some(schedule) = &self.on_device {
            let _ = tch::no_grad(|| schedule.step.shallow_clone().f_add_scalar_(1.0))?;
        }
        let c = self.config;
        // One fused call per group of parameters sharing decay and learning rate.
        let mut groups: Vec<(bool, f64)> = Vec::new();
        for decay in [true, false] {
            for slot in self.slots.iter().filter(|s| s.decay == decay) {
                if !groups.contains(&(decay, slot.lr_scale)) {
                    groups.push((decay, slot.lr_scale));
                }
            }
        }
        for (decay, scale) in groups {
            let (mut params, mut grads, mut exp_avgs, mut exp_avg_sqs) = (vec![], vec![], vec![], vec![]);
            for slot in self.slots.iter().filter(|s| s.decay == decay && s.lr_scale == scale) {
                let grad = slot.param.grad();
                if grad.defined() {
                    params.push(slot.param.shallow_clone());
                    grads.push(grad);
                    exp_avgs.push(slot.exp_avg.shallow_clone());
                    exp_avg_sqs.push(slot.exp_avg_sq.shallow_clone());
                }
            }
            let weight_decay = if decay { c.weight_decay } else { 0.0 };
            match &self.on_device {
                Some(schedule) => {
                    let lr = tch::no_grad(|| &schedule.lr * scale);
                    let group = goemo_torch::AdamWOnDevice {
                        lr: &lr,
                        step: &schedule.step,
                        skip: Some(&schedule.skip),
                        beta1: c.beta1,
                        beta2: c.beta2,
                        eps: c.eps,
                        weight_decay,
                    };
                    goemo_torch::fused_adamw_on_device(&params, &grads, &exp_avgs, &exp_avg_sqs, &group)?;
                }
                None => {
                    let group = goemo_torch::AdamWGroup {
                        lr: self.lr * scale,
                        beta1: c.beta1,
                        beta2: c.beta2,
                        eps: c.eps,
                        weight_decay,
                        step: self.updates,
                    };
                    goemo_torch::fused_adamw(&params, &grads, &exp_avgs, &exp_avg_sqs, group)?;
                }
            }
        }
        if let Some(schedule) = &self.on_device {
            // A skipped update does not count (the bias corrections of the next one).
            let _ = tch::no_grad(|| schedule.step.shallow_clone().f_sub_(&schedule.skip))?;
        }
        self.zero_grad();
        Ok(true)
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
        if let Some(schedule) = &self.on_device {
            // Queued on the device like the step that reads it; an error shows in that step.
            let _ = tch::no_grad(|| schedule.lr.shallow_clone().f_fill_(lr));
        }
    }

    fn skip_flag(&self) -> Option<Tensor> {
        self.on_device.as_ref().map(|s| s.skip.shallow_clone())
    }

    fn updates(&self) -> u64 {
        self.updates
    }

    /// The moments as `exp_avg.NAME` and `exp_avg_sq.NAME`.
    fn state(&self) -> Vec<(String, Tensor)> {
        let mut tensors = Vec::with_capacity(self.slots.len() * 2);
        for slot in &self.slots {
            tensors.push((format!("exp_avg.{}", slot.name), slot.exp_avg.shallow_clone()));
            tensors.push((format!("exp_avg_sq.{}", slot.name), slot.exp_avg_sq.shallow_clone()));
        }
        tensors
    }

    /// Every parameter's moments must be there.
    fn load_state(&mut self, tensors: &[(String, Tensor)], updates: u64) -> Result<()> {
        let find = |name: &str| {
            tensors
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.shallow_clone())
                .ok_or_else(|| TrainError::MissingState(format!("optimiser moments {name}")))
        };
        tch::no_grad(|| -> Result<()> {
            for slot in &mut self.slots {
                slot.exp_avg.f_copy_(&find(&format!("exp_avg.{}", slot.name))?)?;
                slot.exp_avg_sq.f_copy_(&find(&format!("exp_avg_sq.{}", slot.name))?)?;
            }
            Ok(())
        })?;
        self.updates = updates;
        if let Some(schedule) = &self.on_device {
            let _ = tch::no_grad(|| schedule.step.shallow_clone().f_fill_(updates as f64))?;
        }
        Ok(())
    }
}

/// The `Optimizer` methods a wrapper passes straight to its `inner` optimiser.
macro_rules! delegate_to_inner {
    () => {
        fn skip_flag(&self) -> Option<Tensor> {
            self.inner.skip_flag()
        }

        fn learning_rate(&self) -> f64 {
            self.inner.learning_rate()
        }

        fn set_learning_rate(&mut self, lr: f64) {
            self.inner.set_learning_rate(lr)
        }

        fn updates(&self) -> u64 {
            self.inner.updates()
        }

        fn state(&self) -> Vec<(String, Tensor)> {
            self.inner.state()
        }
    };
}
pub(crate) use delegate_to_inner;

/// Scales the gradients of `params` so that their global L2 norm is at most `max_norm` before
/// each update of the wrapped optimiser.
#[derive(Debug)]
pub struct Clipped<O> {
    inner: O,
    params: Vec<Tensor>,
    max_norm: f64,
}

impl Clipped<AdamW> {
    /// Clips the gradients of AdamW's own parameters.
    pub fn new(inner: AdamW, max_norm: f64) -> Self {
        let params = inner.parameters();
        Clipped::with_parameters(inner, params, max_norm)
    }
}

impl<O: Optimizer> Clipped<O> {
    /// Clips the gradients of `params`, then steps `inner`.
    pub fn with_parameters(inner: O, params: Vec<Tensor>, max_norm: f64) -> Self {
        Clipped {
            inner,
            params,
            max_norm,
        }
    }
}

impl<O: Optimizer> Optimizer for Clipped<O> {
    fn step(&mut self) -> Result<bool> {
        // The norm stays on the device: reading it would wait for the device every step.
        let _norm = clip_grad_norm(&self.params, self.max_norm)?;
        self.inner.step()
    }

    fn flush(&mut self) -> Result<bool> {
        self.inner.flush()
    }

    fn before_backward(&mut self, completes_update: bool) -> Result<()> {
        self.inner.before_backward(completes_update)
    }

    delegate_to_inner!();

    fn load_state(&mut self, tensors: &[(String, Tensor)], updates: u64) -> Result<()> {
        self.inner.load_state(tensors, updates)
    }
}

/// Gradient accumulation: the gradients of `every` backward passes add up (autograd sums
/// them) before one update of the wrapped optimiser. Scale each loss by `1 / every` to
/// average them.
#[derive(Debug)]
pub struct Accumulated<O> {
    inner: O,
    every: usize,
    pending: usize,
}

impl<O: Optimizer> Accumulated<O> {
    /// Updates once every `every` steps (at least 1).
    pub fn new(inner: O, every: usize) -> Self {
        Accumulated {
            inner,
            every: every.max(1),
            pending: 0,
        }
    }
}

impl<O: Optimizer> Optimizer for Accumulated<O> {
    fn step(&mut self) -> Result<bool> {
        self.pending += 1;
        if self.pending < self.every {
            return Ok(false);
        }
        self.pending = 0;
        self.inner.step()
    }

    fn flush(&mut self) -> Result<bool> {
        if self.pending == 0 {
            return self.inner.flush();
        }
        self.pending = 0;
        self.inner.step()
    }

    fn before_backward(&mut self, completes_update: bool) -> Result<()> {
        self.inner
            .before_backward(completes_update || self.pending + 1 >= self.every)
    }

    delegate_to_inner!();

    fn load_state(&mut self, tensors: &[(String, Tensor)], updates: u64) -> Result<()> {
        self.pending = 0;
        self.inner.load_state(tensors, updates)
    }
}

impl Optimizer for Box<dyn Optimizer> {
    fn step(&mut self) -> Result<bool> {
        (**self).step()
    }
    fn flush(&mut self) -> Result<bool> {
        (**self).flush()
    }
    fn before_backward(&mut self, completes_update: bool) -> Result<()> {
        (**self).before_backward(completes_update)
    }
    fn skip_flag(&self) -> Option<Tensor> {
        (**self).skip_flag()
    }
    fn learning_rate(&self) -> f64 {
        (**self).learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f64) {
        (**self).set_learning_rate(lr);
    }
    fn updates(&self) -> u64 {
        (**self).updates()
    }
    fn state(&self) -> Vec<(String, Tensor)> {
        (**self).state()
    }
    fn load_state(&mut self, tensors: &[(String, Tensor)], updates: u64) -> Result<()> {
        (**self).load_state(tensors, updates)
    }
}

/// Scales gradients so that their global L2 norm is at most `max_norm`; returns the norm before
/// clipping as a 0-d tensor on the gradients' device (`clip_grad_norm_(foreach=True)`: one
/// `_foreach_norm`, one `_foreach_mul_` by the coefficient `max_norm / (norm + 1e-6)` clamped
/// at 1, and no wait for the device).
pub fn clip_grad_norm(params: &[Tensor], max_norm: f64) -> Result<Tensor> {
    let grads: Vec<Tensor> = params.iter().map(Tensor::grad).filter(Tensor::defined).collect();
    Ok(tch::no_grad(|| goemo_torch::clip_grad_norm(&grads, max_norm))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// Counts updates; the trait's contract seen from a foreign optimiser.
    #[derive(Default)]
    struct Counting {
        lr: f64,
        updates: u64,
    }

    impl Optimizer for Counting {
        fn step(&mut self) -> Result<bool> {
            self.updates += 1;
            Ok(true)
        }
        fn learning_rate(&self) -> f64 {
            self.lr
        }
        fn set_learning_rate(&mut self, lr: f64) {
            self.lr = lr;
        }
        fn updates(&self) -> u64 {
            self.updates
        }
        fn state(&self) -> Vec<(String, Tensor)> {
            vec![]
        }
        fn load_state(&mut self, _: &[(String, Tensor)], updates: u64) -> Result<()> {
            self.updates = updates;
            Ok(())
        }
    }

    #[test]
    fn accumulation_updates_every_n_steps_and_on_flush() {
        let mut o = Accumulated::new(Counting::default(), 3);
        let applied: Vec<bool> = (0..7).map(|_| o.step().unwrap()).collect();
        assert_eq!(applied, [false, false, true, false, false, true, false]);
        assert!(
            o.flush().unwrap(),
            "the seventh step's gradients are applied at the flush"
        );
        assert!(!o.flush().unwrap(), "nothing left to flush");
        assert_eq!(o.updates(), 3);
        o.set_learning_rate(0.5);
        assert_eq!(o.learning_rate(), 0.5);
    }

    #[test]
    fn clipping_wraps_any_optimiser() {
        let w = Tensor::from_slice(&[3.0f32, 4.0]).set_requires_grad(true);
        (&w * 1.0).sum(Kind::Float).backward(); // gradient (1, 1), norm √2
        let mut o = Clipped::with_parameters(Counting::default(), vec![w.shallow_clone()], 0.5);
        assert!(o.step().unwrap());
        let g = Vec::<f32>::try_from(w.grad()).unwrap();
        let norm = (g[0] * g[0] + g[1] * g[1]).sqrt();
        assert!((norm - 0.5).abs() < 1e-5, "{norm}");
        assert_eq!(o.updates(), 1);
    }

    #[test]
    fn layer_decay_scales_by_depth() {
        let names: Vec<String> = [
            "bert.embeddings.word_embeddings.weight",
            "bert.encoder.layer.0.output.dense.weight",
            "bert.encoder.layer.1.output.dense.weight",
            "classifier.weight",
        ]
        .map(String::from)
        .to_vec();
        let scale = layer_decay(&names, 0.5);
        let scales: Vec<f64> = names.iter().map(|n| scale(n)).collect();
        assert_eq!(scales, [0.125, 0.25, 0.5, 1.0]);
        // Groups of other rates update by their own rate: a parameter at scale 0 stays put.
        let w = Tensor::ones([2], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let frozen = Tensor::ones([2], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let named = vec![
            ("w".to_string(), w.shallow_clone()),
            ("frozen".to_string(), frozen.shallow_clone()),
        ];
        let mut o = AdamW::new(named, AdamWConfig::default()).with_lr_scales(|n| if n == "frozen" { 0.0 } else { 1.0 });
        o.set_learning_rate(0.1);
        ((&w * &w).sum(Kind::Float) + (&frozen * &frozen).sum(Kind::Float)).backward();
        o.step().unwrap();
        assert!(f64::try_from(w.sum(Kind::Float)).unwrap() < 2.0);
        assert_eq!(f64::try_from(frozen.sum(Kind::Float)).unwrap(), 2.0);
    }

    #[test]
    fn adamw_clears_gradients_and_keeps_its_state() {
        let w = Tensor::ones([2], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let mut o = AdamW::new(vec![("w".into(), w.shallow_clone())], AdamWConfig::default());
        o.set_learning_rate(0.1);
        (&w * &w).sum(Kind::Float).backward();
        assert!(o.step().unwrap());
        assert_eq!(f64::try_from(w.grad().abs().sum(Kind::Float)).unwrap(), 0.0);
        let state = o.state();
        assert_eq!(state.len(), 2);
        let mut fresh = AdamW::new(vec![("w".into(), w.shallow_clone())], AdamWConfig::default());
        fresh.load_state(&state, 1).unwrap();
        assert_eq!(fresh.updates(), 1);
        let err = fresh.load_state(&[], 1).unwrap_err().to_string();
        assert!(err.contains("exp_avg.w"), "{err}");
    }

    #[test]
    fn adamw_on_the_device_equals_adamw_on_the_host_and_skips_when_flagged() {
        let make = |on_device: bool| {
            tch::manual_seed(7);
            let w = Tensor::randn([4, 3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
            let b = Tensor::randn([3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
            let params = vec![
                ("layer.weight".to_string(), w.shallow_clone()),
                ("layer.bias".to_string(), b.shallow_clone()),
            ];
            let mut adamw =
                AdamW::new(params, AdamWConfig::default())
                    .with_lr_scales(|n| if n.ends_with("bias") { 0.5 } else { 1.0 });
            if on_device {
                adamw = adamw.on_device().unwrap();
            }
            (Clipped::new(adamw, 0.5), w, b)
        };
        let (mut host, hw, hb) = make(false);
        let (mut device, dw, db) = make(true);
        assert!(host.skip_flag().is_none());
        let skip = device.skip_flag().expect("a device schedule offers a skip flag");
        let x = Tensor::randn([5, 4], (Kind::Float, Device::Cpu));
        for step in 0..4 {
            for (optimizer, w, b) in [(&mut host, &hw, &hb), (&mut device, &dw, &db)] {
                optimizer.set_learning_rate(0.01 / f64::from(step + 1));
                (x.matmul(w) + b).pow_tensor_scalar(2).sum(Kind::Float).backward();
                assert!(optimizer.step().unwrap());
            }
        }
        assert!(hw.allclose(&dw, 1e-6, 1e-7, false) && hb.allclose(&db, 1e-6, 1e-7, false));
        // With the flag raised the update leaves parameters, moments and the step count alone.
        let _ = skip.shallow_clone().fill_(1.0);
        let before: Vec<Tensor> = device
            .state()
            .iter()
            .map(|(_, t)| t.copy())
            .chain([dw.copy()])
            .collect();
        (x.matmul(&dw) + &db).sum(Kind::Float).backward();
        device.step().unwrap();
        let after: Vec<Tensor> = device
            .state()
            .iter()
            .map(|(_, t)| t.copy())
            .chain([dw.copy()])
            .collect();
        assert!(before.iter().zip(&after).all(|(a, b)| a.equal(b)));
        // The next unflagged update is the fifth: the same as the host optimiser's fifth.
        let _ = skip.shallow_clone().fill_(0.0);
        for (optimizer, w, b) in [(&mut host, &hw, &hb), (&mut device, &dw, &db)] {
            optimizer.set_learning_rate(0.002);
            (x.matmul(w) + b).pow_tensor_scalar(2).sum(Kind::Float).backward();
            optimizer.step().unwrap();
        }
        assert!(hw.allclose(&dw, 1e-6, 1e-7, false));
    }
}
