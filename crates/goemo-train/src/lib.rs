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
mod static_step;
mod trainer;

pub use evaluate::evaluate_split;
pub use loss::{DeviceLoss, Loss, LossKind};
pub use optim::{clip_grad_norm, decays, layer_decay, Accumulated, AdamW, AdamWConfig, Clipped, Optimizer};
pub use parallel::{
    share, AllReduced, BackwardReduction, Collective, DataParallel, SingleProcess, DEFAULT_BUCKET_BYTES,
};
pub use schedule::{LrSchedule, Schedule, ScheduleKind};
pub use state::{BestEvaluation, TrainState, STATE_FILE};
pub use static_step::{StaticStep, StaticStepCounts};
pub use trainer::{
    train, train_resumable, EncodedSplit, EpochRecord, RunState, StepEvaluation, StepLog, TrainConfig, TrainOutcome,
    Trainer,
};

use std::path::PathBuf;

/// Errors of this crate; other goemo crates' errors keep their type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// libtorch failed.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// goemo-torch's shims failed.
    #[error(transparent)]
    Boundary(#[from] goemo_torch::TorchError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] goemo_model::ModelError),
    /// The data failed (tokenization, batching).
    #[error(transparent)]
    Data(#[from] goemo_data::DataError),
    /// A dev metric could not be computed.
    #[error(transparent)]
    Metrics(#[from] goemo_metrics::MetricsError),
    /// A file could not be written.
    #[error(transparent)]
    Fs(#[from] goemo_fs::FsError),
    /// A training option is out of range.
    #[error("invalid training option: {0}")]
    InvalidOption(String),
    /// Training batches without targets.
    #[error("the training batches carry no targets")]
    MissingTargets,
    /// The loss stopped being finite.
    #[error("the loss became {value} at epoch {epoch}, step {step}: stopped before updating the weights")]
    NonFinite {
        /// The epoch (0-based).
        epoch: usize,
        /// The optimiser step.
        step: u64,
        /// The loss.
        value: f64,
    },
    /// SIGINT or SIGTERM stopped the loop.
    #[error("interrupted after step {step}; the state is saved: resume to continue")]
    Interrupted {
        /// The last optimiser step taken.
        step: u64,
    },
    /// A training state file could not be read.
    #[error("cannot read the training state {path}: {source}")]
    StateFile {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A training state file is malformed.
    #[error("{path}: not a training state: {message}")]
    StateFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The ranks of a data-parallel job disagree (configuration, resumed state).
    #[error("{0}")]
    Mismatch(String),
    /// A training state lacks a tensor or field.
    #[error("the saved training state lacks {0}")]
    MissingState(String),
}

/// Result alias of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
