//! The training loop: epochs of length-bucketed batches, AdamW with warm-up and decay, gradient
//! accumulation and clipping, a dev evaluation after each epoch, the best epoch's weights kept.

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

/// The run's history and its best epoch (whose weights the model holds at the end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    pub history: Vec<EpochRecord>,
    pub best_epoch: usize,
    pub best_value: f64,
    pub steps: u64,
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
    let params: Vec<Tensor> = variables.iter().map(|(_, t)| t.shallow_clone()).collect();
    let mut optimizer = AdamW::new(variables, config.adamw);

    let bar = if config.progress {
        let bar = ProgressBar::new(total_steps);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  eta {eta}").expect("a valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut history = Vec::new();
    let (mut best_epoch, mut best_value, mut best_weights) = (0, f64::NEG_INFINITY, None::<Vec<Tensor>>);
    let mut step = 0u64;
    'epochs: for epoch in 0..config.epochs {
        let started = Instant::now();
        let plan = batcher
            .train_plan(config.batch_size, config.bucket_batches, config.seed, epoch as u64)
            .map_err(|e| TrainError::InvalidOption(e.to_string()))?;
        let (mut loss_sum, mut seen) = (0.0, 0usize);
        for (i, indices) in plan.iter().enumerate() {
            // Dropout masks depend on the seed and the step only, so a run can be replayed.
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
            let last = i + 1 == plan.len();
            if (i + 1) % config.accumulation == 0 || last {
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
                if step >= total_steps {
                    let record = finish_epoch(
                        model,
                        dev,
                        pad_id,
                        config,
                        epoch,
                        step,
                        loss_sum / seen as f64,
                        schedule.lr(step),
                        started,
                        seen,
                    )?;
                    let value = config.select_by.value(&record.dev);
                    history.push(record);
                    if value > best_value {
                        (best_epoch, best_value) = (epoch, value);
                        best_weights = Some(params.iter().map(|p| p.detach().copy()).collect());
                    }
                    break 'epochs;
                }
            }
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
        if value > best_value {
            (best_epoch, best_value) = (epoch, value);
            best_weights = Some(params.iter().map(|p| p.detach().copy()).collect());
        } else if config.patience.is_some_and(|p| epoch - best_epoch >= p) {
            break;
        }
    }
    bar.finish_and_clear();
    if let Some(weights) = best_weights {
        tch::no_grad(|| -> Result<()> {
            for (p, w) in params.iter().zip(&weights) {
                p.shallow_clone().f_copy_(w)?;
            }
            Ok(())
        })?;
    }
    Ok(TrainOutcome {
        history,
        best_epoch,
        best_value,
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
    let (probs, dev_loss) = evaluate_split(model, dev, pad_id, config.eval_batch_size, &config.loss)?;
    let predictions = probs.mapv(|p| p >= 0.5);
    let labels = model.labels().to_vec();
    let report = MetricReport::compute(probs.view(), dev.targets, predictions.view(), &labels, None)
        .map_err(|e| TrainError::InvalidOption(format!("dev metrics: {e}")))?;
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
