//! Multi-label classification metrics, equal to scikit-learn's and fast.
//!
//! Inputs are plain `ndarray` matrices: scores N×C (`f32` or `f64`), targets N×C (0/1) and the
//! boolean predictions of a threshold strategy. A metric that is undefined for its input (the AUC
//! of a class without positives) is `None` and left out of averages, never a silent 0.
//!
//! ```
//! use goemo_metrics::MetricReport;
//! use ndarray::array;
//!
//! let scores = array![[0.9f32, 0.2], [0.3, 0.8], [0.6, 0.4]];
//! let targets = array![[1.0f32, 0.0], [0.0, 1.0], [0.0, 0.0]];
//! let predictions = scores.mapv(|s| s >= 0.5);
//! let labels = vec!["joy".to_string(), "anger".to_string()];
//! let report = MetricReport::compute(scores.view(), targets.view(), predictions.view(), &labels, None)?;
//! assert_eq!(report.auc_macro, Some(1.0));
//! assert!((report.f1_micro - 0.8).abs() < 1e-12);
//! # Ok::<(), goemo_metrics::MetricsError>(())
//! ```

mod bootstrap;
mod calibration;
mod calibration_change;
mod counts;
mod error;
mod input;
mod ranking;
mod report;

pub use bootstrap::{
    bootstrap_ci, paired_bootstrap, paired_bootstrap_groups, quantile, BootstrapOptions, ConfidenceInterval, EvalData,
    FnMetric, Headline, Metric, PairedComparison, WeightedMetric,
};
pub use calibration::{brier_of_constant, calibration, Calibration, ReliabilityBin, CALIBRATION_BINS};
pub use calibration_change::{CalibrationChange, CalibrationState};
pub use counts::{confusion_per_class, ratio, Confusion, Prf, ThresholdMetrics};
pub use error::{MetricsError, Result};
pub use input::{target_mask, to_f64, validate, validate_predictions, Value};
pub use ranking::{binary_ranking, micro_ranking, per_class_ranking, ranking, RankingScores};
pub use report::{ClassMetrics, MetricReport};
