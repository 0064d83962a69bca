//! The one error type of the data crate.

use std::path::PathBuf;

/// Everything that can go wrong while reading, preparing or encoding data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A row of an input file is malformed; `line` counts from 1.
    #[error("{source_name}:{line}: {message}")]
    Row {
        /// The file, or another name of the source.
        source_name: String,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A file is well formed row by row but wrong as a whole (no rows, bad header...).
    #[error("{source_name}: {message}")]
    File {
        /// The file, or another name of the source.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// A label name that the label set does not know.
    #[error("unknown label {name:?} (known: {known})")]
    UnknownLabel {
        /// The unknown name.
        name: String,
        /// The known names, joined.
        known: String,
    },
    /// The tokenizer could not be loaded or failed to encode.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// An option that cannot be honoured (batch size 0, taxonomy that does not fit the labels...).
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] goemo_fs::FsError),
}

impl DataError {
    pub(crate) fn row(source_name: &str, line: usize, message: impl Into<String>) -> Self {
        DataError::Row {
            source_name: source_name.to_string(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
