//! Artifacts for goemo: files written atomically, CSV tables, documents as data rendered to
//! Markdown, PNG charts and TensorBoard event files.
//!
//! Every artifact goes through goemo-fs's atomic writes (a temporary sibling, fsync, rename,
//! fsync of the folder), so that a crash never leaves a half-written file and never destroys the
//! previous version.

mod atomic;
mod charts;
mod document;
mod tensorboard;

pub use atomic::{write_atomic, write_csv_atomic, write_json_atomic};
pub use charts::{
    bar_chart, heatmap, histogram, interval_chart, line_chart, stacked_bar_chart, stacked_line_charts, BarChart,
    BarSegment, Heatmap, Histogram, IntervalChart, IntervalRow, LegendPosition, LineChart, Series, StackedBarChart,
};

pub use document::{anchor, Align, Block, Column, Document, Table};
pub use tensorboard::{read_events, Event, EventWhat, EventWriter, SessionLog, Summary, SummaryValue, SESSION_START};

use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A file could not be written.
    #[error(transparent)]
    Fs(#[from] goemo_fs::FsError),
    /// A value could not be serialised.
    #[error("cannot serialise {path}: {message}")]
    Serialise {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A chart could not be drawn.
    #[error("cannot draw {path}: {message}")]
    Chart {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// An event file is malformed.
    #[error("{path}: not a TensorBoard event file: {message}")]
    Event {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;
