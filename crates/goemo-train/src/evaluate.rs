//! Evaluation of a model on a labelled split: probabilities through goemo-model's length-sorted
//! inference loop, the mean loss, and dev metrics at a global threshold of 0.5.

use goemo_data::Batcher;
use goemo_metrics::MetricReport;
use goemo_model::{
    predict_probabilities, predict_probabilities_static, Probability, StaticForward, TensorBatch, TrainableModel,
};
use ndarray::Array2;
use tch::Tensor;

use crate::{DataParallel, EncodedSplit, Loss, Result, TrainConfig, TrainError};

/// Probabilities of a split in input order, and the mean loss, with dropout off.
pub fn evaluate_split<M: TrainableModel + ?Sized>(
    model: &M,
    split: EncodedSplit<'_>,
    pad_id: u32,
    batch_size: usize,
    loss: &Loss,
) -> Result<(Array2<f32>, f64)> {
    evaluate_split_with(model, split, pad_id, batch_size, loss, None)
}

/// [`evaluate_split`], over static shapes when `forward` is given (CUDA graphs on CUDA).
pub(crate) fn evaluate_split_with<M: TrainableModel + ?Sized>(
    model: &M,
    split: EncodedSplit<'_>,
    pad_id: u32,
    batch_size: usize,
    loss: &Loss,
    forward: Option<&mut StaticForward>,
) -> Result<(Array2<f32>, f64)> {
    let batcher = Batcher::new(split.ids, pad_id)
        .with_targets(split.targets)?
        .with_token_type_ids(model.uses_token_types());
    let (mut loss_sum, mut count) = (0.0, 0usize);
    let mut loss_error = None;
    let observe = |batch: &TensorBatch, logits: &Tensor| {
        let Some(targets) = &batch.targets else {
            return Ok(());
        };
        match loss.compute(logits, targets).and_then(|l| Ok(l.f_double_value(&[])?)) {
            Ok(value) => {
                loss_sum += value * batch.len() as f64;
                count += batch.len();
            }
            Err(e) => loss_error = Some(e),
        }
        Ok(())
    };
    let probs = match forward {
        Some(forward) => predict_probabilities_static(model, &batcher, forward, Probability::Sigmoid, observe)?,
        None => predict_probabilities(model, &batcher, batch_size, Probability::Sigmoid, observe)?,
    };
    if let Some(e) = loss_error {
        return Err(e);
    }
    if count != split.ids.len() {
        return Err(TrainError::MissingTargets);
    }
    Ok((probs, loss_sum / count.max(1) as f64))
}

/// Dev loss and metrics at a global threshold of 0.5.
/// Data-parallel, each rank scores its share of dev and all receive every row.
pub(crate) fn evaluate_dev<M: TrainableModel + ?Sized>(
    model: &M,
    dev: EncodedSplit<'_>,
    pad_id: u32,
    config: &TrainConfig,
    parallel: Option<&DataParallel>,
    forward: Option<&mut StaticForward>,
) -> Result<(f64, MetricReport)> {
    let (probs, dev_loss) = match parallel {
        Some(p) => p.evaluate_split(model, dev, pad_id, config.eval_batch_size, &config.loss)?,
        None => evaluate_split_with(model, dev, pad_id, config.eval_batch_size, &config.loss, forward)?,
    };
    let predictions = probs.mapv(|p| p >= 0.5);
    let report = MetricReport::compute(probs.view(), dev.targets, predictions.view(), model.labels(), None)?;
    Ok((dev_loss, report))
}
