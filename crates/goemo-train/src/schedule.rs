//! Learning-rate schedules: linear warm-up, then linear or cosine decay to zero, as
//! `transformers`' `get_linear_schedule_with_warmup` and `get_cosine_schedule_with_warmup`.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::TrainError;

/// A learning rate for each optimiser step.
///
/// ```
/// use goemo_train::{LrSchedule, Schedule, ScheduleKind};
///
/// /// A downstream schedule: halve the rate every 100 steps.
/// struct StepDecay(f64);
/// impl LrSchedule for StepDecay {
///     fn lr(&self, step: u64) -> f64 {
///         self.0 * 0.5f64.powi((step / 100) as i32)
///     }
/// }
/// assert_eq!(StepDecay(1e-3).lr(250), 2.5e-4);
/// let linear = Schedule::with_warmup_ratio(1e-3, 0.1, 1000, ScheduleKind::Linear);
/// assert_eq!(linear.lr(50), 5e-4);
/// ```
pub trait LrSchedule {
    /// The learning rate of optimiser step `step` (counted from 0).
    fn lr(&self, step: u64) -> f64;
}

/// The decay after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// Linear decay to 0.
    Linear,
    /// Cosine decay to 0.
    Cosine,
}

impl std::fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScheduleKind::Linear => "linear",
            ScheduleKind::Cosine => "cosine",
        })
    }
}

impl FromStr for ScheduleKind {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self, TrainError> {
        match s.trim() {
            "linear" => Ok(ScheduleKind::Linear),
            "cosine" => Ok(ScheduleKind::Cosine),
            other => Err(TrainError::InvalidOption(format!(
                "schedule {other:?}: expected linear or cosine"
            ))),
        }
    }
}

/// A warm-up-then-decay schedule over `total_steps` optimiser steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Learning rate at the end of warm-up.
    pub peak_lr: f64,
    /// Steps of linear warm-up from 0.
    pub warmup_steps: u64,
    /// Optimiser steps in all.
    pub total_steps: u64,
    /// Shape of the decay.
    pub kind: ScheduleKind,
}

impl Schedule {
    /// Warm-up given as a fraction of the total steps (rounded up, as `transformers` does).
    pub fn with_warmup_ratio(peak_lr: f64, ratio: f64, total_steps: u64, kind: ScheduleKind) -> Self {
        Schedule {
            peak_lr,
            warmup_steps: (ratio * total_steps as f64).ceil() as u64,
            total_steps,
            kind,
        }
    }
}

impl LrSchedule for Schedule {
    fn lr(&self, step: u64) -> f64 {
        let (s, w, t) = (step as f64, self.warmup_steps as f64, self.total_steps as f64);
        let factor = if step < self.warmup_steps {
            s / w.max(1.0)
        } else {
            let progress = (s - w) / (t - w).max(1.0);
            match self.kind {
                ScheduleKind::Linear => ((t - s) / (t - w).max(1.0)).max(0.0),
                ScheduleKind::Cosine => (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0),
            }
        };
        self.peak_lr * factor
    }
}
