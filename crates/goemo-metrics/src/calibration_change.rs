//! Calibration before and after a calibrator, beside the constant baseline a probability must
//! beat: each label's training frequency.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::calibration::{brier_of_constant, calibration, Calibration};
use crate::error::{MetricsError, Result};
use crate::ranking::{ranking, RankingScores};

/// Calibration of one set of probabilities of every label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationState {
    /// All cells together. Every label has the same examples, so the micro Brier score is also
    /// the mean of the labels' Brier scores: one number.
    pub micro: Calibration,
    /// Each label's calibration.
    pub per_class: Vec<Calibration>,
    /// ROC AUC of all cells pooled: a label-wise monotone calibration keeps every label's AUC
    /// but moves labels against each other, so this one changes.
    pub auc_micro: Option<f64>,
    /// Labels whose Brier score is at most the baseline's.
    pub labels_no_worse_than_baseline: usize,
    /// The label with the highest Brier score relative to its baseline.
    pub worst_label: String,
    /// The largest ratio of a label's Brier score to its frequency baseline's.
    pub worst_ratio_to_baseline: f64,
}

/// Calibration of the same examples before and after calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationChange {
    /// Label names, in column order.
    pub labels: Vec<String>,
    /// Each label's training frequency: the constant prediction that serves as baseline.
    pub base_rates: Vec<f64>,
    /// Brier score of predicting the base rate for every example, per label.
    pub baseline_brier: Vec<f64>,
    /// Their mean (also the baseline's micro Brier score).
    pub baseline_brier_mean: f64,
    /// Before calibration.
    pub before: CalibrationState,
    /// After calibration.
    pub after: CalibrationState,
    /// The largest change of a label's ROC AUC: 0 (to rounding) under a calibration that keeps
    /// each label's ranking.
    pub max_label_auc_change: f64,
    /// The largest change of a label's average precision: 0 (to rounding) under a calibration
    /// that keeps each label's ranking.
    pub max_label_ap_change: f64,
}

impl CalibrationChange {
    /// Compares probabilities `before` and `after` calibration on the same examples.
    pub fn compute(
        before: ArrayView2<'_, f64>,
        after: ArrayView2<'_, f64>,
        targets: ArrayView2<'_, bool>,
        base_rates: &[f64],
        labels: &[String],
    ) -> Result<Self> {
        let c = targets.ncols();
        if before.dim() != targets.dim() || after.dim() != targets.dim() || base_rates.len() != c || labels.len() != c {
            return Err(MetricsError::ShapeMismatch {
                what: "calibration change: before, after, targets, base rates, labels",
                left: vec![before.nrows(), before.ncols(), after.nrows(), after.ncols()],
                right: vec![targets.nrows(), c, base_rates.len(), labels.len()],
            });
        }
        let baseline_brier: Vec<f64> = (0..c)
            .map(|j| brier_of_constant(base_rates[j], targets.column(j).iter().copied()))
            .collect();
        let baseline_brier_mean = baseline_brier.iter().sum::<f64>() / c.max(1) as f64;
        // One ranking of each set gives its micro AUC and every label's AUC and AP.
        let state = |probabilities: ArrayView2<'_, f64>| -> Result<(CalibrationState, Vec<RankingScores>)> {
            let (per_class, micro) = calibration(probabilities, targets)?;
            let (label_ranks, micro_rank) = ranking(probabilities, targets);
            let ratios: Vec<f64> = per_class
                .iter()
                .zip(&baseline_brier)
                .map(|(k, &b)| k.brier / b)
                .collect();
            let worst = (0..c).max_by(|&a, &b| ratios[a].total_cmp(&ratios[b])).unwrap_or(0);
            let state = CalibrationState {
                labels_no_worse_than_baseline: per_class
                    .iter()
                    .zip(&baseline_brier)
                    .filter(|(k, &b)| k.brier <= b)
                    .count(),
                worst_label: labels.get(worst).cloned().unwrap_or_default(),
                worst_ratio_to_baseline: ratios.get(worst).copied().unwrap_or(f64::NAN),
                auc_micro: micro_rank.auc,
                micro,
                per_class,
            };
            Ok((state, label_ranks))
        };
        let ((before, ranks_before), (after, ranks_after)) = (state(before)?, state(after)?);
        let largest = |of: fn(&RankingScores) -> Option<f64>| {
            ranks_before
                .iter()
                .zip(&ranks_after)
                .filter_map(|(a, b)| Some((of(a)? - of(b)?).abs()))
                .fold(0.0f64, f64::max)
        };
        let (max_label_auc_change, max_label_ap_change) = (largest(|r| r.auc), largest(|r| r.ap));
        Ok(CalibrationChange {
            max_label_auc_change,
            max_label_ap_change,
            labels: labels.to_vec(),
            base_rates: base_rates.to_vec(),
            baseline_brier,
            baseline_brier_mean,
            before,
            after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn counts_labels_against_their_baseline() {
        let targets = array![[true, false], [false, false], [false, true], [false, false]];
        let before = array![[0.9, 0.8], [0.8, 0.7], [0.7, 0.9], [0.6, 0.6]];
        let after = array![[0.5, 0.1], [0.2, 0.1], [0.2, 0.4], [0.1, 0.1]];
        let labels = vec!["joy".to_string(), "anger".to_string()];
        let change =
            CalibrationChange::compute(before.view(), after.view(), targets.view(), &[0.25, 0.25], &labels).unwrap();
        // Baseline: 0.25 for one positive in four: (0.5625 + 3 · 0.0625) / 4.
        assert!((change.baseline_brier[0] - 0.1875).abs() < 1e-15);
        assert_eq!(change.before.labels_no_worse_than_baseline, 0);
        assert_eq!(change.after.labels_no_worse_than_baseline, 2);
        assert_eq!(change.before.worst_label, "anger");
        assert!(
            (change.before.micro.brier - (change.before.per_class[0].brier + change.before.per_class[1].brier) / 2.0)
                .abs()
                < 1e-15
        );
        let e = CalibrationChange::compute(before.view(), after.view(), targets.view(), &[0.25], &labels);
        assert!(e.is_err());
    }
}
