//! Calibration: Brier score and expected calibration error over equal-width bins.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result};

/// Number of equal-width bins of the reliability curve and ECE.
pub const CALIBRATION_BINS: usize = 10;

/// One bin of a reliability curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    pub count: u64,
    /// Mean predicted probability in the bin (NaN when empty).
    pub mean_score: f64,
    /// Fraction of positives in the bin (NaN when empty).
    pub fraction_positive: f64,
}

/// Brier score, ECE and reliability bins of one set of probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Mean squared difference between probability and outcome.
    pub brier: f64,
    /// `sum_b |B_b| / n · |mean outcome_b − mean probability_b|` over 10 equal-width bins.
    pub ece: f64,
    pub bins: Vec<ReliabilityBin>,
}

impl Calibration {
    /// Calibration of probability/outcome pairs; bins are `[k/10, (k+1)/10)`, the last one closed.
    pub fn compute(pairs: impl Iterator<Item = (f64, bool)>) -> Self {
        let mut count = [0u64; CALIBRATION_BINS];
        let mut score_sum = [0.0f64; CALIBRATION_BINS];
        let mut positive = [0u64; CALIBRATION_BINS];
        let mut squared = 0.0;
        let mut n = 0u64;
        for (p, y) in pairs {
            let y = f64::from(u8::from(y));
            squared += (p - y) * (p - y);
            let b = ((p * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
            count[b] += 1;
            score_sum[b] += p;
            positive[b] += y as u64;
            n += 1;
        }
        let n_f = n.max(1) as f64;
        let bins: Vec<ReliabilityBin> = (0..CALIBRATION_BINS)
            .map(|b| ReliabilityBin {
                lower: b as f64 / CALIBRATION_BINS as f64,
                upper: (b + 1) as f64 / CALIBRATION_BINS as f64,
                count: count[b],
                mean_score: score_sum[b] / count[b] as f64,
                fraction_positive: positive[b] as f64 / count[b] as f64,
            })
            .collect();
        let ece = bins
            .iter()
            .filter(|b| b.count > 0)
            .map(|b| b.count as f64 / n_f * (b.fraction_positive - b.mean_score).abs())
            .sum();
        Calibration {
            brier: squared / n_f,
            ece,
            bins,
        }
    }
}

/// Per-class and micro (all cells) calibration of probabilities in `[0, 1]`.
pub fn calibration(
    probabilities: ArrayView2<'_, f64>,
    targets: ArrayView2<'_, bool>,
) -> Result<(Vec<Calibration>, Calibration)> {
    if let Some(((row, col), &value)) = probabilities.indexed_iter().find(|(_, &p)| !(0.0..=1.0).contains(&p)) {
        return Err(MetricsError::NotAProbability { row, col, value });
    }
    let per_class = (0..probabilities.ncols())
        .map(|c| {
            Calibration::compute(
                probabilities
                    .column(c)
                    .iter()
                    .copied()
                    .zip(targets.column(c).iter().copied()),
            )
        })
        .collect();
    let micro = Calibration::compute(probabilities.iter().copied().zip(targets.iter().copied()));
    Ok((per_class, micro))
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn brier_and_ece_by_hand() {
        // Bin 0: (0.05, 0), (0.05, 1) -> |0.5 - 0.05| · 2/4; bin 9: (0.95, 1), (1.0, 1) -> |1 - 0.975| · 2/4.
        let pairs = [(0.05, false), (0.05, true), (0.95, true), (1.0, true)];
        let c = Calibration::compute(pairs.into_iter());
        assert_relative_eq!(c.brier, (0.0025 + 0.9025 + 0.0025 + 0.0) / 4.0, epsilon = 1e-15);
        assert_relative_eq!(c.ece, 0.5 * 0.45 + 0.5 * 0.025, epsilon = 1e-15);
        assert_eq!(c.bins[9].count, 2);
        assert!(c.bins[4].mean_score.is_nan());
    }

    #[test]
    fn a_bin_of_its_own_for_each_tenth() {
        // Bins 0, 1 and 9: |0 − 0.05| / 4 + |1 − 0.15| / 4 + 2 |1 − 0.975| / 4.
        let pairs = [(0.05, false), (0.15, true), (0.95, true), (1.0, true)];
        let c = Calibration::compute(pairs.into_iter());
        assert!((c.brier - (0.0025 + 0.7225 + 0.0025) / 4.0).abs() < 1e-12);
        let want = 0.05 / 4.0 + 0.85 / 4.0 + 2.0 * 0.025 / 4.0;
        assert!((c.ece - want).abs() < 1e-12);
    }
}
