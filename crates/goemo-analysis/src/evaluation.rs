//! Metrics of any model's scores read from files, with thresholds fitted on another (dev) set:
//! what the `evaluate` example runs. No libtorch: any system's scores can be evaluated.

use std::path::{Path, PathBuf};

use goemo_data::{is_prediction_csv, read_matrix_csv, read_prediction_csv};
use goemo_metrics::{
    bootstrap_ci, target_mask, BootstrapOptions, ConfidenceInterval, EvalData, Headline, MetricReport,
};
use goemo_threshold::{threshold_sweep, ThresholdStrategy, Thresholds};
use ndarray::Array2;

use crate::{AnalysisError, Result};

/// Scores, 0/1 targets and label names (when the files name them) of one set.
#[derive(Debug, Clone)]
pub struct ScoredSet {
    /// Scores, one row per example.
    pub scores: Array2<f64>,
    /// 0/1 targets, one row per example.
    pub targets: Array2<f64>,
    /// Label names, when the file has a header.
    pub labels: Option<Vec<String>>,
    /// The scores' file.
    pub source: PathBuf,
}

impl ScoredSet {
    /// Reads a prediction CSV (`id,text,true_labels,pred_labels,<labels>`, which carries its
    /// targets unless `targets` is given), or a score matrix with its targets in another file.
    pub fn read(scores: &Path, targets: Option<&Path>) -> Result<Self> {
        let bytes = std::fs::read(scores).map_err(|e| AnalysisError::File {
            path: scores.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        let problem = |message: String| AnalysisError::File {
            path: scores.to_path_buf(),
            message,
        };
        if is_prediction_csv(&bytes) {
            let p = read_prediction_csv(scores)?;
            let targets = match targets {
                Some(path) => read_matrix_csv(path)?.values,
                None => p.targets,
            };
            return Ok(ScoredSet {
                scores: p.scores,
                targets,
                labels: Some(p.labels),
                source: scores.to_path_buf(),
            });
        }
        let Some(targets) = targets else {
            return Err(problem("not a prediction CSV: pass its targets too".into()));
        };
        let (s, t) = (read_matrix_csv(scores)?, read_matrix_csv(targets)?);
        if let (Some(a), Some(b)) = (&s.labels, &t.labels) {
            if a != b {
                return Err(problem(format!("names other labels than {}", targets.display())));
            }
        }
        Ok(ScoredSet {
            labels: s.labels.or(t.labels),
            scores: s.values,
            targets: t.values,
            source: scores.to_path_buf(),
        })
    }

    /// Checks scores and targets (finite scores, 0/1 targets, equal shapes).
    pub fn validate(&self) -> Result<()> {
        goemo_metrics::validate(self.scores.view(), self.targets.view()).map_err(|e| AnalysisError::File {
            path: self.source.clone(),
            message: e.to_string(),
        })
    }
}

/// Fits `strategy` on `fit` (a dev set) when it learns thresholds; a strategy that learns
/// nothing is applied as it is. Thresholds are never fitted on the evaluated set.
pub fn fit_thresholds(
    strategy: &dyn ThresholdStrategy,
    fit: Option<&ScoredSet>,
    evaluated: &ScoredSet,
) -> Result<Thresholds> {
    if !strategy.needs_fit() {
        let mask = target_mask(evaluated.targets.view());
        return Ok(strategy.fit(evaluated.scores.view(), mask.view())?);
    }
    let Some(fit) = fit else {
        return Err(AnalysisError::Input(format!(
            "threshold strategy {} learns thresholds: give a dev set to fit them on; thresholds are never fitted on the evaluated set",
            strategy.name()
        )));
    };
    if fit.scores.ncols() != evaluated.scores.ncols() {
        return Err(AnalysisError::Input(format!(
            "{} has {} label columns, {} has {}",
            fit.source.display(),
            fit.scores.ncols(),
            evaluated.source.display(),
            evaluated.scores.ncols()
        )));
    }
    if let (Some(a), Some(b)) = (&fit.labels, &evaluated.labels) {
        if a != b {
            return Err(AnalysisError::Input(format!(
                "{} and {} name different labels",
                fit.source.display(),
                evaluated.source.display()
            )));
        }
    }
    fit.validate()?;
    Ok(strategy.fit(fit.scores.view(), target_mask(fit.targets.view()).view())?)
}

/// The report of `set` under `thresholds`, and its predictions.
pub fn evaluate_set(
    set: &ScoredSet,
    thresholds: &Thresholds,
    labels: &[String],
) -> Result<(MetricReport, Array2<bool>)> {
    set.validate()?;
    let predictions = thresholds.apply(set.scores.view())?;
    let per_class = thresholds.per_class(labels.len());
    let report = MetricReport::compute(
        set.scores.view(),
        set.targets.view(),
        predictions.view(),
        labels,
        per_class.as_deref(),
    )?;
    Ok((report, predictions))
}

/// Every threshold metric for global thresholds 0.01..0.99, as CSV, written atomically.
pub fn write_sweep(set: &ScoredSet, path: &Path) -> Result<()> {
    let rows = threshold_sweep(set.scores.view(), target_mask(set.targets.view()).view())?;
    Ok(goemo_fs::write_csv_records_atomic(path, &rows)?)
}

/// Bootstrap intervals of the four headline metrics over examples.
pub fn bootstrap_headlines(
    set: &ScoredSet,
    predictions: &Array2<bool>,
    options: &BootstrapOptions,
) -> Result<Vec<ConfidenceInterval>> {
    let mask = target_mask(set.targets.view());
    let data = EvalData {
        scores: set.scores.view(),
        targets: mask.view(),
        predictions: predictions.view(),
    };
    [
        Headline::AucMicro,
        Headline::AucMacro,
        Headline::F1Micro,
        Headline::F1Macro,
    ]
    .iter()
    .map(|metric| Ok(bootstrap_ci(&data, metric, options)?))
    .collect()
}
