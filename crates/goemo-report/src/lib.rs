//! Artifacts for goemo: files written atomically, CSV tables and PNG charts.
//!
//! Every artifact is first written to a temporary file in its destination folder and then renamed
//! over the destination, so that a crash never leaves a half-written file and never destroys the
//! previous version.

mod atomic;
mod charts;

pub use atomic::{write_atomic, write_csv_atomic, write_json_atomic};
pub use charts::{bar_chart, heatmap, histogram, BarChart, Heatmap, Histogram};

use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serialise {path}: {message}")]
    Serialise { path: PathBuf, message: String },
    #[error("cannot draw {path}: {message}")]
    Chart { path: PathBuf, message: String },
}

/// Result alias of this crate.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;
