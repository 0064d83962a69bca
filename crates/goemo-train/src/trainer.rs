//! The training loop as a [`Trainer`]: epochs of length-bucketed batches, an [`Optimizer`]
//! stepped on an [`LrSchedule`], dev evaluations after each epoch (and every N steps), the best
//! evaluation's weights kept, and a [`TrainState`] saved so that a killed run resumes exactly.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use goemo_data::{Batcher, ShapeBuckets};
use goemo_metrics::{Headline, MetricReport};
use goemo_model::{StaticForward, TensorBatch, TrainableModel};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::evaluate::evaluate_dev;
use crate::state::{take, BestEvaluation, StateDir, TrainState};
use crate::{
    Accumulated, AdamW, AdamWConfig, AllReduced, Clipped, DataParallel, Loss, LrSchedule, Optimizer, Result, Schedule,
    ScheduleKind, StaticStep, StaticStepCounts, TrainError,
};

/// Every setting of the training loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// Examples per batch.
    pub batch_size: usize,
    /// Passes over the training split.
    pub epochs: usize,
    /// AdamW's betas, epsilon and weight decay.
    pub adamw: AdamWConfig,
    /// Warm-up as a fraction of the optimiser steps (ignored when `warmup_steps` is set).
    pub warmup_ratio: f64,
    /// Warm-up in optimiser steps.
    pub warmup_steps: Option<u64>,
    /// Shape of the learning-rate decay after warm-up.
    pub schedule: ScheduleKind,
    /// Global gradient-norm limit; `None` turns clipping off.
    pub max_grad_norm: Option<f64>,
    /// Layer-wise learning-rate decay (1: the same rate everywhere); see [`crate::layer_decay`].
    pub layer_lr_decay: f64,
    /// Batches whose gradients add up to one optimiser step.
    pub accumulation: usize,
    /// Seed of initialisation, shuffling and dropout.
    pub seed: u64,
    /// The training loss.
    pub loss: Loss,
    /// The dev metric that picks the best evaluation.
    pub select_by: Headline,
    /// Stop after this many epochs without a better dev metric.
    pub patience: Option<usize>,
    /// Stop after this many optimiser steps.
    pub max_steps: Option<u64>,
    /// Batches per length bucket when shuffling.
    pub bucket_batches: usize,
    /// Examples per batch when evaluating.
    pub eval_batch_size: usize,
    /// Show a progress bar on standard error.
    pub progress: bool,
    /// Save the training state every this many optimiser steps (0: at the end of epochs only),
    /// when a state folder is given.
    pub save_every: u64,
    /// Also evaluate on dev every this many optimiser steps inside epochs (0: at the end of
    /// epochs only); these evaluations compete for the best checkpoint too.
    pub eval_every: u64,
    /// Static-shape steps ([`StaticStep`]): batches padded to `batch_size` rows and to a length
    /// in steps of [`ShapeBuckets::LENGTH_STEP`] tokens, each step device work only; on CUDA each shape
    /// is recorded once as a CUDA graph and replayed. On other devices the same steps run
    /// eagerly. One process, no gradient accumulation.
    #[serde(default)]
    pub cuda_graphs: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            lr: 5e-5,
            batch_size: 32,
            epochs: 3,
            adamw: AdamWConfig::default(),
            warmup_ratio: 0.1,
            warmup_steps: None,
            schedule: ScheduleKind::Linear,
            max_grad_norm: Some(1.0),
            layer_lr_decay: 1.0,
            accumulation: 1,
            seed: 42,
            loss: Loss::Bce,
            select_by: Headline::AucMicro,
            patience: None,
            max_steps: None,
            bucket_batches: 50,
            eval_batch_size: 128,
            progress: false,
            save_every: 200,
            eval_every: 0,
            cuda_graphs: false,
        }
    }
}

impl TrainConfig {
    /// Checks the options that cannot work, before anything is loaded.
    pub fn validate(&self) -> Result<()> {
        let at_least_one = [
            ("batch size", self.batch_size),
            ("gradient accumulation", self.accumulation),
            ("epochs", self.epochs),
            ("eval batch size", self.eval_batch_size),
        ];
        for (name, value) in at_least_one {
            if value == 0 {
                return Err(TrainError::InvalidOption(format!("{name} must be at least 1")));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(TrainError::InvalidOption(format!(
                "learning rate {} must be positive",
                self.lr
            )));
        }
        if !(self.layer_lr_decay > 0.0 && self.layer_lr_decay <= 1.0) {
            return Err(TrainError::InvalidOption(format!(
                "layer-wise learning-rate decay {} must be within (0, 1]",
                self.layer_lr_decay
            )));
        }
        if self.cuda_graphs && self.accumulation != 1 {
            return Err(TrainError::InvalidOption(format!(
                "CUDA graph steps update every batch: gradient accumulation {} is not available with them",
                self.accumulation
            )));
        }
        if !(0.0..=1.0).contains(&self.warmup_ratio) {
            return Err(TrainError::InvalidOption(format!(
                "warm-up ratio {} must be within [0, 1]",
                self.warmup_ratio
            )));
        }
        Ok(())
    }

    /// Optimiser steps over `train_examples` examples (epochs, accumulation, `max_steps`).
    pub fn total_steps(&self, train_examples: usize) -> u64 {
        let batches_per_epoch = train_examples.div_ceil(self.batch_size) as u64;
        let steps_per_epoch = batches_per_epoch.div_ceil(self.accumulation as u64);
        self.max_steps
            .unwrap_or(u64::MAX)
            .min(steps_per_epoch * self.epochs as u64)
    }

    /// The configured warm-up and decay over `total_steps`.
    pub fn schedule(&self, total_steps: u64) -> Schedule {
        match self.warmup_steps {
            Some(w) => Schedule {
                peak_lr: self.lr,
                warmup_steps: w,
                total_steps,
                kind: self.schedule,
            },
            None => Schedule::with_warmup_ratio(self.lr, self.warmup_ratio, total_steps, self.schedule),
        }
    }

    /// The configured optimiser over `params`: AdamW, with clipping when `max_grad_norm` is
    /// set, accumulating `accumulation` batches per update; with `cuda_graphs`, AdamW keeps its
    /// schedule on the device ([`AdamW::on_device`]).
    pub fn optimizer(&self, params: Vec<(String, Tensor)>) -> Result<Box<dyn Optimizer>> {
        self.parallel_optimizer(params, None)
    }

    /// [`TrainConfig::optimizer`], with the gradients summed over the ranks of `parallel`
    /// before clipping and each update.
    pub fn parallel_optimizer(
        &self,
        params: Vec<(String, Tensor)>,
        parallel: Option<Rc<DataParallel>>,
    ) -> Result<Box<dyn Optimizer>> {
        let names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
        let tensors: Vec<Tensor> = params.iter().map(|(_, t)| t.shallow_clone()).collect();
        let mut adamw = AdamW::new(params, self.adamw);
        if self.layer_lr_decay != 1.0 {
            adamw = adamw.with_lr_scales(crate::layer_decay(&names, self.layer_lr_decay));
        }
        if self.cuda_graphs {
            adamw = adamw.on_device()?;
        }
        let inner: Box<dyn Optimizer> = match self.max_grad_norm {
            Some(max) => Box::new(Clipped::new(adamw, max)),
            None => Box::new(adamw),
        };
        Ok(match parallel {
            Some(p) => Box::new(Accumulated::new(AllReduced::new(inner, tensors, p), self.accumulation)),
            None => Box::new(Accumulated::new(inner, self.accumulation)),
        })
    }
}

/// Token ids and targets of one split.
#[derive(Debug, Clone, Copy)]
pub struct EncodedSplit<'a> {
    /// Token ids of each text.
    pub ids: &'a [Vec<u32>],
    /// 0/1 targets, one row per text.
    pub targets: ArrayView2<'a, f32>,
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch (0-based).
    pub epoch: usize,
    /// Optimiser steps taken by the epoch's end.
    pub steps: u64,
    /// Mean training loss of the epoch.
    pub train_loss: f64,
    /// Loss on dev after the epoch.
    pub dev_loss: f64,
    /// Dev metrics at a global threshold of 0.5.
    pub dev: MetricReport,
    /// The learning rate at the epoch's end.
    pub lr: f64,
    /// Wall time of the epoch, evaluation excluded.
    pub seconds: f64,
    /// Training throughput of the epoch.
    pub examples_per_s: f64,
}

/// A dev evaluation inside an epoch (`TrainConfig::eval_every`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepEvaluation {
    /// The epoch (0-based).
    pub epoch: usize,
    /// The optimiser step the evaluation came after.
    pub step: u64,
    /// Loss on dev.
    pub dev_loss: f64,
    /// Dev metrics at a global threshold of 0.5.
    pub dev: MetricReport,
}

/// The run's history and its best evaluation (whose weights the model holds at the end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// One record per epoch.
    pub history: Vec<EpochRecord>,
    /// Evaluations inside epochs, in order (empty unless `eval_every` is set).
    pub evaluations: Vec<StepEvaluation>,
    /// The epoch of the best evaluation (0-based).
    pub best_epoch: usize,
    /// The optimiser step the best evaluation came after.
    pub best_step: u64,
    /// The selection metric's best dev value.
    pub best_value: f64,
    /// Optimiser steps taken in all.
    pub steps: u64,
    /// With `cuda_graphs`: how many steps ran eagerly, how many shapes were recorded as CUDA
    /// graphs and how many steps replayed one (this process, from its start or resumption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_steps: Option<StaticStepCounts>,
}

impl TrainOutcome {
    /// Every dev evaluation in step order, those at epoch ends and those inside epochs: the step
    /// it came after, the dev loss and the dev metrics.
    pub fn dev_evaluations(&self) -> Vec<(u64, f64, &MetricReport)> {
        let mut all: Vec<(u64, f64, &MetricReport)> = self
            .history
            .iter()
            .map(|e| (e.steps, e.dev_loss, &e.dev))
            .chain(self.evaluations.iter().map(|e| (e.step, e.dev_loss, &e.dev)))
            .collect();
        all.sort_by_key(|e| e.0);
        all
    }
}

/// What the loop reports after each optimiser step (a line of `train_log.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepLog {
    /// The epoch (0-based).
    pub epoch: usize,
    /// Optimiser steps taken.
    pub step: u64,
    /// Mean training loss of the epoch so far.
    pub loss: f64,
    /// The learning rate of the next step.
    pub lr: f64,
    /// Training throughput since the epoch began.
    pub examples_per_s: f64,
}

/// Where a run saves its state, and whether it continues from a saved one.
#[derive(Debug, Clone, Default)]
pub struct RunState<'a> {
    /// Folder of the training state (weights, optimiser moments, progress); `None`: no saving.
    pub dir: Option<&'a Path>,
    /// Continue from the state in `dir` when there is one.
    pub resume: bool,
}

/// Whether an epoch ran to its end or was stopped by the step callback.
enum EpochEnd {
    Finished,
    Interrupted,
}

/// Trains a [`TrainableModel`]: generic over the model, with any [`Optimizer`] and
/// [`LrSchedule`] (by default the ones `TrainConfig` describes).
///
/// ```no_run
/// use goemo_train::{EncodedSplit, TrainConfig, Trainer};
/// # fn demo<'d>(model: &mut goemo_model::SequenceClassifier, train: EncodedSplit<'d>, dev: EncodedSplit<'d>) -> goemo_train::Result<()> {
/// let config = TrainConfig { epochs: 1, ..TrainConfig::default() };
/// let mut trainer = Trainer::new(model, train, dev, 0, config)?.with_state_dir("runs/demo/state");
/// trainer.resume()?;
/// let outcome = trainer.run(&mut |log| { println!("{log:?}"); false })?;
/// # Ok(()) }
/// ```
pub struct Trainer<'m, 'd, M: TrainableModel> {
    model: &'m mut M,
    config: TrainConfig,
    train: Batcher<'d>,
    dev: EncodedSplit<'d>,
    pad_id: u32,
    optimizer: Box<dyn Optimizer>,
    schedule: Box<dyn LrSchedule>,
    total_steps: u64,
    names: Vec<String>,
    params: Vec<Tensor>,
    state: TrainState,
    best_weights: Option<Vec<Tensor>>,
    state_dir: Option<StateDir>,
    bar: ProgressBar,
    parallel: Option<Rc<DataParallel>>,
    static_step: Option<StaticStep>,
    /// With `cuda_graphs`: dev evaluation over static shapes (recorded on CUDA too).
    static_forward: Option<RefCell<StaticForward>>,
}

impl<'m, 'd, M: TrainableModel> Trainer<'m, 'd, M> {
    /// A trainer of `model` on `train`, evaluating on `dev`; batches are padded with `pad_id`.
    pub fn new(
        model: &'m mut M,
        train: EncodedSplit<'d>,
        dev: EncodedSplit<'d>,
        pad_id: u32,
        config: TrainConfig,
    ) -> Result<Self> {
        config.validate()?;
        let batcher = Batcher::new(train.ids, pad_id)
            .with_targets(train.targets)?
            .with_token_type_ids(model.uses_token_types());
        let total_steps = config.total_steps(train.ids.len());
        let variables = model.named_parameters();
        let names = variables.iter().map(|(n, _)| n.clone()).collect();
        let params = variables.iter().map(|(_, t)| t.shallow_clone()).collect();
        let optimizer = config.optimizer(variables)?;
        let static_step = if config.cuda_graphs {
            let longest = train.ids.iter().map(Vec::len).max().unwrap_or(1);
            let shapes = ShapeBuckets::every(config.batch_size, ShapeBuckets::LENGTH_STEP, longest)?;
            let device = model.device();
            Some(StaticStep::new(
                shapes,
                &config.loss,
                optimizer.as_ref(),
                device,
                device.is_cuda(),
            )?)
        } else {
            None
        };
        let static_forward = if config.cuda_graphs {
            let longest = dev.ids.iter().map(Vec::len).max().unwrap_or(1);
            let shapes = ShapeBuckets::every(config.eval_batch_size, ShapeBuckets::LENGTH_STEP, longest)?;
            Some(RefCell::new(StaticForward::new(shapes, model.device().is_cuda())))
        } else {
            None
        };
        Ok(Trainer {
            optimizer,
            static_step,
            static_forward,
            schedule: Box::new(config.schedule(total_steps)),
            bar: progress_bar(config.progress, total_steps),
            model,
            config,
            train: batcher,
            dev,
            pad_id,
            total_steps,
            names,
            params,
            state: TrainState::default(),
            best_weights: None,
            state_dir: None,
            parallel: None,
        })
    }

    /// Trains data-parallel as one rank of `parallel`: the parameters become rank 0's, each
    /// global batch of `batch_size` is split across the ranks, the gradients are summed over
    /// them before the configured optimiser's clipping and update (which replaces any set
    /// before: call [`Trainer::with_optimizer`] after this with an [`AllReduced`] optimiser to
    /// use another), evaluations are sharded, and rank 0 alone saves the state and shows
    /// progress.
    pub fn with_data_parallel(mut self, parallel: Rc<DataParallel>) -> Result<Self> {
        if self.static_step.is_some() {
            return Err(TrainError::InvalidOption(
                "CUDA graph steps run in one process: data-parallel training takes the eager step".into(),
            ));
        }
        parallel.broadcast_parameters(&self.params)?;
        self.optimizer = self
            .config
            .parallel_optimizer(self.model.named_parameters(), Some(parallel.clone()))?;
        if !parallel.is_leader() {
            self.bar = ProgressBar::hidden();
        }
        self.parallel = Some(parallel);
        Ok(self)
    }

    /// Whether this process writes files and shows progress (rank 0, or a single process).
    pub fn is_leader(&self) -> bool {
        self.parallel.as_ref().is_none_or(|p| p.is_leader())
    }

    /// Uses another optimiser (built over this model's `named_parameters`).
    pub fn with_optimizer(mut self, optimizer: Box<dyn Optimizer>) -> Self {
        self.optimizer = optimizer;
        self
    }

    /// Uses another learning-rate schedule.
    pub fn with_schedule(mut self, schedule: Box<dyn LrSchedule>) -> Self {
        self.schedule = schedule;
        self
    }

    /// Saves the training state in `dir` (every `save_every` steps and after each epoch).
    pub fn with_state_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.state_dir = Some(StateDir {
            dir: dir.as_ref().to_path_buf(),
        });
        self
    }

    /// Optimiser steps the run will take.
    pub fn total_steps(&self) -> u64 {
        self.total_steps
    }

    /// Where the run is.
    pub fn state(&self) -> &TrainState {
        &self.state
    }

    /// Continues from the state in the state folder, when there is one; answers whether it did.
    pub fn resume(&mut self) -> Result<bool> {
        let resumed = self.resume_here()?;
        if let Some(parallel) = &self.parallel {
            // Every rank must continue from the same step (a state folder all ranks can read).
            let steps = parallel.gather_u64(if resumed { self.state.step + 1 } else { 0 }, "resumed steps")?;
            if steps.iter().any(|&s| s != steps[0]) {
                let describe = |s: u64| {
                    if s == 0 {
                        "found no state".to_string()
                    } else {
                        format!("resumed at step {}", s - 1)
                    }
                };
                let ranks: Vec<String> = steps
                    .iter()
                    .enumerate()
                    .map(|(r, &s)| format!("rank {r} {}", describe(s)))
                    .collect();
                return Err(TrainError::Mismatch(format!(
                    "the ranks do not resume from one state ({}): the state folder must be one that every rank reads",
                    ranks.join(", ")
                )));
            }
        }
        Ok(resumed)
    }

    fn resume_here(&mut self) -> Result<bool> {
        let Some(saved) = self.state_dir.as_ref().map(StateDir::load).transpose()?.flatten() else {
            return Ok(false);
        };
        let weights = take(&saved.tensors, &self.names, "model.")?;
        copy_into(&self.params, &weights)?;
        let moments: Vec<(String, Tensor)> = saved
            .tensors
            .iter()
            .filter_map(|(n, t)| n.strip_prefix("opt.").map(|n| (n.to_string(), t.shallow_clone())))
            .collect();
        self.optimizer.load_state(&moments, saved.state.step)?;
        self.best_weights = saved.best.map(|b| take(&b, &self.names, "")).transpose()?;
        self.state = saved.state;
        self.bar.set_position(self.state.step);
        Ok(true)
    }

    /// Runs the remaining epochs; the model ends with the weights of the best evaluation by
    /// `select_by`. `on_step` hears about each optimiser step; when it answers `true` the state
    /// is saved and [`TrainError::Interrupted`] returned. A non-finite loss stops the run with
    /// an error before any update, so the weights stay the last good ones.
    pub fn run(mut self, on_step: &mut dyn FnMut(&StepLog) -> bool) -> Result<TrainOutcome> {
        tch::manual_seed(self.config.seed as i64);
        while self.state.epoch < self.config.epochs && self.state.step < self.total_steps {
            let started = Instant::now();
            if let EpochEnd::Interrupted = self.run_epoch(started, on_step)? {
                self.bar.abandon();
                return Err(TrainError::Interrupted { step: self.state.step });
            }
            let improved = self.end_epoch(started)?;
            let best_epoch = self.state.best.map_or(0, |b| b.epoch);
            let patience_spent = self
                .config
                .patience
                .is_some_and(|p| !improved && self.state.epoch - 1 - best_epoch >= p);
            if patience_spent {
                break;
            }
        }
        self.finish()
    }

    /// The batches of the current epoch from where the state says it stands.
    fn run_epoch(&mut self, started: Instant, on_step: &mut dyn FnMut(&StepLog) -> bool) -> Result<EpochEnd> {
        let c = &self.config;
        let plan = self
            .train
            .train_plan(c.batch_size, c.bucket_batches, c.seed, self.state.epoch as u64)?;
        for (i, indices) in plan.iter().enumerate().skip(self.state.batch) {
            let last_batch = i + 1 == plan.len();
            if !self.train_step(i, indices, last_batch)? {
                continue;
            }
            self.state.batch = i + 1;
            let log = StepLog {
                epoch: self.state.epoch,
                step: self.state.step,
                loss: self.state.loss_sum / self.state.seen as f64,
                lr: self.schedule.lr(self.state.step),
                examples_per_s: self.state.seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
            };
            self.bar.inc(1);
            self.bar.set_message(format!(
                "epoch {} loss {:.4} lr {:.2e}",
                log.epoch + 1,
                log.loss,
                log.lr
            ));
            let stop = on_step(&log);
            if self.state.step >= self.total_steps {
                break;
            }
            let step = self.state.step;
            if self.config.eval_every > 0 && step % self.config.eval_every == 0 && !last_batch {
                self.evaluate_inside_epoch()?;
            }
            if stop || (self.config.save_every > 0 && step % self.config.save_every == 0) {
                self.checkpoint()?;
            }
            if stop {
                return Ok(EpochEnd::Interrupted);
            }
        }
        Ok(EpochEnd::Finished)
    }

    /// Forward and backward on batch `i` of the epoch (this rank's share of it when
    /// data-parallel); answers whether the optimiser updated.
    fn train_step(&mut self, i: usize, indices: &[usize], last_batch: bool) -> Result<bool> {
        let (seed, step) = (self.config.seed, self.state.step);
        let (local, rank) = match &self.parallel {
            Some(p) => (p.local_batch(indices), p.rank() as u64),
            None => (
                crate::parallel::LocalBatch {
                    indices: indices.to_vec(),
                    weight: 1.0,
                },
                0,
            ),
        };
        // Dropout masks depend on the seed and the position only, so a run can be replayed.
        tch::manual_seed((seed ^ (step << 20) ^ i as u64 ^ (rank << 48)) as i64);
        if let Some(static_step) = &mut self.static_step {
            let batch = self.train.static_batch(&local.indices, static_step.shapes())?;
            let lr = self.schedule.lr(step);
            let value = static_step.run(&*self.model, &mut self.optimizer, &batch, lr)?;
            if !value.is_finite() {
                let epoch = self.state.epoch;
                return Err(TrainError::NonFinite { epoch, step, value });
            }
            self.state.loss_sum += value * indices.len() as f64;
            self.state.seen += indices.len();
            self.state.step += 1;
            return Ok(true);
        }
        let batch = TensorBatch::new(&self.train.batch(&local.indices), self.model.device())?;
        let logits = self.model.forward_t(&batch, true)?;
        let targets = batch.targets.as_ref().ok_or(TrainError::MissingTargets)?;
        let loss = self.config.loss.compute(&logits.f_to_kind(Kind::Float)?, targets)?;
        let local_value = loss.f_double_value(&[])?;
        // The batch's mean loss: every rank's share weighted by its size.
        let value = match &self.parallel {
            Some(p) => p.sum(&[local_value * local.weight], "the training loss")?[0],
            None => local_value,
        };
        if !value.is_finite() {
            let epoch = self.state.epoch;
            return Err(TrainError::NonFinite { epoch, step, value });
        }
        // Data-parallel: an update after this pass sums its gradients while it runs.
        self.optimizer.before_backward(last_batch)?;
        (loss * (local.weight / self.config.accumulation as f64)).f_backward()?;
        self.state.loss_sum += value * indices.len() as f64;
        self.state.seen += indices.len();
        self.optimizer.set_learning_rate(self.schedule.lr(step));
        let mut updated = self.optimizer.step()?;
        if last_batch && !updated {
            updated = self.optimizer.flush()?;
        }
        if updated {
            self.state.step += 1;
        }
        Ok(updated)
    }

    /// A dev evaluation after `eval_every` steps; it competes for the best weights.
    fn evaluate_inside_epoch(&mut self) -> Result<()> {
        let (dev_loss, report) = self.evaluate()?;
        let (value, _) = self.consider(&report);
        let (epoch, step) = (self.state.epoch, self.state.step);
        self.bar.println(format!(
            "step {step}: dev loss {dev_loss:.4}, {} {value:.4}",
            self.config.select_by
        ));
        self.state.evaluations.push(StepEvaluation {
            epoch,
            step,
            dev_loss,
            dev: report,
        });
        Ok(())
    }

    /// The epoch's record and dev evaluation; the state moves to the next epoch and is saved.
    /// Answers whether the evaluation was the best so far.
    fn end_epoch(&mut self, started: Instant) -> Result<bool> {
        let seconds = started.elapsed().as_secs_f64();
        let (dev_loss, report) = self.evaluate()?;
        let (_, improved) = self.consider(&report);
        let s = &mut self.state;
        s.history.push(EpochRecord {
            epoch: s.epoch,
            steps: s.step,
            train_loss: s.loss_sum / s.seen.max(1) as f64,
            dev_loss,
            dev: report,
            lr: self.schedule.lr(s.step),
            seconds,
            examples_per_s: s.seen as f64 / seconds.max(1e-9),
        });
        (s.epoch, s.batch, s.loss_sum, s.seen) = (s.epoch + 1, 0, 0.0, 0);
        self.checkpoint()?;
        Ok(improved)
    }

    /// Records `report` as the best evaluation, with a copy of the weights, when it beats the
    /// best so far; returns the selection metric's value and whether it was the best.
    fn consider(&mut self, report: &MetricReport) -> (f64, bool) {
        let value = self.config.select_by.in_report(report).unwrap_or(f64::NEG_INFINITY);
        let improved = value > self.state.best_value();
        if improved {
            self.state.best = Some(BestEvaluation {
                epoch: self.state.epoch,
                step: self.state.step,
                value,
            });
            self.best_weights = Some(self.params.iter().map(|p| p.detach().copy()).collect());
        }
        (value, improved)
    }

    /// Dev loss and metrics at a global threshold of 0.5.
    pub fn evaluate(&self) -> Result<(f64, MetricReport)> {
        let mut forward = self.static_forward.as_ref().map(RefCell::borrow_mut);
        evaluate_dev(
            &*self.model,
            self.dev,
            self.pad_id,
            &self.config,
            self.parallel.as_deref(),
            forward.as_deref_mut(),
        )
    }

    /// Saves the state, the weights and the optimiser's state, when a state folder is set.
    pub fn checkpoint(&self) -> Result<()> {
        let Some(dir) = self.state_dir.as_ref().filter(|_| self.is_leader()) else {
            return Ok(());
        };
        let mut tensors: Vec<(String, Tensor)> = self
            .names
            .iter()
            .zip(&self.params)
            .map(|(n, p)| (format!("model.{n}"), p.detach()))
            .collect();
        tensors.extend(self.optimizer.state().into_iter().map(|(n, t)| (format!("opt.{n}"), t)));
        let best = self.best_weights.as_ref().map(|weights| {
            self.names
                .iter()
                .zip(weights)
                .map(|(n, t)| (n.clone(), t.shallow_clone()))
                .collect()
        });
        dir.save(&self.state, tensors, best)
    }

    /// Puts the best evaluation's weights into the model and reports the run.
    fn finish(self) -> Result<TrainOutcome> {
        self.bar.finish_and_clear();
        if let Some(weights) = &self.best_weights {
            copy_into(&self.params, weights)?;
        }
        let best = self.state.best;
        Ok(TrainOutcome {
            history: self.state.history,
            evaluations: self.state.evaluations,
            best_epoch: best.map_or(0, |b| b.epoch),
            best_step: best.map_or(0, |b| b.step),
            best_value: best.map_or(f64::NEG_INFINITY, |b| b.value),
            steps: self.state.step,
            static_steps: self.static_step.as_ref().map(StaticStep::counts),
        })
    }
}

/// Copies `sources` into `params`, in order, without recording gradients.
fn copy_into(params: &[Tensor], sources: &[Tensor]) -> Result<()> {
    tch::no_grad(|| -> Result<()> {
        for (p, s) in params.iter().zip(sources) {
            p.shallow_clone().f_copy_(s)?;
        }
        Ok(())
    })
}

fn progress_bar(show: bool, total_steps: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total_steps);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {per_sec}  {msg}  eta {eta}")
            .expect("a valid template"),
    );
    bar
}

/// Trains `model` on `train`, evaluating on `dev` after every epoch; the model ends with the
/// weights of the best evaluation by `config.select_by`. (A [`Trainer`] with its defaults.)
pub fn train<'d, M: TrainableModel>(
    model: &mut M,
    train: EncodedSplit<'d>,
    dev: EncodedSplit<'d>,
    pad_id: u32,
    config: &TrainConfig,
) -> Result<TrainOutcome> {
    train_resumable(model, train, dev, pad_id, config, &RunState::default(), &mut |_| false)
}

/// [`train`], saving its state in `state.dir` and continuing from it when `state.resume` is
/// set: a run killed at any point ends with the same metrics as an uninterrupted one.
pub fn train_resumable<'d, M: TrainableModel>(
    model: &mut M,
    train: EncodedSplit<'d>,
    dev: EncodedSplit<'d>,
    pad_id: u32,
    config: &TrainConfig,
    state: &RunState<'_>,
    on_step: &mut dyn FnMut(&StepLog) -> bool,
) -> Result<TrainOutcome> {
    let mut trainer = Trainer::new(model, train, dev, pad_id, config.clone())?;
    if let Some(dir) = state.dir {
        trainer = trainer.with_state_dir(dir);
        if state.resume {
            trainer.resume()?;
        }
    }
    trainer.run(on_step)
}
