//! [`Calibrator`]: every label's fitted map, applied to score matrices and stored as
//! `calibration.json` beside a model.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{Array2, ArrayView2, Zip};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::methods::{CalibrationMethod, LabelCalibrator, MethodKind};
use crate::{CalibrationError, Result};

/// The file of a checkpoint folder with its calibration.
pub const CALIBRATION_FILE: &str = "calibration.json";

/// One label's calibration, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelCalibration {
    /// Label name.
    pub label: String,
    /// The label's map.
    #[serde(flatten)]
    pub calibrator: LabelCalibrator,
    /// Out-of-fold log loss of each candidate on the fitting set (`auto` only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cv_log_loss: BTreeMap<MethodKind, f64>,
    /// Why the label kept its scores as they are, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Calibration of every label, fitted on one set (dev), applied to any scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibrator {
    /// The method asked for (`auto` chooses per label: see each label's `method`).
    pub method: MethodKind,
    /// Examples of the fitting set.
    pub examples: usize,
    /// One map per label, in column order.
    pub labels: Vec<LabelCalibration>,
}

impl Calibrator {
    /// Fits `method` per label on probabilities in `[0, 1]` and their outcomes. A label whose
    /// fitting set lacks positives or negatives keeps its scores (noted in the file).
    pub fn fit(
        method: &dyn CalibrationMethod,
        scores: ArrayView2<'_, f64>,
        targets: ArrayView2<'_, bool>,
        labels: &[String],
    ) -> Result<Self> {
        check_input(scores, labels.len())?;
        if targets.dim() != scores.dim() {
            return Err(CalibrationError::Input(format!(
                "scores {:?} and targets {:?} differ in shape",
                scores.dim(),
                targets.dim()
            )));
        }
        if scores.nrows() == 0 {
            return Err(CalibrationError::Input("no examples to fit on".into()));
        }
        let fitted: Vec<LabelCalibration> = (0..labels.len())
            .into_par_iter()
            .map(|c| {
                let s: Vec<f64> = scores.column(c).to_vec();
                let y: Vec<bool> = targets.column(c).to_vec();
                let label = labels[c].clone();
                if !y.contains(&true) || !y.contains(&false) {
                    let class = if y.contains(&true) { "negative" } else { "positive" };
                    return Ok(LabelCalibration {
                        label,
                        calibrator: LabelCalibrator::Identity,
                        cv_log_loss: BTreeMap::new(),
                        note: Some(format!("no {class} example to fit on: scores kept")),
                    });
                }
                let fitted = method.fit_label(&s, &y).map_err(|message| CalibrationError::Label {
                    label: label.clone(),
                    message,
                })?;
                Ok(LabelCalibration {
                    label,
                    calibrator: fitted.calibrator,
                    cv_log_loss: fitted.cv_log_loss,
                    note: fitted.note,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Calibrator {
            method: method.kind(),
            examples: scores.nrows(),
            labels: fitted,
        })
    }

    /// A calibrator that keeps every score (`--calibration none`).
    pub fn identity(labels: &[String]) -> Self {
        Calibrator {
            method: MethodKind::None,
            examples: 0,
            labels: labels
                .iter()
                .map(|l| LabelCalibration {
                    label: l.clone(),
                    calibrator: LabelCalibrator::Identity,
                    cv_log_loss: BTreeMap::new(),
                    note: None,
                })
                .collect(),
        }
    }

    /// Whether the calibrator changes any score.
    pub fn is_identity(&self) -> bool {
        self.labels.iter().all(|l| l.calibrator == LabelCalibrator::Identity)
    }

    /// Whether every label's map keeps its ranking (no isotonic label), so that AUCs, APs and
    /// threshold decisions are those of the raw scores.
    pub fn keeps_ranking(&self) -> bool {
        self.labels.iter().all(|l| l.calibrator.keeps_ranking())
    }

    /// The label names, in column order.
    pub fn label_names(&self) -> Vec<&str> {
        self.labels.iter().map(|l| l.label.as_str()).collect()
    }

    /// Calibrated probabilities of scores in `[0, 1]` (N × labels), in f64.
    pub fn apply<S: Copy + Into<f64> + Sync>(&self, scores: ArrayView2<'_, S>) -> Result<Array2<f64>> {
        let wide = scores.mapv(Into::into);
        check_input(wide.view(), self.labels.len())?;
        let mut out = Array2::zeros(wide.raw_dim());
        Zip::from(out.rows_mut()).and(wide.rows()).par_for_each(|mut o, s| {
            for ((o, &s), l) in o.iter_mut().zip(s.iter()).zip(&self.labels) {
                *o = l.calibrator.apply(s);
            }
        });
        Ok(out)
    }

    /// Reads `calibration.json`, checking that it names `labels` in that order.
    pub fn read(path: impl AsRef<Path>, labels: &[String]) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| CalibrationError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let calibrator: Calibrator = serde_json::from_str(&text).map_err(|e| CalibrationError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let names = calibrator.label_names();
        if names.len() != labels.len() || names.iter().zip(labels).any(|(a, b)| *a != b.as_str()) {
            return Err(CalibrationError::Parse {
                path: path.to_path_buf(),
                message: format!(
                    "calibrates the labels [{}], the model predicts [{}]",
                    names.join(", "),
                    labels.join(", ")
                ),
            });
        }
        Ok(calibrator)
    }

    /// `dir/calibration.json` when the folder has one.
    pub fn read_in(dir: impl AsRef<Path>, labels: &[String]) -> Result<Option<Self>> {
        let path = dir.as_ref().join(CALIBRATION_FILE);
        match path.is_file() {
            true => Self::read(path, labels).map(Some),
            false => Ok(None),
        }
    }

    /// Writes the calibrator as JSON, atomically.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        Ok(goemo_fs::write_json_atomic(path, self)?)
    }

    /// Stores the calibrator as `dir/calibration.json`; an identity calibrator (`none`) writes
    /// nothing and removes a stale file, so that the folder says its scores are uncalibrated.
    pub fn write_in(&self, dir: impl AsRef<Path>) -> Result<()> {
        let path = dir.as_ref().join(CALIBRATION_FILE);
        if !self.is_identity() {
            return self.write(path);
        }
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(goemo_fs::FsError::Io { path, source: e }.into()),
            _ => Ok(()),
        }
    }

    /// How many labels use each method, e.g. `platt ×25, temperature ×3`.
    pub fn describe(&self) -> String {
        let mut counts: BTreeMap<MethodKind, usize> = BTreeMap::new();
        for l in &self.labels {
            *counts.entry(l.calibrator.kind()).or_default() += 1;
        }
        let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        format!("{} ({})", self.method, parts.join(", "))
    }
}

/// Probabilities in `[0, 1]`, one column per label.
fn check_input(scores: ArrayView2<'_, f64>, labels: usize) -> Result<()> {
    if scores.ncols() != labels {
        return Err(CalibrationError::Input(format!(
            "{} score columns for {labels} labels",
            scores.ncols()
        )));
    }
    if let Some(((row, col), &value)) = scores.indexed_iter().find(|(_, &p)| !(0.0..=1.0).contains(&p)) {
        return Err(CalibrationError::NotAProbability { row, col, value });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Auto, Platt};
    use ndarray::Array2;

    fn synthetic() -> (Array2<f64>, Array2<bool>, Vec<String>) {
        let n = 600;
        let scores = Array2::from_shape_fn((n, 2), |(i, c)| 0.02 + 0.96 * ((i * (c + 3)) % n) as f64 / n as f64);
        let targets = Array2::from_shape_fn((n, 2), |(i, c)| {
            // True frequency is half the score.
            (i * 7919 + c) % 1000 < (500.0 * scores[[i, c]]) as usize
        });
        (scores, targets, vec!["joy".into(), "anger".into()])
    }

    #[test]
    fn writes_and_reads_back_checking_labels() {
        let (scores, targets, labels) = synthetic();
        let fitted = Calibrator::fit(&Auto::default(), scores.view(), targets.view(), &labels).unwrap();
        let dir = std::env::temp_dir().join(format!("goemo-calibration-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        fitted.write(dir.join(CALIBRATION_FILE)).unwrap();
        let back = Calibrator::read_in(&dir, &labels).unwrap().unwrap();
        assert_eq!(back, fitted);
        let e = Calibrator::read_in(&dir, &["joy".into(), "fear".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("calibration.json") && e.contains("fear"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lowers_inflated_scores_to_frequencies_and_keeps_ranking() {
        let (scores, targets, labels) = synthetic();
        let fitted = Calibrator::fit(&Platt, scores.view(), targets.view(), &labels).unwrap();
        assert!(fitted.keeps_ranking());
        let calibrated = fitted.apply(scores.view()).unwrap();
        for c in 0..2 {
            let mean: f64 = calibrated.column(c).mean().unwrap();
            let frequency = targets.column(c).iter().filter(|&&y| y).count() as f64 / targets.nrows() as f64;
            assert!((mean - frequency).abs() < 0.01, "{mean} {frequency}");
            for i in 1..scores.nrows() {
                let (a, b) = (scores[[i - 1, c]], scores[[i, c]]);
                let (ca, cb) = (calibrated[[i - 1, c]], calibrated[[i, c]]);
                assert_eq!(a.total_cmp(&b), ca.total_cmp(&cb));
            }
        }
    }

    #[test]
    fn refuses_what_is_not_a_probability() {
        let (scores, targets, labels) = synthetic();
        let fitted = Calibrator::fit(&Platt, scores.view(), targets.view(), &labels).unwrap();
        let e = fitted
            .apply(ndarray::array![[0.5, 1.5]].view())
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 0, column 1") && e.contains("1.5"), "{e}");
        let e = fitted.apply(ndarray::array![[0.5]].view()).unwrap_err().to_string();
        assert!(e.contains("1 score columns for 2 labels"), "{e}");
    }

    #[test]
    fn a_label_without_positives_keeps_its_scores() {
        let (scores, mut targets, labels) = synthetic();
        targets.column_mut(1).fill(false);
        let fitted = Calibrator::fit(&Auto::default(), scores.view(), targets.view(), &labels).unwrap();
        assert_eq!(fitted.labels[1].calibrator, LabelCalibrator::Identity);
        assert!(fitted.labels[1].note.as_deref().unwrap().contains("positive"));
    }
}
