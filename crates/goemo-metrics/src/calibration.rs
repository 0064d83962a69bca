//! Calibration: Brier score, log loss and expected calibration error over equal-width and
//! equal-mass bins.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result};

/// Number of equal-width bins of the reliability curve and ECE.
pub const CALIBRATION_BINS: usize = 10;

/// One bin of a reliability curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge of the bin.
    pub lower: f64,
    /// Upper edge of the bin.
    pub upper: f64,
    /// Cells in the bin.
    pub count: u64,
    /// Mean predicted probability in the bin (NaN when empty; `null` in JSON).
    #[serde(deserialize_with = "nan_from_null")]
    pub mean_score: f64,
    /// Fraction of positives in the bin (NaN when empty; `null` in JSON).
    #[serde(deserialize_with = "nan_from_null")]
    pub fraction_positive: f64,
}

/// serde_json writes NaN as `null`; read it back as NaN, so that a written bin reads back.
fn nan_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Brier score, log loss, ECE and reliability bins of one set of probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Mean squared difference between probability and outcome.
    pub brier: f64,
    /// Mean negative log likelihood, probabilities clipped to `[ε, 1 − ε]` (scikit-learn's
    /// `log_loss`).
    pub log_loss: f64,
    /// `sum_b |B_b| / n · |mean outcome_b − mean probability_b|` over 10 equal-width bins.
    pub ece: f64,
    /// The same sum over 10 equal-mass bins: the probabilities sorted and cut into ten runs of
    /// `n/10` (the first `n mod 10` one longer, as `numpy.array_split`).
    pub ece_equal_mass: f64,
    /// Mean probability.
    pub mean_probability: f64,
    /// Fraction of positive outcomes.
    pub frequency: f64,
    /// The 10 equal-width bins.
    pub bins: Vec<ReliabilityBin>,
}

impl Calibration {
    /// Calibration of probability/outcome pairs; bins are `[k/10, (k+1)/10)`, the last one closed.
    pub fn compute(pairs: impl Iterator<Item = (f64, bool)>) -> Self {
        let pairs: Vec<(f64, bool)> = pairs.collect();
        let mut count = [0u64; CALIBRATION_BINS];
        let mut score_sum = [0.0f64; CALIBRATION_BINS];
        let mut positive = [0u64; CALIBRATION_BINS];
        let mut squared = 0.0;
        let mut n = 0u64;
        let (mut log_loss, mut score_total, mut positives) = (0.0, 0.0, 0u64);
        for &(p, y) in &pairs {
            let clipped = p.clamp(f64::EPSILON, 1.0 - f64::EPSILON);
            log_loss -= if y { clipped.ln() } else { (-clipped).ln_1p() };
            score_total += p;
            positives += u64::from(y);
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
            log_loss: log_loss / n_f,
            ece,
            ece_equal_mass: ece_equal_mass(pairs),
            mean_probability: score_total / n_f,
            frequency: positives as f64 / n_f,
            bins,
        }
    }
}

/// ECE over 10 bins of (nearly) equal counts, in order of probability.
fn ece_equal_mass(mut pairs: Vec<(f64, bool)>) -> f64 {
    let n = pairs.len();
    if n == 0 {
        return 0.0;
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (size, longer) = (n / CALIBRATION_BINS, n % CALIBRATION_BINS);
    let mut start = 0;
    let mut ece = 0.0;
    for b in 0..CALIBRATION_BINS {
        let end = start + size + usize::from(b < longer);
        let bin = &pairs[start..end];
        if !bin.is_empty() {
            let mean_p: f64 = bin.iter().map(|p| p.0).sum::<f64>() / bin.len() as f64;
            let mean_y = bin.iter().filter(|p| p.1).count() as f64 / bin.len() as f64;
            ece += bin.len() as f64 / n as f64 * (mean_y - mean_p).abs();
        }
        start = end;
    }
    ece
}

/// Brier score of predicting the constant `q` for every outcome: the baseline a calibrated
/// model must beat (with `q` the label's training frequency).
pub fn brier_of_constant(q: f64, outcomes: impl Iterator<Item = bool>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for y in outcomes {
        let y = f64::from(u8::from(y));
        sum += (q - y) * (q - y);
        n += 1;
    }
    sum / n.max(1) as f64
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
        // An empty bin's NaN is `null` in JSON and NaN again when read back.
        let back: Calibration = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert!(back.bins[4].mean_score.is_nan() && back.bins[4].fraction_positive.is_nan());
        assert_eq!((back.brier, back.bins[9].count), (c.brier, 2));
        let want_log_loss = -(0.95f64.ln() + 0.05f64.ln() + 0.95f64.ln() + (1.0 - f64::EPSILON).ln()) / 4.0;
        assert_relative_eq!(c.log_loss, want_log_loss, epsilon = 1e-15);
        assert_relative_eq!(c.mean_probability, 2.05 / 4.0, epsilon = 1e-15);
        assert_relative_eq!(c.frequency, 0.75, epsilon = 1e-15);
    }

    #[test]
    fn equal_mass_bins_split_as_numpy_array_split() {
        // 12 pairs: bins of 2, 2, then 1 each; only the first two bins hold positives.
        let pairs: Vec<(f64, bool)> = (0..12).map(|i| (f64::from(i) / 12.0, i < 2 || i == 3)).collect();
        let c = Calibration::compute(pairs.into_iter());
        let bins = [(vec![0.0, 1.0 / 12.0], 1.0), (vec![2.0 / 12.0, 3.0 / 12.0], 0.5)];
        let mut want = 0.0;
        for (ps, y) in bins {
            let mean = ps.iter().sum::<f64>() / 2.0;
            want += 2.0 / 12.0 * (y - mean).abs();
        }
        want += (4..12).map(|i| 1.0 / 12.0 * (f64::from(i) / 12.0)).sum::<f64>();
        assert_relative_eq!(c.ece_equal_mass, want, epsilon = 1e-15);
        assert_relative_eq!(
            brier_of_constant(0.25, [true, false].into_iter()),
            (0.5625 + 0.0625) / 2.0
        );
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
