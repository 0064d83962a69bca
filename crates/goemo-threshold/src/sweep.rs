//! A threshold sweep: every threshold metric for global thresholds 0.01, 0.02, ..., 0.99.

use goemo_metrics::{validate, ThresholdMetrics};
use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::Result;

/// The threshold metrics at one global threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// The global threshold.
    pub threshold: f64,
    /// Micro F1.
    pub f1_micro: f64,
    /// Macro F1.
    pub f1_macro: f64,
    /// Support-weighted F1.
    pub f1_weighted: f64,
    /// Example-averaged F1.
    pub f1_samples: f64,
    /// Micro precision.
    pub precision_micro: f64,
    /// Macro precision.
    pub precision_macro: f64,
    /// Micro recall.
    pub recall_micro: f64,
    /// Macro recall.
    pub recall_macro: f64,
    /// Share of examples whose label set is exactly right.
    pub subset_accuracy: f64,
    /// Share of cells predicted wrongly.
    pub hamming_loss: f64,
    /// Labels predicted at least once.
    pub labels_predicted: usize,
    /// Mean number of labels predicted per example.
    pub mean_labels_per_example: f64,
}

/// Every threshold metric at the global thresholds `k / 100` for `k = 1..=99` (thresholds in parallel).
pub fn threshold_sweep(scores: ArrayView2<'_, f64>, targets: ArrayView2<'_, bool>) -> Result<Vec<SweepRow>> {
    validate(scores, targets)?;
    Ok((1..=99)
        .into_par_iter()
        .map(|k| {
            let threshold = f64::from(k) / 100.0;
            let predictions = scores.mapv(|s| s >= threshold);
            let m = ThresholdMetrics::compute(predictions.view(), targets);
            let predicted: u64 = m.per_class.iter().map(|c| c.tp + c.fp).sum();
            SweepRow {
                threshold,
                f1_micro: m.micro.f1,
                f1_macro: m.macro_.f1,
                f1_weighted: m.weighted.f1,
                f1_samples: m.samples.f1,
                precision_micro: m.micro.precision,
                precision_macro: m.macro_.precision,
                recall_micro: m.micro.recall,
                recall_macro: m.macro_.recall,
                subset_accuracy: m.subset_accuracy,
                hamming_loss: m.hamming_loss,
                labels_predicted: m.per_class.iter().filter(|c| c.tp + c.fp > 0).count(),
                mean_labels_per_example: predicted as f64 / scores.nrows() as f64,
            }
        })
        .collect())
}
