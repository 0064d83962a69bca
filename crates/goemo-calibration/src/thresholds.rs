//! Thresholds for calibrated probabilities that make the decisions the uncalibrated scores made.

use goemo_threshold::{ThresholdStrategy, Thresholds};
use ndarray::ArrayView2;

use crate::{Calibrator, Result};

/// Fits `strategy` on dev and expresses its thresholds on the calibrated scale.
///
/// - A learning strategy with a calibrator that keeps every label's ranking (temperature,
///   Platt, none) is fitted on the raw dev scores and each label's threshold is carried through
///   that label's map: a calibrated score is over its threshold exactly when the raw score was,
///   so calibration changes no decision and no per-label AUC or AP. A global threshold becomes
///   one threshold per label.
/// - With isotonic labels (whose steps tie scores) the strategy is fitted on the calibrated dev
///   scores themselves.
/// - A strategy that learns nothing (a fixed global threshold, top-k) applies to calibrated
///   probabilities as it is: `--threshold 0.5` means a probability of one half.
pub fn fit_thresholds(
    strategy: &dyn ThresholdStrategy,
    calibrator: &Calibrator,
    raw_dev: ArrayView2<'_, f64>,
    dev_targets: ArrayView2<'_, bool>,
) -> Result<Thresholds> {
    if !strategy.needs_fit() || !calibrator.keeps_ranking() {
        let calibrated = calibrator.apply(raw_dev)?;
        return Ok(strategy.fit(calibrated.view(), dev_targets)?);
    }
    let raw = strategy.fit(raw_dev, dev_targets)?;
    Ok(carry(calibrator, &raw))
}

/// Raw-scale thresholds carried through each label's calibration map.
fn carry(calibrator: &Calibrator, raw: &Thresholds) -> Thresholds {
    let Some(per_label) = raw.per_class(calibrator.labels.len()) else {
        return raw.clone();
    };
    let thresholds = per_label
        .iter()
        .zip(&calibrator.labels)
        // A threshold outside [0, 1] (nothing or everything predicted) means the same on both scales.
        .map(|(&t, l)| {
            if (0.0..=1.0).contains(&t) {
                l.calibrator.apply(t)
            } else {
                t
            }
        })
        .collect();
    Thresholds::PerClass { thresholds }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Auto, Isotonic};
    use goemo_threshold::{Global, PerClass};
    use ndarray::Array2;

    fn data(n: usize, salt: usize) -> (Array2<f64>, Array2<bool>, Vec<String>) {
        let scores = Array2::from_shape_fn((n, 3), |(i, c)| {
            let u = ((i * 2654435761 + c * 97 + salt) % 10007) as f64 / 10007.0;
            0.01 + 0.98 * u.powf(1.0 + c as f64)
        });
        let targets = Array2::from_shape_fn((n, 3), |(i, c)| {
            ((i * 7919 + c * 31 + salt) % 1000) as f64 / 1000.0 < scores[[i, c]] / 3.0
        });
        (scores, targets, vec!["a".into(), "b".into(), "c".into()])
    }

    #[test]
    fn carried_thresholds_decide_as_the_raw_ones() {
        let (dev, dev_targets, labels) = data(3000, 0);
        let (test, _, _) = data(2000, 17);
        let calibrator = Calibrator::fit(&Auto::default(), dev.view(), dev_targets.view(), &labels).unwrap();
        for strategy in [&PerClass as &dyn ThresholdStrategy, &Global(0.3)] {
            let raw = strategy.fit(dev.view(), dev_targets.view()).unwrap();
            let carried = fit_thresholds(strategy, &calibrator, dev.view(), dev_targets.view()).unwrap();
            let calibrated = calibrator.apply(test.view()).unwrap();
            if strategy.needs_fit() {
                assert_eq!(
                    carried.apply(calibrated.view()).unwrap(),
                    raw.apply(test.view()).unwrap()
                );
                let test_targets = data(2000, 17).1;
                let before = goemo_metrics::ranking(test.view(), test_targets.view()).0;
                let after = goemo_metrics::ranking(calibrated.view(), test_targets.view()).0;
                for (b, a) in before.iter().zip(&after) {
                    assert!((b.auc.unwrap() - a.auc.unwrap()).abs() < 1e-12);
                    assert!((b.ap.unwrap() - a.ap.unwrap()).abs() < 1e-12);
                }
            } else {
                // A fixed threshold is a probability on the calibrated scale.
                assert_eq!(carried, Thresholds::Global { threshold: 0.3 });
            }
        }
    }

    #[test]
    fn isotonic_fits_on_the_calibrated_scores() {
        let (dev, dev_targets, labels) = data(3000, 0);
        let calibrator = Calibrator::fit(&Isotonic, dev.view(), dev_targets.view(), &labels).unwrap();
        let fitted = fit_thresholds(&PerClass, &calibrator, dev.view(), dev_targets.view()).unwrap();
        let calibrated = calibrator.apply(dev.view()).unwrap();
        assert_eq!(fitted, PerClass.fit(calibrated.view(), dev_targets.view()).unwrap());
    }
}
