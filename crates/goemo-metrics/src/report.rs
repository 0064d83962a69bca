//! The `MetricReport`: every headline and per-class metric of one evaluation, serialisable.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::counts::ThresholdMetrics;
use crate::error::{MetricsError, Result};
use crate::input::{target_mask, validate, validate_predictions, Value};
use crate::ranking::{ranking, RankingScores};

/// Metrics of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// Label name.
    pub label: String,
    /// `None` when the class has no positive or no negative example.
    pub auc: Option<f64>,
    /// `None` when the class has no positive example.
    pub ap: Option<f64>,
    /// F1 at the thresholds.
    pub f1: f64,
    /// Precision at the thresholds (0 when nothing is predicted).
    pub precision: f64,
    /// Recall at the thresholds (0 without positives).
    pub recall: f64,
    /// Positive examples.
    pub support: u64,
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives (`fn` in JSON).
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// True negatives.
    pub tn: u64,
    /// The decision threshold applied to this class, when the strategy has one.
    pub threshold: Option<f64>,
}

/// Every metric of one evaluation. Averages over classes leave out classes whose metric is
/// undefined (listed in `undefined_auc_labels` for AUC), never counting them as 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricReport {
    /// ROC AUC of all cells as one binary problem.
    pub auc_micro: Option<f64>,
    /// Mean ROC AUC over the labels where it is defined.
    pub auc_macro: Option<f64>,
    /// Classes weighted by their support.
    pub auc_weighted: Option<f64>,
    /// F1 of the pooled counts of all labels.
    pub f1_micro: f64,
    /// Mean of the labels' F1.
    pub f1_macro: f64,
    /// Mean of the labels' F1 weighted by support.
    pub f1_weighted: f64,
    /// Mean of the examples' F1.
    pub f1_samples: f64,
    /// Precision of the pooled counts.
    pub precision_micro: f64,
    /// Mean of the labels' precision.
    pub precision_macro: f64,
    /// Recall of the pooled counts.
    pub recall_micro: f64,
    /// Mean of the labels' recall.
    pub recall_macro: f64,
    /// Share of examples whose predicted label set equals the true one.
    pub subset_accuracy: f64,
    /// Share of cells predicted wrongly.
    pub hamming_loss: f64,
    /// Average precision of all cells as one binary problem.
    pub ap_micro: Option<f64>,
    /// Mean average precision over the labels with a positive.
    pub ap_macro: Option<f64>,
    /// Labels left out of the macro AUC (one class only).
    pub undefined_auc_labels: Vec<String>,
    /// Each label's metrics, in column order.
    pub per_class: Vec<ClassMetrics>,
}

fn mean_defined(values: impl Iterator<Item = (Option<f64>, f64)>) -> Option<f64> {
    let (sum, weight) = values
        .filter_map(|(v, w)| v.map(|v| (v * w, w)))
        .fold((0.0, 0.0), |(s, t), (v, w)| (s + v, t + w));
    (weight > 0.0).then(|| sum / weight)
}

impl MetricReport {
    /// Computes the report from scores (for ranking metrics), 0/1 targets and the predictions of
    /// a threshold strategy; `thresholds` are recorded per class when the strategy has them.
    pub fn compute<S: Value, T: Value>(
        scores: ArrayView2<'_, S>,
        targets: ArrayView2<'_, T>,
        predictions: ArrayView2<'_, bool>,
        labels: &[String],
        thresholds: Option<&[f64]>,
    ) -> Result<Self> {
        validate(scores, targets)?;
        validate_predictions(predictions, targets)?;
        let c = targets.ncols();
        if labels.len() != c {
            return Err(MetricsError::ShapeMismatch {
                what: "label names and score columns",
                left: vec![labels.len()],
                right: vec![c],
            });
        }
        if let Some(t) = thresholds.filter(|t| t.len() != c) {
            return Err(MetricsError::ShapeMismatch {
                what: "thresholds and score columns",
                left: vec![t.len()],
                right: vec![c],
            });
        }
        // Ranking reads the inputs as they are; the threshold tallies need boolean targets.
        let mask = target_mask(targets);
        let ((per_class_rank, micro_rank), counts): ((Vec<RankingScores>, RankingScores), ThresholdMetrics) =
            rayon::join(
                || ranking(scores, targets),
                || ThresholdMetrics::compute(predictions, mask.view()),
            );
        let per_class: Vec<ClassMetrics> = (0..c)
            .map(|i| {
                let m = counts.per_class[i];
                ClassMetrics {
                    label: labels[i].clone(),
                    auc: per_class_rank[i].auc,
                    ap: per_class_rank[i].ap,
                    f1: m.f1(),
                    precision: m.precision(),
                    recall: m.recall(),
                    support: m.support(),
                    tp: m.tp,
                    fp: m.fp,
                    fn_: m.fn_,
                    tn: m.tn,
                    threshold: thresholds.map(|t| t[i]),
                }
            })
            .collect();
        Ok(MetricReport {
            auc_micro: micro_rank.auc,
            auc_macro: mean_defined(per_class.iter().map(|m| (m.auc, 1.0))),
            auc_weighted: mean_defined(per_class.iter().map(|m| (m.auc, m.support as f64))),
            f1_micro: counts.micro.f1,
            f1_macro: counts.macro_.f1,
            f1_weighted: counts.weighted.f1,
            f1_samples: counts.samples.f1,
            precision_micro: counts.micro.precision,
            precision_macro: counts.macro_.precision,
            recall_micro: counts.micro.recall,
            recall_macro: counts.macro_.recall,
            subset_accuracy: counts.subset_accuracy,
            hamming_loss: counts.hamming_loss,
            ap_micro: micro_rank.ap,
            ap_macro: mean_defined(per_class.iter().map(|m| (m.ap, 1.0))),
            undefined_auc_labels: per_class
                .iter()
                .filter(|m| m.auc.is_none())
                .map(|m| m.label.clone())
                .collect(),
            per_class,
        })
    }

    /// The report as a text table: every average, then one row per label.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let opt = |v: Option<f64>| v.map_or("undefined".to_string(), |v| format!("{v:.4}"));
        let rows = [
            ("auc_micro", opt(self.auc_micro)),
            ("auc_macro", opt(self.auc_macro)),
            ("auc_weighted", opt(self.auc_weighted)),
            ("ap_micro", opt(self.ap_micro)),
            ("ap_macro", opt(self.ap_macro)),
            ("f1_micro", format!("{:.4}", self.f1_micro)),
            ("f1_macro", format!("{:.4}", self.f1_macro)),
            ("f1_weighted", format!("{:.4}", self.f1_weighted)),
            ("f1_samples", format!("{:.4}", self.f1_samples)),
            ("precision_micro", format!("{:.4}", self.precision_micro)),
            ("precision_macro", format!("{:.4}", self.precision_macro)),
            ("recall_micro", format!("{:.4}", self.recall_micro)),
            ("recall_macro", format!("{:.4}", self.recall_macro)),
            ("subset_accuracy", format!("{:.4}", self.subset_accuracy)),
            ("hamming_loss", format!("{:.4}", self.hamming_loss)),
        ];
        let mut out = String::new();
        for (name, value) in rows {
            let _ = writeln!(out, "{name:<16} {value}");
        }
        if !self.undefined_auc_labels.is_empty() {
            let _ = writeln!(
                out,
                "AUC undefined (left out of averages): {}",
                self.undefined_auc_labels.join(", ")
            );
        }
        let never = self.never_predicted();
        let never = if never.is_empty() {
            "none".to_string()
        } else {
            format!("{} ({})", never.len(), never.join(", "))
        };
        let _ = writeln!(out, "labels never predicted: {never}");
        let _ = writeln!(
            out,
            "\n{:<15} {:>7} {:>7} {:>7} {:>9} {:>7} {:>7} {:>9}",
            "label", "auc", "ap", "f1", "precision", "recall", "support", "threshold"
        );
        let short = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        for m in &self.per_class {
            let _ = writeln!(
                out,
                "{:<15} {:>7} {:>7} {:>7.4} {:>9.4} {:>7.4} {:>7} {:>9}",
                m.label,
                short(m.auc),
                short(m.ap),
                m.f1,
                m.precision,
                m.recall,
                m.support,
                short(m.threshold)
            );
        }
        out
    }

    /// Labels never predicted (no true and no false positive).
    pub fn never_predicted(&self) -> Vec<&str> {
        self.per_class
            .iter()
            .filter(|m| m.tp + m.fp == 0)
            .map(|m| m.label.as_str())
            .collect()
    }
}
