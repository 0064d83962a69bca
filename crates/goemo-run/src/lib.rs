//! goemo's run layer: a [`RunConfig`] (every option with its default, shared by the command
//! line, the TOML configs and the library) and an [`Experiment`] that turns it into a run:
//! data, tokenizer, model, training, thresholds fitted on dev, test metrics and every artifact
//! in `OUTPUT_DIR/RUN_NAME/`. Launched by `torchrun`, the same run trains data-parallel
//! ([`Launch`]).
//!
//! ```no_run
//! use goemo_run::{Experiment, RunConfig};
//!
//! let config = RunConfig { epochs: 1, run_name: "quick".into(), ..RunConfig::default() };
//! let outcome = Experiment::new(config).run()?;
//! println!("test micro AUC {:?}", outcome.test.auc_micro);
//! # Ok::<(), goemo_run::RunError>(())
//! ```

pub mod artifacts;
mod bench;
mod config;
mod distributed;
mod experiment;
mod rescore;

pub use bench::{bench_inference, bench_table, write_bench_csv, BenchOptions, BenchRow, BENCH_HEADER};
pub use config::{parse_layered, RunConfig};
pub use distributed::{DistBackend, Launch};
pub use experiment::{Experiment, RunOutcome};
pub use rescore::rescore_split;

use std::path::PathBuf;

/// Errors of a run; other goemo crates' errors keep their type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
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
    /// An option is invalid or conflicts with another.
    #[error("invalid option: {0}")]
    Option(String),
    /// The environment of a torchrun launch is incomplete or malformed.
    #[error("distributed launch: {0}")]
    Launch(String),
    /// A command line clap refused, or `--help`.
    #[error(transparent)]
    Cli(#[from] clap::Error),
    /// Reading or tokenizing the data failed.
    #[error(transparent)]
    Data(#[from] goemo_data::DataError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] goemo_model::ModelError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] goemo_train::TrainError),
    /// Training failed after a state was saved.
    #[error("{source}; the last good state is in {}", state_dir.display())]
    Stopped {
        /// Why it stopped.
        source: goemo_train::TrainError,
        /// Where the last good state is.
        state_dir: PathBuf,
    },
    /// A metric failed.
    #[error(transparent)]
    Metrics(#[from] goemo_metrics::MetricsError),
    /// Fitting or applying thresholds failed.
    #[error(transparent)]
    Threshold(#[from] goemo_threshold::ThresholdError),
    /// Fitting or applying calibration failed.
    #[error(transparent)]
    Calibration(#[from] goemo_calibration::CalibrationError),
    /// Writing a table, chart or event file failed.
    #[error(transparent)]
    Report(#[from] goemo_report::ReportError),
    /// A file could not be written.
    #[error(transparent)]
    Fs(#[from] goemo_fs::FsError),
}

/// Result alias of this crate.
pub type Result<T, E = RunError> = std::result::Result<T, E>;
