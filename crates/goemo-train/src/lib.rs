//! Training on libtorch, made of parts that compose through public traits: the [`Trainer`]
//! (generic over goemo-model's `TrainableModel`), [`Optimizer`] (fused AdamW with decoupled
//! weight decay, wrapped by [`Clipped`] and [`Accumulated`]), [`LrSchedule`] (warm-up then
//! linear or cosine decay), multi-label [`Loss`]es, the resumable [`TrainState`], and
//! data-parallel training over a [`Collective`] ([`DataParallel`]). Each is
//! equal to PyTorch's and `transformers`' definitions (tested against them).

mod evaluate;
mod loss;
mod optim;
mod parallel;
mod schedule;
mod state;
mod trainer;

pub use evaluate::evaluate_split;
pub use loss::{Loss, LossKind};
pub use optim::{clip_grad_norm, decays, layer_decay, Accumulated, AdamW, AdamWConfig, Clipped, Optimizer};
pub use parallel::{share, AllReduced, Collective, DataParallel, SingleProcess, DEFAULT_BUCKET_BYTES};
pub use schedule::{LrSchedule, Schedule, ScheduleKind};
pub use state::{BestEvaluation, TrainState, STATE_FILE};
pub use trainer::{
    train, train_resumable, EncodedSplit, EpochRecord, RunState, StepEvaluation, StepLog, TrainConfig, TrainOutcome,
    Trainer,
};

use std::path::PathBuf;

/// Errors of this crate; other goemo crates' errors keep their type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error(transparent)]
    Boundary(#[from] goemo_torch::TorchError),
    #[error(transparent)]
    Model(#[from] goemo_model::ModelError),
    #[error(transparent)]
    Data(#[from] goemo_data::DataError),
    #[error(transparent)]
    Metrics(#[from] goemo_metrics::MetricsError),
    #[error(transparent)]
    Fs(#[from] goemo_fs::FsError),
    #[error("invalid training option: {0}")]
    InvalidOption(String),
    #[error("the training batches carry no targets")]
    MissingTargets,
    #[error("the loss became {value} at epoch {epoch}, step {step}: stopped before updating the weights")]
    NonFinite { epoch: usize, step: u64, value: f64 },
    #[error("interrupted after step {step}; the state is saved: resume to continue")]
    Interrupted { step: u64 },
    #[error("cannot read the training state {path}: {source}")]
    StateFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a training state: {message}")]
    StateFormat { path: PathBuf, message: String },
    /// The ranks of a data-parallel job disagree (configuration, resumed state).
    #[error("{0}")]
    Mismatch(String),
    #[error("the saved training state lacks {0}")]
    MissingState(String),
}

/// Result alias of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
