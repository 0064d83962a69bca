//! The one error type of the metrics crate.

/// Bad input to a metric, or a metric that is undefined for its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    #[error("{what}: shape {left:?} does not match {right:?}")]
    ShapeMismatch {
        what: &'static str,
        left: Vec<usize>,
        right: Vec<usize>,
    },
    #[error("no rows to evaluate")]
    Empty,
    #[error("score at row {row}, column {col} is {value} (scores must be finite)")]
    NonFiniteScore { row: usize, col: usize, value: f64 },
    #[error("target at row {row}, column {col} is {value} (targets must be 0 or 1)")]
    BadTarget { row: usize, col: usize, value: f64 },
    #[error("score at row {row}, column {col} is {value}: calibration needs probabilities in [0, 1]")]
    NotAProbability { row: usize, col: usize, value: f64 },
    #[error("{0} is undefined: {1}")]
    Undefined(&'static str, String),
    #[error("invalid option: {0}")]
    InvalidOption(String),
}

/// Result alias of this crate.
pub type Result<T, E = MetricsError> = std::result::Result<T, E>;
