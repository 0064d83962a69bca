//! Post-hoc calibration of multi-label scores: a model's per-label probabilities mapped, label
//! by label, to probabilities that match observed frequencies. Fitted on dev only, stored with
//! the model (`calibration.json`) and applied wherever a score leaves goemo.
//!
//! Three [`CalibrationMethod`]s, equal to scikit-learn's (`CalibratedClassifierCV` with
//! `method="temperature"`, `"sigmoid"` and `"isotonic"`); [`Auto`] chooses one per label by
//! cross-validated log loss on dev. Fitting gives a [`Calibrator`], the analogue of
//! `goemo_threshold::Thresholds`: it serialises, and maps any scores.
//!
//! ```
//! use goemo_calibration::{Calibrator, Platt};
//! use ndarray::array;
//!
//! // Scores twice as high as the frequencies they stand for.
//! let dev_scores = array![[0.2], [0.2], [0.2], [0.2], [0.6], [0.6], [0.6], [0.6]];
//! let dev_targets = array![[false], [false], [false], [false], [true], [false], [false], [true]];
//! let labels = vec!["joy".to_string()];
//! let calibrator = Calibrator::fit(&Platt, dev_scores.view(), dev_targets.view(), &labels)?;
//! let calibrated = calibrator.apply(array![[0.2], [0.6]].view())?;
//! assert!(calibrated[[0, 0]] < 0.2 && calibrated[[1, 0]] < 0.6);
//! # Ok::<(), goemo_calibration::CalibrationError>(())
//! ```

mod calibrator;
mod isotonic;
mod methods;
mod optimize;
mod thresholds;

pub use calibrator::{Calibrator, LabelCalibration, CALIBRATION_FILE};
pub use isotonic::{isotonic_regression, IsotonicFit};
pub use methods::{
    log_loss, Auto, CalibrationMethod, Fitted, Isotonic, LabelCalibrator, MethodKind, Platt, Temperature, AUTO_FOLDS,
};
pub use thresholds::fit_thresholds;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CalibrationError {
    /// Scores and targets of different shapes, or no rows.
    #[error("calibration input: {0}")]
    Input(String),
    /// A score outside `[0, 1]` or not finite.
    #[error("score at row {row}, column {col} is {value}: calibration maps probabilities in [0, 1]")]
    NotAProbability {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The score.
        value: f64,
    },
    /// A fitted map that would reverse a label's ranking.
    #[error("label {label:?}: {message}")]
    Label {
        /// The label.
        label: String,
        /// What is wrong.
        message: String,
    },
    /// An unknown method name.
    #[error("unknown calibration method {0:?}: none, temperature, platt, isotonic or auto")]
    UnknownMethod(String),
    /// A calibration file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A calibration file is malformed.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A calibration file could not be written.
    #[error(transparent)]
    Write(#[from] goemo_fs::FsError),
    /// Applying thresholds failed.
    #[error(transparent)]
    Threshold(#[from] goemo_threshold::ThresholdError),
}

/// Result alias of this crate.
pub type Result<T, E = CalibrationError> = std::result::Result<T, E>;
