//! The one error type of the metrics crate.

/// Bad input to a metric, or a metric that is undefined for its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// Two inputs' shapes disagree.
    #[error("{what}: shape {left:?} does not match {right:?}")]
    ShapeMismatch {
        /// What was compared.
        what: &'static str,
        /// The first input's shape.
        left: Vec<usize>,
        /// The second input's shape.
        right: Vec<usize>,
    },
    /// No rows.
    #[error("no rows to evaluate")]
    Empty,
    /// A score is NaN or infinite.
    #[error("score at row {row}, column {col} is {value} (scores must be finite)")]
    NonFiniteScore {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The score.
        value: f64,
    },
    /// A target is neither 0 nor 1.
    #[error("target at row {row}, column {col} is {value} (targets must be 0 or 1)")]
    BadTarget {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The target.
        value: f64,
    },
    /// A score outside [0, 1] where probabilities are needed.
    #[error("score at row {row}, column {col} is {value}: calibration needs probabilities in [0, 1]")]
    NotAProbability {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The score.
        value: f64,
    },
    /// A metric is undefined on this input: its name and why.
    #[error("{0} is undefined: {1}")]
    Undefined(&'static str, String),
    /// An option is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
}

/// Result alias of this crate.
pub type Result<T, E = MetricsError> = std::result::Result<T, E>;
