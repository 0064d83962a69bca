//! Comparisons of goemo runs, with no libtorch: the prediction files and records that `train`
//! (or any system writing the same files) leaves in a run folder are read ([`RunFolder`]), and
//! every number of the "Model Performance" document is computed from them ([`compare`]):
//! metrics side by side with their differences, per-emotion rankings, threshold strategies,
//! calibration, paired bootstrap and seed statistics, label-combination errors. [`write_report`]
//! writes the document, `comparison.json`, CSV tables and charts. [`ensemble`] averages runs
//! (seeds) into a run folder of their own.

mod compare;
mod document;
mod ensemble;
mod figures;
mod observations;
mod run;
mod sections;
mod significance;
mod stats;
mod summary;
mod tables;

pub use compare::{
    compare, holm, reads_as_probabilities, BootstrapRow, CalibrationNumbers, CalibrationSummary, ClassCalibration,
    CompareOptions, Comparison, ComparisonRow, EmotionRow, EpochPoint, ModelKind, ModelSummary, SeedStats, SeedTest,
    StrategyRow, SweepPoint, TestMetrics, METRICS,
};
pub use document::{build, write_report};
pub use ensemble::{average, ensemble, Ensemble, ENSEMBLE_FILE};
pub use goemo_stats::{one_sample_t_test, welch_t_test, TTest};
pub use run::{Predictions, RunFolder};
pub use stats::{combos, cooccurrence_pairs, Combo, PairStats};

use std::path::PathBuf;

/// Errors of this crate; other goemo crates' errors keep their type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{path}, line {line}: {message}")]
    Line { path: PathBuf, line: u64, message: String },
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Metrics(#[from] goemo_metrics::MetricsError),
    #[error(transparent)]
    Threshold(#[from] goemo_threshold::ThresholdError),
    #[error(transparent)]
    Calibration(#[from] goemo_calibration::CalibrationError),
    #[error(transparent)]
    Report(#[from] goemo_report::ReportError),
    #[error(transparent)]
    Fs(#[from] goemo_fs::FsError),
}

/// Result alias of this crate.
pub type Result<T, E = AnalysisError> = std::result::Result<T, E>;
