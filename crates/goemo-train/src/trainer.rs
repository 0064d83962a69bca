//! The training loop: epochs of length-bucketed batches, AdamW with warm-up and decay, gradient
//! accumulation and clipping, a dev evaluation after each epoch, the best epoch's weights kept.

use std::path::Path;
use std::time::Instant;

use goemo_data::Batcher;
use goemo_metrics::MetricReport;
use goemo_model::{batch_tensors, SequenceClassifier};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::{clip_grad_norm, AdamW, AdamWConfig, Loss, Result, Schedule, ScheduleKind, TrainError};

/// The dev metric that picks the best epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectBy {
    AucMicro,
    AucMacro,
    ApMicro,
    F1Micro,
    F1Macro,
}

impl SelectBy {
    /// The metric's value in a report (undefined AUC/AP count as the worst).
    pub fn value(self, r: &MetricReport) -> f64 {
        match self {
            SelectBy::AucMicro => r.auc_micro.unwrap_or(f64::NEG_INFINITY),
            SelectBy::AucMacro => r.auc_macro.unwrap_or(f64::NEG_INFINITY),
            SelectBy::ApMicro => r.ap_micro.unwrap_or(f64::NEG_INFINITY),
            SelectBy::F1Micro => r.f1_micro,
            SelectBy::F1Macro => r.f1_macro,
        }
    }

    /// The metric's key in a `MetricReport`.
    pub fn name(self) -> &'static str {
        match self {
            SelectBy::AucMicro => "auc_micro",
            SelectBy::AucMacro => "auc_macro",
            SelectBy::ApMicro => "ap_micro",
            SelectBy::F1Micro => "f1_micro",
            SelectBy::F1Macro => "f1_macro",
        }
    }
}

/// Every setting of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub lr: f64,
    pub batch_size: usize,
    pub epochs: usize,
    pub adamw: AdamWConfig,
    /// Warm-up as a fraction of the optimiser steps (ignored when `warmup_steps` is set).
    pub warmup_ratio: f64,
    pub warmup_steps: Option<u64>,
    pub schedule: ScheduleKind,
    /// Global gradient-norm limit; `None` turns clipping off.
    pub max_grad_norm: Option<f64>,
    /// Batches whose gradients add up to one optimiser step.
    pub accumulation: usize,
    pub seed: u64,
    pub loss: Loss,
    pub select_by: SelectBy,
    /// Stop after this many epochs without a better dev metric.
    pub patience: Option<usize>,
    /// Stop after this many optimiser steps.
    pub max_steps: Option<u64>,
    /// Batches per length bucket when shuffling.
    pub bucket_batches: usize,
    pub eval_batch_size: usize,
    /// Show a progress bar on standard error.
    pub progress: bool,
    /// Save the training state every this many optimiser steps (0: at the end of epochs only),
    /// when a state folder is given.
    pub save_every: u64,
    /// Also evaluate on dev every this many optimiser steps inside epochs (0: at the end of
    /// epochs only); these evaluations compete for the best checkpoint too.
    pub eval_every: u64,
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
            accumulation: 1,
            seed: 42,
            loss: Loss::Bce,
            select_by: SelectBy::AucMicro,
            patience: None,
            max_steps: None,
            bucket_batches: 50,
            eval_batch_size: 128,
            progress: false,
            save_every: 0,
            eval_every: 0,
        }
    }
}

/// Token ids and targets of one split.
#[derive(Debug, Clone, Copy)]
pub struct EncodedSplit<'a> {
    pub ids: &'a [Vec<u32>],
    pub targets: ArrayView2<'a, f32>,
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub steps: u64,
    pub train_loss: f64,
    pub dev_loss: f64,
    /// Dev metrics at a global threshold of 0.5.
    pub dev: MetricReport,
    pub lr: f64,
    pub seconds: f64,
    pub examples_per_s: f64,
}

/// A dev evaluation inside an epoch (`TrainConfig::eval_every`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepEvaluation {
    pub epoch: usize,
    pub step: u64,
    pub dev_loss: f64,
    /// Dev metrics at a global threshold of 0.5.
    pub dev: MetricReport,
}

/// The run's history and its best evaluation (whose weights the model holds at the end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    pub history: Vec<EpochRecord>,
    /// Evaluations inside epochs, in order (empty unless `eval_every` is set).
    pub evaluations: Vec<StepEvaluation>,
    /// The epoch of the best evaluation (0-based), and the optimiser step it came after.
    pub best_epoch: usize,
    pub best_step: u64,
    pub best_value: f64,
    pub steps: u64,
}

/// What the loop reports after each optimiser step (a line of `train_log.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepLog {
    pub epoch: usize,
    pub step: u64,
    /// Mean training loss of the epoch so far.
    pub loss: f64,
    /// The learning rate of the next step.
    pub lr: f64,
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

/// The state file that makes a run resumable; written last, atomically, so it always names
/// complete tensor files.
const PROGRESS_FILE: &str = "progress.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Progress {
    /// The epoch to continue, and how many of its batches are done.
    epoch: usize,
    batch: usize,
    step: u64,
    loss_sum: f64,
    seen: usize,
    history: Vec<EpochRecord>,
    #[serde(default)]
    evaluations: Vec<StepEvaluation>,
    best_epoch: usize,
    #[serde(default)]
    best_step: u64,
    /// `None` until an epoch has been evaluated (JSON has no −∞).
    best_value: Option<f64>,
    /// Model weights and optimiser moments.
    weights: String,
    /// The best epoch's weights, once there is a best epoch.
    best: Option<String>,
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::State(format!("{}: {e}", path.display()))
}

/// Named tensors as safetensors files hold them.
type NamedTensors = Vec<(String, Tensor)>;

/// A saved state: progress, weights with optimiser moments, and the best epoch's weights.
type SavedState = (Progress, NamedTensors, Option<NamedTensors>);

struct Checkpointer<'a> {
    dir: &'a Path,
    names: Vec<String>,
}

impl Checkpointer<'_> {
    /// Writes weights and optimiser moments under a new name, then the progress file, then
    /// removes the files that the previous progress file named.
    fn save(
        &self,
        params: &[Tensor],
        optimizer: &AdamW,
        best: Option<(u64, &[Tensor])>,
        mut progress: Progress,
    ) -> Result<()> {
        std::fs::create_dir_all(self.dir).map_err(|e| io_error(self.dir, e))?;
        let weights = format!("weights-{}.safetensors", progress.step);
        let (moments, _) = optimizer.state();
        let mut tensors: Vec<(String, Tensor)> = self
            .names
            .iter()
            .zip(params)
            .map(|(n, p)| (format!("model.{n}"), p.detach()))
            .collect();
        tensors.extend(moments.into_iter().map(|(n, t)| (format!("opt.{n}"), t)));
        Tensor::write_safetensors(&tensors, self.dir.join(&weights))?;
        progress.weights = weights;
        if let Some((step, best)) = best {
            let name = format!("best-{step}.safetensors");
            if !self.dir.join(&name).exists() {
                let named: Vec<(String, Tensor)> = self
                    .names
                    .iter()
                    .zip(best)
                    .map(|(n, t)| (n.clone(), t.shallow_clone()))
                    .collect();
                Tensor::write_safetensors(&named, self.dir.join(&name))?;
            }
            progress.best = Some(name);
        }
        let path = self.dir.join(PROGRESS_FILE);
        let tmp = self.dir.join(format!("{PROGRESS_FILE}.tmp"));
        let text = serde_json::to_vec_pretty(&progress).map_err(|e| io_error(&path, e))?;
        std::fs::write(&tmp, text).map_err(|e| io_error(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))?;
        // Files of earlier saves are no longer named by the progress file.
        for entry in std::fs::read_dir(self.dir)
            .map_err(|e| io_error(self.dir, e))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale =
                name.ends_with(".safetensors") && name != progress.weights && Some(&name) != progress.best.as_ref();
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    fn load(&self) -> Result<Option<SavedState>> {
        let path = self.dir.join(PROGRESS_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
        let progress: Progress = serde_json::from_slice(&text).map_err(|e| io_error(&path, e))?;
        let weights = Tensor::read_safetensors(self.dir.join(&progress.weights))?;
        let best = progress
            .best
            .as_ref()
            .map(|b| Tensor::read_safetensors(self.dir.join(b)))
            .transpose()?;
        Ok(Some((progress, weights, best)))
    }
}

fn restore(params: &[Tensor], names: &[String], tensors: &[(String, Tensor)], prefix: &str) -> Result<()> {
    tch::no_grad(|| -> Result<()> {
        for (name, p) in names.iter().zip(params) {
            let key = format!("{prefix}{name}");
            let source = tensors
                .iter()
                .find(|(n, _)| *n == key)
                .ok_or_else(|| TrainError::State(format!("saved state lacks {key}")))?;
            p.shallow_clone().f_copy_(&source.1)?;
        }
        Ok(())
    })
}

/// Probabilities of a split in input order, and the mean loss, with dropout off.
pub fn evaluate_split(
    model: &SequenceClassifier,
    split: EncodedSplit<'_>,
    pad_id: u32,
    batch_size: usize,
    loss: &Loss,
) -> Result<(Array2<f32>, f64)> {
    let batcher = Batcher::new(split.ids, pad_id)
        .with_targets(split.targets)
        .map_err(|e| TrainError::InvalidOption(e.to_string()))?
        .with_token_type_ids(model.uses_token_types());
    let plan = batcher
        .eval_plan(batch_size)
        .map_err(|e| TrainError::InvalidOption(e.to_string()))?;
    let mut probs = Array2::<f32>::zeros(split.targets.raw_dim());
    let (mut loss_sum, mut count) = (0.0, 0usize);
    tch::no_grad(|| -> Result<()> {
        for indices in &plan {
            let batch = batcher.batch(indices);
            let (ids, mask, types) =
                batch_tensors(&batch, model.device()).map_err(|e| TrainError::InvalidOption(e.to_string()))?;
            let logits = model.forward(&ids, &mask, types.as_ref(), false);
            let targets = targets_tensor(batch.targets.as_ref().expect("targets were given"), model.device());
            loss_sum += loss.compute(&logits, &targets)?.double_value(&[]) * indices.len() as f64;
            count += indices.len();
            let p = Vec::<f32>::try_from(logits.sigmoid().to_device(tch::Device::Cpu).flatten(0, -1))?;
            let c = probs.ncols();
            for (row, &i) in indices.iter().enumerate() {
                probs
                    .row_mut(i)
                    .assign(&ndarray::ArrayView1::from(&p[row * c..(row + 1) * c]));
            }
        }
        Ok(())
    })?;
    Ok((probs, loss_sum / count.max(1) as f64))
}

fn targets_tensor(targets: &Array2<f32>, device: tch::Device) -> Tensor {
    let (r, c) = targets.dim();
    Tensor::from_slice(targets.as_slice().expect("a fresh array is contiguous"))
        .view([r as i64, c as i64])
        .to_device(device)
}

/// Trains `model` on `train`, evaluating on `dev` after every epoch; the model ends with the
/// weights of the best epoch by `config.select_by`. A non-finite loss stops the run with an
/// error before any update, so the weights stay the last good ones.
pub fn train(
    model: &mut SequenceClassifier,
    train: EncodedSplit<'_>,
    dev: EncodedSplit<'_>,
    pad_id: u32,
    config: &TrainConfig,
) -> Result<TrainOutcome> {
    train_resumable(model, train, dev, pad_id, config, &RunState::default(), &mut |_| false)
}

/// [`train`], saving its state in `state.dir` (every `config.save_every` steps and after each
/// epoch) and continuing from it when `state.resume` is set: a run killed at any point ends
/// with the same metrics as an uninterrupted one. `on_step` hears about each optimiser step;
/// when it answers `true` the state is saved and [`TrainError::Interrupted`] returned.
pub fn train_resumable(
    model: &mut SequenceClassifier,
    train: EncodedSplit<'_>,
    dev: EncodedSplit<'_>,
    pad_id: u32,
    config: &TrainConfig,
    state: &RunState<'_>,
    on_step: &mut dyn FnMut(&StepLog) -> bool,
) -> Result<TrainOutcome> {
    if config.batch_size == 0 || config.accumulation == 0 || config.epochs == 0 {
        return Err(TrainError::InvalidOption(
            "batch size, accumulation and epochs must be at least 1".into(),
        ));
    }
    tch::manual_seed(config.seed as i64);
    let batcher = Batcher::new(train.ids, pad_id)
        .with_targets(train.targets)
        .map_err(|e| TrainError::InvalidOption(e.to_string()))?
        .with_token_type_ids(model.uses_token_types());
    let batches_per_epoch = train.ids.len().div_ceil(config.batch_size) as u64;
    let steps_per_epoch = batches_per_epoch.div_ceil(config.accumulation as u64);
    let total_steps = config
        .max_steps
        .unwrap_or(u64::MAX)
        .min(steps_per_epoch * config.epochs as u64);
    let schedule = match config.warmup_steps {
        Some(w) => Schedule {
            peak_lr: config.lr,
            warmup_steps: w,
            total_steps,
            kind: config.schedule,
        },
        None => Schedule::with_warmup_ratio(config.lr, config.warmup_ratio, total_steps, config.schedule),
    };
    let mut variables: Vec<(String, Tensor)> = model.var_store().variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<String> = variables.iter().map(|(n, _)| n.clone()).collect();
    let params: Vec<Tensor> = variables.iter().map(|(_, t)| t.shallow_clone()).collect();
    let mut optimizer = AdamW::new(variables, config.adamw);
    let checkpointer = state.dir.map(|dir| Checkpointer {
        dir,
        names: names.clone(),
    });

    let mut history = Vec::new();
    let mut evaluations = Vec::new();
    let mut best = Best {
        epoch: 0,
        step: 0,
        value: f64::NEG_INFINITY,
        weights: None,
    };
    let (mut step, mut start_epoch, mut skip, mut carried) = (0u64, 0usize, 0usize, (0.0, 0usize));
    if let (Some(c), true) = (&checkpointer, state.resume) {
        if let Some((progress, weights, saved_best)) = c.load()? {
            restore(&params, &names, &weights, "model.")?;
            let moments: Vec<(String, Tensor)> = weights
                .iter()
                .filter_map(|(n, t)| n.strip_prefix("opt.").map(|n| (n.to_string(), t.shallow_clone())))
                .collect();
            optimizer.load_state(&moments, progress.step)?;
            if let Some(saved) = saved_best {
                let copies = names
                    .iter()
                    .map(|n| {
                        saved
                            .iter()
                            .find(|(m, _)| m == n)
                            .map(|(_, t)| t.shallow_clone())
                            .ok_or_else(|| TrainError::State(format!("saved best weights lack {n}")))
                    })
                    .collect::<Result<Vec<_>>>()?;
                best.weights = Some(copies);
            }
            (step, start_epoch, skip) = (progress.step, progress.epoch, progress.batch);
            carried = (progress.loss_sum, progress.seen);
            (best.epoch, best.step) = (progress.best_epoch, progress.best_step);
            best.value = progress.best_value.unwrap_or(f64::NEG_INFINITY);
            history = progress.history;
            evaluations = progress.evaluations;
        }
    }
    // Saves the state; `epoch` and `batch` say where to continue.
    #[allow(clippy::too_many_arguments)]
    let save = |optimizer: &AdamW,
                best: &Best,
                epoch,
                batch,
                step,
                loss_sum,
                seen,
                history: &[EpochRecord],
                evaluations: &[StepEvaluation]|
     -> Result<()> {
        let Some(c) = &checkpointer else { return Ok(()) };
        let progress = Progress {
            epoch,
            batch,
            step,
            loss_sum,
            seen,
            history: history.to_vec(),
            evaluations: evaluations.to_vec(),
            best_epoch: best.epoch,
            best_step: best.step,
            best_value: Some(best.value).filter(|v: &f64| v.is_finite()),
            weights: String::new(),
            best: None,
        };
        c.save(
            &params,
            optimizer,
            best.weights.as_deref().map(|w| (best.step, w)),
            progress,
        )
    };

    let bar = if config.progress {
        let bar = ProgressBar::new(total_steps);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {per_sec}  {msg}  eta {eta}")
                .expect("a valid template"),
        );
        bar.set_position(step);
        bar
    } else {
        ProgressBar::hidden()
    };
    let finished_early = step >= total_steps;
    'epochs: for epoch in start_epoch..config.epochs {
        if finished_early {
            break;
        }
        let started = Instant::now();
        let plan = batcher
            .train_plan(config.batch_size, config.bucket_batches, config.seed, epoch as u64)
            .map_err(|e| TrainError::InvalidOption(e.to_string()))?;
        let resuming = epoch == start_epoch;
        let (mut loss_sum, mut seen) = if resuming { carried } else { (0.0, 0) };
        let mut stop_now = false;
        for (i, indices) in plan.iter().enumerate().skip(if resuming { skip } else { 0 }) {
            // Dropout masks depend on the seed and the position only, so a run can be replayed.
            tch::manual_seed((config.seed ^ (step << 20) ^ i as u64) as i64);
            let batch = batcher.batch(indices);
            let (ids, mask, types) =
                batch_tensors(&batch, model.device()).map_err(|e| TrainError::InvalidOption(e.to_string()))?;
            let targets = targets_tensor(batch.targets.as_ref().expect("targets were given"), model.device());
            let logits = model.forward(&ids, &mask, types.as_ref(), true);
            let loss = config.loss.compute(&logits.to_kind(Kind::Float), &targets)?;
            let value = loss.double_value(&[]);
            if !value.is_finite() {
                return Err(TrainError::NonFinite { epoch, step, value });
            }
            (loss / config.accumulation as f64).backward();
            loss_sum += value * indices.len() as f64;
            seen += indices.len();
            if (i + 1) % config.accumulation != 0 && i + 1 != plan.len() {
                continue;
            }
            if let Some(max) = config.max_grad_norm {
                clip_grad_norm(&params, max)?;
            }
            optimizer.step(schedule.lr(step))?;
            optimizer.zero_grad();
            step += 1;
            bar.inc(1);
            bar.set_message(format!(
                "epoch {} loss {:.4} lr {:.2e}",
                epoch + 1,
                loss_sum / seen as f64,
                schedule.lr(step)
            ));
            let stop = on_step(&StepLog {
                epoch,
                step,
                loss: loss_sum / seen as f64,
                lr: schedule.lr(step),
                examples_per_s: seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
            });
            if step >= total_steps {
                break;
            }
            let last_batch = i + 1 == plan.len();
            if config.eval_every > 0 && step % config.eval_every == 0 && !last_batch {
                let (dev_loss, report) = evaluate_dev(model, dev, pad_id, config)?;
                let value = config.select_by.value(&report);
                bar.println(format!(
                    "step {step}: dev loss {dev_loss:.4}, {} {value:.4}",
                    config.select_by.name()
                ));
                if value > best.value {
                    best.improve(epoch, step, value, &params);
                }
                evaluations.push(StepEvaluation {
                    epoch,
                    step,
                    dev_loss,
                    dev: report,
                });
            }
            if stop || (config.save_every > 0 && step % config.save_every == 0) {
                save(
                    &optimizer,
                    &best,
                    epoch,
                    i + 1,
                    step,
                    loss_sum,
                    seen,
                    &history,
                    &evaluations,
                )?;
            }
            if stop {
                stop_now = true;
                break;
            }
        }
        if stop_now {
            bar.abandon();
            return Err(TrainError::Interrupted { step });
        }
        let record = finish_epoch(
            model,
            dev,
            pad_id,
            config,
            epoch,
            step,
            loss_sum / seen.max(1) as f64,
            schedule.lr(step),
            started,
            seen,
        )?;
        let value = config.select_by.value(&record.dev);
        history.push(record);
        let improved = value > best.value;
        if improved {
            best.improve(epoch, step, value, &params);
        }
        save(&optimizer, &best, epoch + 1, 0, step, 0.0, 0, &history, &evaluations)?;
        let patience_spent = config.patience.is_some_and(|p| !improved && epoch - best.epoch >= p);
        if step >= total_steps || patience_spent {
            break 'epochs;
        }
    }
    bar.finish_and_clear();
    if let Some(weights) = best.weights {
        tch::no_grad(|| -> Result<()> {
            for (p, w) in params.iter().zip(&weights) {
                p.shallow_clone().f_copy_(w)?;
            }
            Ok(())
        })?;
    }
    Ok(TrainOutcome {
        history,
        evaluations,
        best_epoch: best.epoch,
        best_step: best.step,
        best_value: best.value,
        steps: step,
    })
}

#[allow(clippy::too_many_arguments)]
fn finish_epoch(
    model: &SequenceClassifier,
    dev: EncodedSplit<'_>,
    pad_id: u32,
    config: &TrainConfig,
    epoch: usize,
    steps: u64,
    train_loss: f64,
    lr: f64,
    started: Instant,
    seen: usize,
) -> Result<EpochRecord> {
    let seconds = started.elapsed().as_secs_f64();
    let (dev_loss, report) = evaluate_dev(model, dev, pad_id, config)?;
    Ok(EpochRecord {
        epoch,
        steps,
        train_loss,
        dev_loss,
        dev: report,
        lr,
        seconds,
        examples_per_s: seen as f64 / seconds.max(1e-9),
    })
}

/// Dev loss and metrics at a global threshold of 0.5.
fn evaluate_dev(
    model: &SequenceClassifier,
    dev: EncodedSplit<'_>,
    pad_id: u32,
    config: &TrainConfig,
) -> Result<(f64, MetricReport)> {
    let (probs, dev_loss) = evaluate_split(model, dev, pad_id, config.eval_batch_size, &config.loss)?;
    let predictions = probs.mapv(|p| p >= 0.5);
    let labels = model.labels().to_vec();
    let report = MetricReport::compute(probs.view(), dev.targets, predictions.view(), &labels, None)
        .map_err(|e| TrainError::InvalidOption(format!("dev metrics: {e}")))?;
    Ok((dev_loss, report))
}

/// The best evaluation so far and a copy of its weights.
struct Best {
    epoch: usize,
    step: u64,
    value: f64,
    weights: Option<Vec<Tensor>>,
}

impl Best {
    fn improve(&mut self, epoch: usize, step: u64, value: f64, params: &[Tensor]) {
        (self.epoch, self.step, self.value) = (epoch, step, value);
        self.weights = Some(params.iter().map(|p| p.detach().copy()).collect());
    }
}
