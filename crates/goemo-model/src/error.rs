//! The one error type of the model crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading, running or saving a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("model config: {0}")]
    InvalidConfig(String),
    #[error("{path}: tensors missing from the checkpoint: {}", names.join(", "))]
    MissingTensors { path: PathBuf, names: Vec<String> },
    #[error("{path}: unexpected tensors in the checkpoint: {}", names.join(", "))]
    UnexpectedTensors { path: PathBuf, names: Vec<String> },
    #[error("{path}: tensor {name} has shape {found:?}, the model expects {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        expected: Vec<i64>,
        found: Vec<i64>,
    },
    #[error("{path}: {message}")]
    Safetensors { path: PathBuf, message: String },
    #[error("tensor {tensor} has shape {found:?}, expected {expected}")]
    InputShape {
        tensor: String,
        found: Vec<i64>,
        expected: String,
    },
    /// A tokenizer produced an id the model has no embedding for.
    #[error("text {text}: token id {id} is outside the model's vocabulary of {vocab_size} ids; the tokenizer does not match the model")]
    TokenId { text: usize, id: u32, vocab_size: i64 },
    #[error("device: {0}")]
    Device(String),
    #[error("unknown precision {0:?} (fp32, bf16, auto)")]
    UnknownPrecision(String),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error(transparent)]
    Boundary(#[from] goemo_torch::TorchError),
    #[error(transparent)]
    Fs(#[from] goemo_fs::FsError),
    #[error(transparent)]
    Threshold(#[from] goemo_threshold::ThresholdError),
    #[error(transparent)]
    Calibration(#[from] goemo_calibration::CalibrationError),
    #[error(transparent)]
    Data(#[from] goemo_data::DataError),
}

impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
