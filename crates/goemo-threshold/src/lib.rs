//! Threshold strategies for multi-label scores: fit on dev scores and targets, apply to any scores.
//!
//! Strategies implement [`ThresholdStrategy`]; fitting gives [`Thresholds`], which serialise to
//! JSON (to be recorded in every report and checkpoint) and turn scores into predictions. The
//! rule everywhere is "predict a label when its score is at least its threshold".
//!
//! ```
//! use goemo_threshold::{PerClass, ThresholdStrategy};
//! use ndarray::array;
//!
//! let dev_scores = array![[0.9, 0.2], [0.3, 0.35], [0.6, 0.1]];
//! let dev_targets = array![[true, false], [false, true], [true, false]];
//! let fitted = PerClass.fit(dev_scores.view(), dev_targets.view())?;
//! // Class 1 is cut between 0.35 and 0.2: 0.25 stays under its threshold of 0.275.
//! let predictions = fitted.apply(array![[0.7f32, 0.25]].view())?;
//! assert_eq!(predictions.row(0).to_vec(), vec![true, false]);
//! # Ok::<(), goemo_threshold::ThresholdError>(())
//! ```

mod strategies;
mod sweep;

pub use strategies::{
    parse_strategy, F1Average, Global, OptimalGlobal, PerClass, StrategyKind, ThresholdStrategy, Thresholds, TopK,
};
pub use sweep::{threshold_sweep, SweepRow};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ThresholdError {
    #[error(transparent)]
    Metrics(#[from] goemo_metrics::MetricsError),
    #[error("invalid threshold option: {0}")]
    InvalidOption(String),
    #[error("thresholds for {expected} labels applied to scores with {found} columns")]
    WrongWidth { expected: usize, found: usize },
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a thresholds file: {message}")]
    Parse { path: std::path::PathBuf, message: String },
    #[error("{path}: {found} thresholds for {expected} labels")]
    FileWidth {
        path: std::path::PathBuf,
        expected: usize,
        found: usize,
    },
    #[error(transparent)]
    Write(#[from] goemo_fs::FsError),
}

/// Result alias of this crate.
pub type Result<T, E = ThresholdError> = std::result::Result<T, E>;
