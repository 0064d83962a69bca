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
    /// A metric failed while fitting.
    #[error(transparent)]
    Metrics(#[from] goemo_metrics::MetricsError),
    /// An option is out of range.
    #[error("invalid threshold option: {0}")]
    InvalidOption(String),
    /// Thresholds and scores disagree on the number of labels.
    #[error("thresholds for {expected} labels applied to scores with {found} columns")]
    WrongWidth {
        /// Labels the thresholds cover.
        expected: usize,
        /// Columns of the scores.
        found: usize,
    },
    /// A thresholds file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A thresholds file is malformed.
    #[error("{path}: not a thresholds file: {message}")]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A thresholds file has the wrong number of thresholds.
    #[error("{path}: {found} thresholds for {expected} labels")]
    FileWidth {
        /// The file.
        path: std::path::PathBuf,
        /// Labels expected.
        expected: usize,
        /// Thresholds found.
        found: usize,
    },
    /// A thresholds file could not be written.
    #[error(transparent)]
    Write(#[from] goemo_fs::FsError),
}

/// Result alias of this crate.
pub type Result<T, E = ThresholdError> = std::result::Result<T, E>;
