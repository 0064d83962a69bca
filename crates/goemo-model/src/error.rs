//! The one error type of the model crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading, running or saving a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A config file is malformed.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A model configuration is inconsistent (e.g. heads do not divide the hidden size).
    #[error("model config: {0}")]
    InvalidConfig(String),
    /// The checkpoint lacks tensors the model needs.
    #[error("{path}: tensors missing from the checkpoint: {}", names.join(", "))]
    MissingTensors {
        /// The checkpoint.
        path: PathBuf,
        /// The missing tensors' names.
        names: Vec<String>,
    },
    /// The checkpoint holds tensors the model does not know.
    #[error("{path}: unexpected tensors in the checkpoint: {}", names.join(", "))]
    UnexpectedTensors {
        /// The checkpoint.
        path: PathBuf,
        /// The unknown tensors' names.
        names: Vec<String>,
    },
    /// A checkpoint tensor has another shape than the model's.
    #[error("{path}: tensor {name} has shape {found:?}, the model expects {expected:?}")]
    ShapeMismatch {
        /// The checkpoint.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The model's shape.
        expected: Vec<i64>,
        /// The checkpoint's shape.
        found: Vec<i64>,
    },
    /// A safetensors file is malformed.
    #[error("{path}: {message}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An input tensor has the wrong shape.
    #[error("tensor {tensor} has shape {found:?}, expected {expected}")]
    InputShape {
        /// The tensor's name (`input_ids`, `attention_mask`, ...).
        tensor: String,
        /// Its shape.
        found: Vec<i64>,
        /// The shape expected, in words.
        expected: String,
    },
    /// A tokenizer produced an id the model has no embedding for.
    #[error("text {text}: token id {id} is outside the model's vocabulary of {vocab_size} ids; the tokenizer does not match the model")]
    TokenId {
        /// Index of the text in its batch.
        text: usize,
        /// The token id.
        id: u32,
        /// The model's vocabulary size.
        vocab_size: i64,
    },
    /// A device name that cannot be parsed or is not available.
    #[error("device: {0}")]
    Device(String),
    /// A thread of a [`crate::ClassifierPool`] could not start or ended.
    #[error("classifier pool: {0}")]
    Worker(String),
    /// An inference mode name that is not `fp32`, `bf16`, `int8` or `auto`.
    #[error("unknown inference mode {0:?} (fp32, bf16, int8, auto)")]
    UnknownMode(String),
    /// A precision name that is not `fp32`, `bf16` or `auto`.
    #[error("unknown precision {0:?} (fp32, bf16, auto)")]
    UnknownPrecision(String),
    /// libtorch failed.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// goemo-torch's shims failed.
    #[error(transparent)]
    Boundary(#[from] goemo_torch::TorchError),
    /// A file could not be written.
    #[error(transparent)]
    Fs(#[from] goemo_fs::FsError),
    /// The checkpoint's thresholds are invalid.
    #[error(transparent)]
    Threshold(#[from] goemo_threshold::ThresholdError),
    /// The checkpoint's calibration is invalid.
    #[error(transparent)]
    Calibration(#[from] goemo_calibration::CalibrationError),
    /// Tokenization or labels failed.
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
