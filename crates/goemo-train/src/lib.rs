//! Training building blocks on libtorch: multi-label losses, AdamW with decoupled weight decay
//! (none on biases and LayerNorm weights), warm-up then linear or cosine decay, and global-norm
//! gradient clipping, each equal to PyTorch's and `transformers`' definitions.

pub mod artifacts;
mod loss;
mod optim;
mod schedule;
mod trainer;

pub use loss::Loss;
pub use optim::{clip_grad_norm, decays, AdamW, AdamWConfig};
pub use schedule::{Schedule, ScheduleKind};
pub use trainer::{
    evaluate_split, train, train_resumable, EncodedSplit, EpochRecord, RunState, SelectBy, StepEvaluation, StepLog,
    TrainConfig, TrainOutcome,
};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("invalid training option: {0}")]
    InvalidOption(String),
    #[error("the loss became {value} at epoch {epoch}, step {step}: stopped before updating the weights")]
    NonFinite { epoch: usize, step: u64, value: f64 },
    #[error("interrupted after step {step}; the state is saved: resume to continue")]
    Interrupted { step: u64 },
    #[error("training state: {0}")]
    State(String),
}

/// Result alias of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
