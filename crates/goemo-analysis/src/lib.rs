//! Comparisons of goemo runs, with no libtorch: the prediction files and records that `train`
//! (or any system writing the same files) leaves in a run folder are read ([`RunFolder`]), and
//! every number of the "Model Performance" document is computed from them ([`compare`]):
//! metrics side by side with their differences, per-emotion rankings, threshold strategies,
//! calibration, paired bootstrap and seed statistics, label-combination errors. [`write_report`]
//! writes the document, `comparison.json`, CSV tables and charts. [`ensemble`] averages runs
//! (seeds) into a run folder of their own. Any system's scores are evaluated with thresholds
//! fitted on another set ([`ScoredSet`], [`fit_thresholds`], [`evaluate_set`]), and a data set's
//! statistics become a document of their own ([`write_dataset_report`]).
//!
//! Nothing here links libtorch (`scripts/check_layers.sh` checks the dependency tree, and this
//! example builds without it):
//!
//! ```
//! use goemo_analysis::{evaluate_set, fit_thresholds, ScoredSet};
//! use goemo_threshold::StrategyKind;
//! use ndarray::array;
//!
//! let set = |scores, targets| ScoredSet { scores, targets, labels: None, source: "memory".into() };
//! let dev = set(array![[0.9, 0.2], [0.3, 0.7], [0.6, 0.1]], array![[1., 0.], [0., 1.], [1., 0.]]);
//! let test = set(array![[0.8, 0.3], [0.2, 0.9]], array![[1., 0.], [0., 1.]]);
//! let per_class = StrategyKind::PerClass.build(0.5, 1, None);
//! let thresholds = fit_thresholds(per_class.as_ref(), Some(&dev), &test)?;
//! let (report, _) = evaluate_set(&test, &thresholds, &["joy".into(), "anger".into()])?;
//! assert_eq!(report.f1_micro, 1.0);
//! # Ok::<(), goemo_analysis::AnalysisError>(())
//! ```

mod compare;
mod dataset_report;
mod document;
mod ensemble;
mod evaluation;
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
pub use dataset_report::write_dataset_report;
pub use document::{build, write_report};
pub use ensemble::{average, ensemble, Ensemble, ENSEMBLE_FILE};
pub use evaluation::{bootstrap_headlines, evaluate_set, fit_thresholds, write_sweep, ScoredSet};
pub use goemo_stats::{one_sample_t_test, welch_t_test, TTest};
pub use run::{Predictions, RunFolder};
pub use stats::{combos, cooccurrence_pairs, Combo, PairStats};

use std::path::PathBuf;

/// Errors of this crate; other goemo crates' errors keep their type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// A file is malformed as a whole.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A line of a file is malformed.
    #[error("{path}, line {line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The inputs do not fit together (different labels, texts or run kinds).
    #[error("{0}")]
    Input(String),
    /// Reading a data set failed.
    #[error(transparent)]
    Data(#[from] goemo_data::DataError),
    /// A metric failed.
    #[error(transparent)]
    Metrics(#[from] goemo_metrics::MetricsError),
    /// Fitting or applying thresholds failed.
    #[error(transparent)]
    Threshold(#[from] goemo_threshold::ThresholdError),
    /// Fitting or applying calibration failed.
    #[error(transparent)]
    Calibration(#[from] goemo_calibration::CalibrationError),
    /// Writing a table or chart failed.
    #[error(transparent)]
    Report(#[from] goemo_report::ReportError),
    /// A file could not be written.
    #[error(transparent)]
    Fs(#[from] goemo_fs::FsError),
}

/// Result alias of this crate.
pub type Result<T, E = AnalysisError> = std::result::Result<T, E>;
