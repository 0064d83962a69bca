//! Ensembles of runs: the members' probabilities averaged per example (rows matched by id), the
//! mean calibrated on the averaged dev set, thresholds fitted on it on the calibrated scale, and a
//! run folder written that `report` and `evaluate` read like any other, with
//! `checkpoint/ensemble.json` naming the members' checkpoints (and `calibration.json`,
//! `thresholds.json` beside it) so that `EmotionClassifier` serves the ensemble.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use goemo_calibration::{Calibrator, MethodKind};
use goemo_metrics::{CalibrationChange, MetricReport};
use goemo_threshold::{Global, ThresholdStrategy, Thresholds, TopK};
use ndarray::{Array2, ArrayView2};
use serde_json::{json, Value};

use crate::{AnalysisError, Predictions, Result, RunFolder};

/// The file of an ensemble's checkpoint folder that lists its members' checkpoint folders
/// (paths relative to it); `thresholds.json` sits beside it.
pub const ENSEMBLE_FILE: &str = "ensemble.json";

/// Averaged predictions of several runs, calibrated and thresholded on the averaged dev set.
#[derive(Debug, Clone)]
pub struct Ensemble {
    /// The member run folders.
    pub members: Vec<PathBuf>,
    /// How members combine (`mean` of probabilities).
    pub strategy: String,
    /// Fitted on the averaged dev set, on the calibrated scale.
    pub thresholds: Thresholds,
    /// Fitted on the averaged dev set.
    pub calibrator: Calibrator,
    /// Test calibration of the averaged probabilities before and after the calibrator.
    pub calibration: CalibrationChange,
    /// Calibrated probabilities; `predicted` is the ensemble's own (its thresholds applied).
    pub dev: Predictions,
    /// Test predictions of the ensemble.
    pub test: Predictions,
}

/// The mean of several prediction files of one split, in the first file's row order: every file
/// must name the same labels and the same ids with the same true labels.
pub fn average(sets: &[&Predictions]) -> Result<Predictions> {
    let first = *sets
        .first()
        .ok_or_else(|| AnalysisError::Input("nothing to average".into()))?;
    let mut sum = first.probabilities.clone();
    for other in &sets[1..] {
        let mismatch = |message: String| AnalysisError::File {
            path: other.path.clone(),
            message,
        };
        if other.labels != first.labels {
            return Err(mismatch(format!(
                "names other labels than {} ({} against {})",
                first.path.display(),
                other.labels.len(),
                first.labels.len()
            )));
        }
        let index: HashMap<&str, usize> = other.ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
        if other.ids.len() != first.ids.len() || index.len() != other.ids.len() {
            return Err(mismatch(format!(
                "{} rows with {} distinct ids, {} has {} rows",
                other.ids.len(),
                index.len(),
                first.path.display(),
                first.ids.len()
            )));
        }
        for (row, id) in first.ids.iter().enumerate() {
            let &i = index
                .get(id.as_str())
                .ok_or_else(|| mismatch(format!("has no row with id {id:?} of {}", first.path.display())))?;
            if other.targets.row(i) != first.targets.row(row) {
                return Err(mismatch(format!(
                    "id {id:?} carries other true labels than in {}",
                    first.path.display()
                )));
            }
            let mut dst = sum.row_mut(row);
            dst += &other.probabilities.row(i);
        }
    }
    let n = sets.len() as f64;
    Ok(Predictions {
        path: first.path.clone(),
        labels: first.labels.clone(),
        ids: first.ids.clone(),
        texts: first.texts.clone(),
        probabilities: sum.mapv(|s| s / n),
        targets: first.targets.clone(),
        predicted: Array2::from_elem(first.targets.dim(), false),
    })
}

/// Averages the runs' dev and test probabilities, calibrates the mean with `calibration` fitted
/// on the averaged dev set, and fits `strategy` on that dev set, on the calibrated scale
/// (`goemo_calibration::fit_thresholds`).
pub fn ensemble(runs: &[RunFolder], strategy: &dyn ThresholdStrategy, calibration: MethodKind) -> Result<Ensemble> {
    if runs.len() < 2 {
        return Err(AnalysisError::Input(format!(
            "an ensemble needs at least two runs, got {}",
            runs.len()
        )));
    }
    let mut dev = average(&runs.iter().map(|r| &r.dev).collect::<Vec<_>>())?;
    let mut test = average(&runs.iter().map(|r| &r.test).collect::<Vec<_>>())?;
    if dev.labels != test.labels {
        return Err(AnalysisError::Input(
            "the dev and test files name different labels".into(),
        ));
    }
    let calibrator = match calibration.method() {
        Some(method) => Calibrator::fit(
            method.as_ref(),
            dev.probabilities.view(),
            dev.targets.view(),
            &dev.labels,
        )?,
        None => Calibrator::identity(&dev.labels),
    };
    let thresholds =
        goemo_calibration::fit_thresholds(strategy, &calibrator, dev.probabilities.view(), dev.targets.view())?;
    let test_before = std::mem::take(&mut test.probabilities);
    dev.probabilities = calibrator.apply(dev.probabilities.view())?;
    test.probabilities = calibrator.apply(test_before.view())?;
    let calibration = CalibrationChange::compute(
        test_before.view(),
        test.probabilities.view(),
        test.targets.view(),
        &runs[0].base_rates(),
        &test.labels,
    )?;
    dev.predicted = thresholds.apply(dev.probabilities.view())?;
    test.predicted = thresholds.apply(test.probabilities.view())?;
    Ok(Ensemble {
        members: runs.iter().map(|r| r.dir.clone()).collect(),
        strategy: strategy.name().to_string(),
        thresholds,
        calibrator,
        calibration,
        dev,
        test,
    })
}

impl Ensemble {
    /// Writes the ensemble's run folder: `predictions_dev.csv`, `predictions_test.csv`
    /// (calibrated probabilities), `metrics.json` (the members, their summed parameters and
    /// training time, the calibration before and after, dev and test metrics under the fitted
    /// thresholds, test at 0.5 and top-1), and, when every member has a `checkpoint/` folder,
    /// `checkpoint/ensemble.json`, `checkpoint/thresholds.json` and `checkpoint/calibration.json`.
    /// Returns the record written to `metrics.json`.
    pub fn write(&self, dir: &Path, runs: &[RunFolder]) -> Result<Value> {
        std::fs::create_dir_all(dir).map_err(|e| AnalysisError::File {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        write_predictions(&dir.join("predictions_dev.csv"), &self.dev)?;
        write_predictions(&dir.join("predictions_test.csv"), &self.test)?;
        let report = |set: &Predictions, predicted: ArrayView2<'_, bool>, per_class: Option<&[f64]>| {
            MetricReport::compute(
                set.probabilities.view(),
                set.targets.mapv(u8::from).view(),
                predicted,
                &set.labels,
                per_class,
            )
        };
        let per_class = self.thresholds.per_class(self.test.labels.len());
        let at = |strategy: &dyn ThresholdStrategy| -> Result<MetricReport> {
            let fitted = strategy.fit(self.dev.probabilities.view(), self.dev.targets.view())?;
            let predicted = fitted.apply(self.test.probabilities.view())?;
            Ok(report(&self.test, predicted.view(), None)?)
        };
        let sum = |pointer: &str| -> Option<f64> { runs.iter().map(|r| r.number(pointer)).sum() };
        let first = runs.first().and_then(|r| r.record.as_ref());
        let copy = |key: &str| first.and_then(|r| r.get(key)).cloned().unwrap_or(Value::Null);
        let record = json!({
            "ensemble": {
                "members": self.members.iter().map(|m| m.display().to_string()).collect::<Vec<_>>(),
                "combination": "mean of probabilities",
                "threshold_strategy": self.strategy,
            },
            "configuration": copy("configuration"),
            "device": copy("device"),
            "precision": copy("precision"),
            "versions": copy("versions"),
            "parameters": sum("/parameters"),
            "train_seconds": sum("/train_seconds"),
            "members_training": members_training(runs),
            "thresholds": self.thresholds,
            "calibration": {
                "method": self.calibrator.method,
                "fitted_on": "averaged dev",
                "per_label": self.calibrator.describe(),
                "test": self.calibration,
            },
            "dev": report(&self.dev, self.dev.predicted.view(), per_class.as_deref())?,
            "test": report(&self.test, self.test.predicted.view(), per_class.as_deref())?,
            "test_global_0_5": at(&Global(0.5))?,
            "test_top_1": at(&TopK { k: 1, min_score: None })?,
        });
        goemo_fs::write_json_atomic(dir.join("metrics.json"), &record)?;
        let checkpoints: Vec<PathBuf> = self.members.iter().map(|m| m.join("checkpoint")).collect();
        if checkpoints.iter().all(|c| c.is_dir()) {
            let folder = dir.join("checkpoint");
            std::fs::create_dir_all(&folder).map_err(|e| AnalysisError::File {
                path: folder.clone(),
                message: e.to_string(),
            })?;
            let members = checkpoints
                .iter()
                .map(|c| relative_to(c, &folder).map(|p| p.display().to_string()))
                .collect::<Result<Vec<_>>>()?;
            goemo_fs::write_json_atomic(folder.join(ENSEMBLE_FILE), &json!({ "members": members }))?;
            self.thresholds.write(folder.join("thresholds.json"))?;
            self.calibrator.write_in(&folder)?;
        }
        Ok(record)
    }
}

/// What each member's record says of its training (its dev curve, best epoch, time and the
/// machine), so that the ensemble's document can show them without the member folders.
fn members_training(runs: &[RunFolder]) -> Value {
    runs.iter()
        .map(|r| {
            let field = |key: &str| r.record.as_ref().and_then(|v| v.get(key)).cloned().unwrap_or(Value::Null);
            json!({
                "member": r.dir.display().to_string(),
                "seed": r.record.as_ref().and_then(|v| v.pointer("/configuration/seed")).cloned().unwrap_or(Value::Null),
                "best_epoch": field("best_epoch"),
                "train_seconds": field("train_seconds"),
                "history": field("history"),
                "run": field("run"),
            })
        })
        .collect()
}

/// The prediction file format `train` writes, through its one writer.
fn write_predictions(path: &Path, set: &Predictions) -> Result<()> {
    goemo_data::write_prediction_csv(
        path,
        &goemo_data::PredictionRows {
            labels: &set.labels,
            ids: &set.ids,
            texts: &set.texts,
            targets: set.targets.view(),
            predicted: set.predicted.view(),
            probabilities: set.probabilities.view(),
        },
    )
    .map_err(|e| AnalysisError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// `path` relative to the folder `base` (both made absolute), so that an ensemble folder moved
/// together with its members still finds them.
fn relative_to(path: &Path, base: &Path) -> Result<PathBuf> {
    let absolute = |p: &Path| {
        p.canonicalize().map_err(|e| AnalysisError::File {
            path: p.to_path_buf(),
            message: e.to_string(),
        })
    };
    let (path, base) = (absolute(path)?, absolute(base)?);
    let (p, b): (Vec<Component>, Vec<Component>) = (path.components().collect(), base.components().collect());
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use goemo_threshold::PerClass;

    fn predictions(ids: &[&str], probs: &[[f64; 2]], targets: &[[bool; 2]]) -> Predictions {
        let n = ids.len();
        Predictions {
            path: PathBuf::from(format!("{}.csv", ids.join(""))),
            labels: vec!["joy".into(), "anger".into()],
            ids: ids.iter().map(std::string::ToString::to_string).collect(),
            texts: ids.iter().map(|s| format!("text {s}")).collect(),
            probabilities: Array2::from_shape_vec((n, 2), probs.iter().flatten().copied().collect()).unwrap(),
            targets: Array2::from_shape_vec((n, 2), targets.iter().flatten().copied().collect()).unwrap(),
            predicted: Array2::from_elem((n, 2), false),
        }
    }

    #[test]
    fn averages_rows_matched_by_id() {
        let a = predictions(&["x", "y"], &[[0.2, 0.4], [0.6, 0.8]], &[[true, false], [false, true]]);
        // The same examples in another order.
        let b = predictions(&["y", "x"], &[[1.0, 0.0], [0.4, 0.6]], &[[false, true], [true, false]]);
        let mean = average(&[&a, &b]).unwrap();
        assert_eq!(mean.ids, ["x", "y"]);
        let expected = [[0.3, 0.5], [0.8, 0.4]];
        for (i, row) in expected.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                assert!((mean.probabilities[[i, j]] - v).abs() < 1e-12, "{i},{j}");
            }
        }
        assert_eq!(mean.targets, a.targets);
    }

    #[test]
    fn refuses_files_that_do_not_match() {
        let a = predictions(&["x", "y"], &[[0.2, 0.4], [0.6, 0.8]], &[[true, false], [false, true]]);
        let other_ids = predictions(&["x", "z"], &[[0.2, 0.4], [0.6, 0.8]], &[[true, false], [false, true]]);
        let e = average(&[&a, &other_ids]).unwrap_err().to_string();
        assert!(e.contains("xz.csv") && e.contains("\"y\""), "{e}");
        let other_labels = predictions(&["x", "y"], &[[0.2, 0.4], [0.6, 0.8]], &[[false, false], [false, true]]);
        let e = average(&[&a, &other_labels]).unwrap_err().to_string();
        assert!(e.contains("other true labels"), "{e}");
        let mut renamed = a.clone();
        renamed.labels[1] = "fear".into();
        let e = average(&[&a, &renamed]).unwrap_err().to_string();
        assert!(e.contains("other labels"), "{e}");
    }

    #[test]
    fn writes_a_run_folder_that_reads_back_with_a_checkpoint_listing_its_members() {
        let dir = tempfile::tempdir().unwrap();
        let dev_ids = ["a", "b", "c", "d"];
        let dev_targets = [[true, false], [false, true], [true, true], [false, false]];
        let test_ids = ["e", "f"];
        let test_targets = [[true, false], [false, true]];
        let mut runs = vec![];
        for (k, shift) in [0.0, 0.1].iter().enumerate() {
            let member = dir.path().join(format!("seed{k}"));
            std::fs::create_dir_all(member.join("checkpoint")).unwrap();
            let dev_probs: Vec<[f64; 2]> = [[0.9, 0.2], [0.1, 0.7], [0.8, 0.6], [0.3, 0.1]]
                .iter()
                .map(|r| [r[0] - shift, r[1] + shift])
                .collect();
            let mut dev = predictions(&dev_ids, &dev_probs, &dev_targets);
            let mut test = predictions(&test_ids, &[[0.7, 0.3], [0.2, 0.9]], &test_targets);
            dev.path = member.join("predictions_dev.csv");
            test.path = member.join("predictions_test.csv");
            write_predictions(&dev.path, &dev).unwrap();
            write_predictions(&test.path, &test).unwrap();
            goemo_fs::write_json_atomic(
                member.join("metrics.json"),
                &json!({"parameters": 10, "train_seconds": 2.5 + k as f64}),
            )
            .unwrap();
            runs.push(RunFolder::read(&member).unwrap());
        }
        let e = ensemble(&runs[..1], &PerClass, MethodKind::None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least two"), "{e}");
        let ens = ensemble(&runs, &PerClass, MethodKind::None).unwrap();
        let out = dir.path().join("ensemble");
        let record = ens.write(&out, &runs).unwrap();
        assert_eq!(record["parameters"], json!(20.0));
        assert_eq!(record["train_seconds"], json!(6.0));
        assert_eq!(record["test"]["f1_micro"], json!(1.0));
        let back = RunFolder::read(&out).unwrap();
        assert!((back.dev.probabilities[[0, 0]] - 0.85).abs() < 1e-6);
        assert_eq!(back.test.predicted, back.test.targets);
        let listed: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint").join(ENSEMBLE_FILE)).unwrap())
                .unwrap();
        assert_eq!(
            listed["members"],
            json!(["../../seed0/checkpoint", "../../seed1/checkpoint"])
        );
        let thresholds = Thresholds::read(out.join("checkpoint").join("thresholds.json"), 2).unwrap();
        assert_eq!(thresholds, ens.thresholds);
    }
}
