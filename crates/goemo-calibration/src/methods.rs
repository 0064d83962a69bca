//! The per-label maps and the methods that fit them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::isotonic::IsotonicFit;
use crate::optimize::{fit_logistic, logit, sigmoid};
use crate::CalibrationError;

/// One label's map from a model's probability to a calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LabelCalibrator {
    /// The score as it is (no calibration, or a label the fitting set cannot calibrate).
    Identity,
    /// `σ(β · logit(p))`: one inverse temperature β > 0.
    Temperature {
        /// β.
        inverse_temperature: f64,
    },
    /// `σ(a · logit(p) + b)`, a > 0 (Platt scaling; scikit-learn's `A = −a`, `B = −b`).
    Platt {
        /// a.
        slope: f64,
        /// b.
        intercept: f64,
    },
    /// Isotonic regression on `p`, its output clipped to `[min, max]`.
    Isotonic {
        /// The fitted step function.
        #[serde(flatten)]
        fit: IsotonicFit,
        /// Lowest output.
        min: f64,
        /// Highest output.
        max: f64,
    },
}

impl LabelCalibrator {
    /// The calibrated probability of a score in `[0, 1]`.
    pub fn apply(&self, p: f64) -> f64 {
        match self {
            LabelCalibrator::Identity => p,
            LabelCalibrator::Temperature { inverse_temperature } => sigmoid(inverse_temperature * logit(p)),
            LabelCalibrator::Platt { slope, intercept } => sigmoid(slope * logit(p) + intercept),
            LabelCalibrator::Isotonic { fit, min, max } => fit.predict(p).clamp(*min, *max),
        }
    }

    /// Whether the map is strictly increasing, so that it keeps the label's ranking (its AUC,
    /// AP and every threshold decision): true for temperature and Platt; isotonic steps tie
    /// scores.
    pub fn keeps_ranking(&self) -> bool {
        !matches!(self, LabelCalibrator::Isotonic { .. })
    }

    /// The method's name.
    pub fn kind(&self) -> MethodKind {
        match self {
            LabelCalibrator::Identity => MethodKind::None,
            LabelCalibrator::Temperature { .. } => MethodKind::Temperature,
            LabelCalibrator::Platt { .. } => MethodKind::Platt,
            LabelCalibrator::Isotonic { .. } => MethodKind::Isotonic,
        }
    }
}

/// A way to fit one label's calibrator from its dev scores and outcomes (both classes present).
pub trait CalibrationMethod: Send + Sync {
    /// The method's name, as on command lines.
    fn kind(&self) -> MethodKind;
    /// The fitted map, or why this method cannot calibrate the label.
    fn fit_label(&self, scores: &[f64], outcomes: &[bool]) -> Result<Fitted, String>;
}

/// A fitted map and, for [`Auto`], the cross-validated log loss of every candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// The fitted map.
    pub calibrator: LabelCalibrator,
    /// Cross-validated log loss of each candidate method (empty unless fitted by `Auto`).
    pub cv_log_loss: BTreeMap<MethodKind, f64>,
    /// Why the map is not what the method would normally fit, when it is not.
    pub note: Option<String>,
}

impl From<LabelCalibrator> for Fitted {
    fn from(calibrator: LabelCalibrator) -> Self {
        Fitted {
            calibrator,
            cv_log_loss: BTreeMap::new(),
            note: None,
        }
    }
}

/// The calibration methods by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    /// Scores are left as the model gives them.
    None,
    /// One inverse temperature per label.
    Temperature,
    /// Platt scaling per label.
    Platt,
    /// Isotonic regression per label.
    Isotonic,
    /// Per label, the rank-keeping method with the lowest cross-validated log loss on dev.
    #[default]
    Auto,
}

impl MethodKind {
    /// Every method, in the order command lines list them.
    pub const ALL: [MethodKind; 5] = [
        MethodKind::None,
        MethodKind::Temperature,
        MethodKind::Platt,
        MethodKind::Isotonic,
        MethodKind::Auto,
    ];

    /// The method that fits this kind; `None` fits nothing.
    pub fn method(self) -> Option<Box<dyn CalibrationMethod>> {
        match self {
            MethodKind::None => None,
            MethodKind::Temperature => Some(Box::new(Temperature)),
            MethodKind::Platt => Some(Box::new(Platt)),
            MethodKind::Isotonic => Some(Box::new(Isotonic)),
            MethodKind::Auto => Some(Box::new(Auto::default())),
        }
    }

    /// The method's name, as on command lines.
    pub fn name(self) -> &'static str {
        match self {
            MethodKind::None => "none",
            MethodKind::Temperature => "temperature",
            MethodKind::Platt => "platt",
            MethodKind::Isotonic => "isotonic",
            MethodKind::Auto => "auto",
        }
    }
}

impl fmt::Display for MethodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MethodKind {
    type Err = CalibrationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MethodKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| CalibrationError::UnknownMethod(s.to_string()))
    }
}

/// Temperature scaling per label: `σ(β · logit(p))`, β fitted by log loss (as scikit-learn's
/// `method="temperature"`, whose two-class softmax of `(−z, z)/T` is `σ(2z/T)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Temperature;

/// scikit-learn bounds `ln β` to `[−10, 10]`.
const MIN_INVERSE_TEMPERATURE: f64 = 4.539_992_976_248_485e-5;

impl CalibrationMethod for Temperature {
    fn kind(&self) -> MethodKind {
        MethodKind::Temperature
    }

    fn fit_label(&self, scores: &[f64], outcomes: &[bool]) -> Result<Fitted, String> {
        let z: Vec<f64> = scores.iter().map(|&p| logit(p)).collect();
        let t: Vec<f64> = outcomes.iter().map(|&y| f64::from(u8::from(y))).collect();
        let (beta, _) = fit_logistic(&z, &t, (1.0, 0.0), false);
        Ok(LabelCalibrator::Temperature {
            inverse_temperature: beta.max(MIN_INVERSE_TEMPERATURE),
        }
        .into())
    }
}

/// Platt scaling per label: `σ(a · logit(p) + b)`, fitted by log loss against Platt's smoothed
/// targets (`(N₊ + 1)/(N₊ + 2)` and `1/(N₋ + 2)`), exactly as scikit-learn's `method="sigmoid"`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Platt;

impl CalibrationMethod for Platt {
    fn kind(&self) -> MethodKind {
        MethodKind::Platt
    }

    fn fit_label(&self, scores: &[f64], outcomes: &[bool]) -> Result<Fitted, String> {
        let z: Vec<f64> = scores.iter().map(|&p| logit(p)).collect();
        let positives = outcomes.iter().filter(|&&y| y).count() as f64;
        let negatives = outcomes.len() as f64 - positives;
        let (hi, lo) = ((positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0));
        let t: Vec<f64> = outcomes.iter().map(|&y| if y { hi } else { lo }).collect();
        let start = (0.0, ((positives + 1.0) / (negatives + 1.0)).ln());
        let (slope, intercept) = fit_logistic(&z, &t, start, true);
        if slope <= 0.0 {
            return Err(format!(
                "Platt slope {slope:.3e} ≤ 0: the scores do not rank this label, calibration would reverse or flatten them"
            ));
        }
        Ok(LabelCalibrator::Platt { slope, intercept }.into())
    }
}

/// Isotonic regression per label on the probability (scikit-learn's `method="isotonic"`), its
/// output clipped to `[1/(n+2), (n+1)/(n+2)]` for `n` fitting examples, the add-one bounds that
/// keep a log loss finite.
#[derive(Debug, Clone, Copy, Default)]
pub struct Isotonic;

impl CalibrationMethod for Isotonic {
    fn kind(&self) -> MethodKind {
        MethodKind::Isotonic
    }

    fn fit_label(&self, scores: &[f64], outcomes: &[bool]) -> Result<Fitted, String> {
        let n = scores.len() as f64;
        Ok(LabelCalibrator::Isotonic {
            fit: IsotonicFit::fit(scores, outcomes),
            min: 1.0 / (n + 2.0),
            max: (n + 1.0) / (n + 2.0),
        }
        .into())
    }
}

/// Folds of [`Auto`]'s cross-validation.
pub const AUTO_FOLDS: usize = 5;

/// Per label, the method with the lowest out-of-fold log loss over stratified folds of the
/// fitting set, among the methods that keep the label's ranking (temperature and Platt), then
/// refitted on the whole set. Isotonic's loss is measured and recorded beside them but not
/// chosen: its steps tie scores, which would change AUCs and could change decisions.
#[derive(Debug, Clone, Copy)]
pub struct Auto {
    /// Cross-validation folds on dev.
    pub folds: usize,
}

impl Default for Auto {
    fn default() -> Self {
        Auto { folds: AUTO_FOLDS }
    }
}

impl CalibrationMethod for Auto {
    fn kind(&self) -> MethodKind {
        MethodKind::Auto
    }

    fn fit_label(&self, scores: &[f64], outcomes: &[bool]) -> Result<Fitted, String> {
        let folds = stratified_folds(outcomes, self.folds);
        let candidates: [&dyn CalibrationMethod; 3] = [&Temperature, &Platt, &Isotonic];
        let mut cv_log_loss = BTreeMap::new();
        for method in candidates {
            if let Some(loss) = out_of_fold_log_loss(method, scores, outcomes, &folds) {
                cv_log_loss.insert(method.kind(), loss);
            }
        }
        // Rank-keeping candidates by cross-validated loss (unmeasured ones last); the first whose
        // fit on all of dev keeps the ranking wins.
        let mut order: Vec<(MethodKind, f64)> = [MethodKind::Temperature, MethodKind::Platt]
            .into_iter()
            .map(|k| (k, cv_log_loss.get(&k).copied().unwrap_or(f64::INFINITY)))
            .collect();
        order.sort_by(|a, b| a.1.total_cmp(&b.1));
        for (kind, _) in order {
            let method: &dyn CalibrationMethod = match kind {
                MethodKind::Platt => &Platt,
                _ => &Temperature,
            };
            let Ok(fitted) = method.fit_label(scores, outcomes) else {
                continue;
            };
            if matches!(fitted.calibrator, LabelCalibrator::Temperature { inverse_temperature } if inverse_temperature <= MIN_INVERSE_TEMPERATURE)
            {
                continue;
            }
            return Ok(Fitted {
                calibrator: fitted.calibrator,
                cv_log_loss,
                note: None,
            });
        }
        Ok(Fitted {
            calibrator: LabelCalibrator::Identity,
            cv_log_loss,
            note: Some("the scores do not rank this label on dev: no increasing map fits, scores kept".into()),
        })
    }
}

/// Fold of each example: positives dealt round-robin, then negatives, so every fold holds a
/// share of a rare label's positives; deterministic.
fn stratified_folds(outcomes: &[bool], folds: usize) -> Vec<usize> {
    let folds = folds.max(2);
    let (mut next_positive, mut next_negative) = (0, 0);
    outcomes
        .iter()
        .map(|&y| {
            let counter = if y { &mut next_positive } else { &mut next_negative };
            let fold = *counter % folds;
            *counter += 1;
            fold
        })
        .collect()
}

/// Mean log loss of each example scored by the method fitted without its fold; `None` when a
/// fold's fit fails or leaves one class out.
fn out_of_fold_log_loss(
    method: &dyn CalibrationMethod,
    scores: &[f64],
    outcomes: &[bool],
    folds: &[usize],
) -> Option<f64> {
    let k = folds.iter().max().map_or(0, |&m| m + 1);
    let mut total = 0.0;
    for fold in 0..k {
        let (mut fit_s, mut fit_y) = (Vec::new(), Vec::new());
        for ((&s, &y), &f) in scores.iter().zip(outcomes).zip(folds) {
            if f != fold {
                fit_s.push(s);
                fit_y.push(y);
            }
        }
        if !fit_y.contains(&true) || !fit_y.contains(&false) {
            return None;
        }
        let fitted = method.fit_label(&fit_s, &fit_y).ok()?.calibrator;
        total += scores
            .iter()
            .zip(outcomes)
            .zip(folds)
            .filter(|(_, &f)| f == fold)
            .map(|((&s, &y), _)| log_loss_term(fitted.apply(s), y))
            .sum::<f64>();
    }
    Some(total / scores.len() as f64)
}

/// Probabilities are clipped this far from 0 and 1 in a log loss (scikit-learn's `log_loss`
/// clips to the float type's epsilon).
const LOG_LOSS_CLIP: f64 = f64::EPSILON;

fn log_loss_term(p: f64, y: bool) -> f64 {
    let p = p.clamp(LOG_LOSS_CLIP, 1.0 - LOG_LOSS_CLIP);
    if y {
        -p.ln()
    } else {
        -(1.0 - p).ln()
    }
}

/// Mean negative log likelihood of outcomes under probabilities (clipped to `[ε, 1 − ε]`):
/// scikit-learn's `log_loss` for one binary label.
pub fn log_loss(probabilities: impl IntoIterator<Item = (f64, bool)>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for (p, y) in probabilities {
        sum += log_loss_term(p, y);
        n += 1;
    }
    sum / n.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_share_the_positives() {
        let outcomes: Vec<bool> = (0..23).map(|i| i % 4 == 0).collect();
        let folds = stratified_folds(&outcomes, 5);
        for fold in 0..5 {
            let positives = outcomes.iter().zip(&folds).filter(|(&y, &f)| y && f == fold).count();
            assert_eq!(positives, 1 + usize::from(fold == 0));
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in MethodKind::ALL {
            assert_eq!(kind.name().parse::<MethodKind>().unwrap(), kind);
        }
        assert!("sigmoid"
            .parse::<MethodKind>()
            .unwrap_err()
            .to_string()
            .contains("platt"));
    }

    #[test]
    fn platt_refuses_scores_that_rank_a_label_backwards() {
        let scores = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1, 0.85, 0.15];
        let outcomes = [false, false, false, true, true, true, false, true];
        let e = Platt.fit_label(&scores, &outcomes).unwrap_err();
        assert!(e.contains("slope"), "{e}");
    }

    #[test]
    fn auto_keeps_scores_that_rank_a_label_backwards() {
        let scores = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1, 0.85, 0.15, 0.75, 0.25];
        let outcomes = [false, false, false, true, true, true, false, true, false, true];
        let fitted = Auto::default().fit_label(&scores, &outcomes).unwrap();
        assert_eq!(fitted.calibrator, LabelCalibrator::Identity);
        assert!(fitted.note.unwrap().contains("do not rank"));
    }

    #[test]
    fn auto_chooses_a_rank_keeping_method_and_records_isotonic() {
        // Scores twice the frequency they stand for: a shift Platt can undo and temperature cannot.
        let mut scores = vec![];
        let mut outcomes = vec![];
        for i in 0..400 {
            let p = 0.05 + 0.9 * (i as f64 / 400.0);
            scores.push(p);
            outcomes.push((i * 7919) % 100 < (50.0 * p) as usize);
        }
        let fitted = Auto::default().fit_label(&scores, &outcomes).unwrap();
        assert_eq!(fitted.calibrator.kind(), MethodKind::Platt);
        assert!(fitted.cv_log_loss.contains_key(&MethodKind::Isotonic));
        assert!(fitted.cv_log_loss[&MethodKind::Platt] < fitted.cv_log_loss[&MethodKind::Temperature]);
    }
}
