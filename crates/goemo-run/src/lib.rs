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
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("invalid option: {0}")]
    Option(String),
    /// The environment of a torchrun launch is incomplete or malformed.
    #[error("distributed launch: {0}")]
    Launch(String),
    /// A command line clap refused, or `--help`.
    #[error(transparent)]
    Cli(#[from] clap::Error),
    #[error(transparent)]
    Data(#[from] goemo_data::DataError),
    #[error(transparent)]
    Model(#[from] goemo_model::ModelError),
    #[error(transparent)]
    Train(#[from] goemo_train::TrainError),
    #[error("{source}; the last good state is in {}", state_dir.display())]
    Stopped {
        source: goemo_train::TrainError,
        state_dir: PathBuf,
    },
    #[error(transparent)]
    Metrics(#[from] goemo_metrics::MetricsError),
    #[error(transparent)]
    Threshold(#[from] goemo_threshold::ThresholdError),
    #[error(transparent)]
    Calibration(#[from] goemo_calibration::CalibrationError),
    #[error(transparent)]
    Report(#[from] goemo_report::ReportError),
    #[error(transparent)]
    Fs(#[from] goemo_fs::FsError),
}

/// Result alias of this crate.
pub type Result<T, E = RunError> = std::result::Result<T, E>;
