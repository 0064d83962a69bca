//! The resumable training state: [`TrainState`] (where the run is, what it measured, its best
//! evaluation) and the folder that holds it with the weights and optimiser moments.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::trainer::{EpochRecord, StepEvaluation};
use crate::{Result, TrainError};

/// The best dev evaluation so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BestEvaluation {
    /// The epoch (0-based).
    pub epoch: usize,
    /// The optimiser step.
    pub step: u64,
    /// The selection metric's value.
    pub value: f64,
}

/// Everything a run needs to continue exactly where it stopped, besides tensors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// The epoch to continue.
    pub epoch: usize,
    /// Batches of the epoch already done.
    pub batch: usize,
    /// Optimiser steps taken.
    pub step: u64,
    /// The epoch's summed training loss, weighted by batch size.
    pub loss_sum: f64,
    /// Examples of the epoch seen so far.
    pub seen: usize,
    /// One record per finished epoch.
    pub history: Vec<EpochRecord>,
    /// Dev evaluations inside epochs (`TrainConfig::eval_every`).
    pub evaluations: Vec<StepEvaluation>,
    /// `None` until an evaluation gives a defined metric.
    pub best: Option<BestEvaluation>,
}

impl TrainState {
    /// The best value so far, −∞ before any.
    pub fn best_value(&self) -> f64 {
        self.best.map_or(f64::NEG_INFINITY, |b| b.value)
    }
}

/// The file that makes a state folder resumable; written last, atomically, so that it only ever
/// names complete tensor files.
pub const STATE_FILE: &str = "progress.json";

/// What the state file holds: the state and the tensor files it goes with.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    #[serde(flatten)]
    state: TrainState,
    /// Model weights (`model.NAME`) and optimiser state (`opt.NAME`).
    weights: String,
    /// The best evaluation's weights, once there is one.
    best_weights: Option<String>,
}

/// A saved state read back.
pub(crate) struct Saved {
    pub state: TrainState,
    pub tensors: Vec<(String, Tensor)>,
    pub best: Option<Vec<(String, Tensor)>>,
}

/// The folder of a run's training state.
#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    pub dir: PathBuf,
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::StateFile {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes named tensors to `path` atomically.
fn write_tensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let tmp = goemo_fs::temporary_sibling(path);
    Tensor::write_safetensors(tensors, &tmp)?;
    Ok(goemo_fs::commit(&tmp, path)?)
}

impl StateDir {
    /// Writes the model's weights and the optimiser's state under a new name (and the best
    /// weights, once per best), then the state file, then removes the files that the previous
    /// state file named.
    pub(crate) fn save(
        &self,
        state: &TrainState,
        weights: Vec<(String, Tensor)>,
        best: Option<Vec<(String, Tensor)>>,
    ) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|source| goemo_fs::FsError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let weights_file = format!("weights-{}.safetensors", state.step);
        write_tensors(&self.dir.join(&weights_file), &weights)?;
        let best_file = match (state.best, best) {
            (Some(b), Some(tensors)) => {
                let name = format!("best-{}.safetensors", b.step);
                if !self.dir.join(&name).exists() {
                    write_tensors(&self.dir.join(&name), &tensors)?;
                }
                Some(name)
            }
            _ => None,
        };
        let file = StateFile {
            state: state.clone(),
            weights: weights_file,
            best_weights: best_file,
        };
        goemo_fs::write_json_atomic(self.dir.join(STATE_FILE), &file)?;
        // Files of earlier saves are no longer named by the state file.
        let entries = std::fs::read_dir(&self.dir).map_err(read_error(&self.dir))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let named = name == file.weights || Some(&name) == file.best_weights.as_ref();
            if name.ends_with(".safetensors") && !named {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// The saved state, if the folder holds one.
    pub(crate) fn load(&self) -> Result<Option<Saved>> {
        let path = self.dir.join(STATE_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read(&path).map_err(read_error(&path))?;
        let file: StateFile = serde_json::from_slice(&text).map_err(|e| TrainError::StateFormat {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let tensors = Tensor::read_safetensors(self.dir.join(&file.weights))?;
        let best = file
            .best_weights
            .as_ref()
            .map(|b| Tensor::read_safetensors(self.dir.join(b)))
            .transpose()?;
        Ok(Some(Saved {
            state: file.state,
            tensors,
            best,
        }))
    }
}

/// The tensors of `names`, in that order, from a saved list keyed `prefix + name`.
pub(crate) fn take(saved: &[(String, Tensor)], names: &[String], prefix: &str) -> Result<Vec<Tensor>> {
    names
        .iter()
        .map(|name| {
            let key = format!("{prefix}{name}");
            saved
                .iter()
                .find(|(n, _)| *n == key)
                .map(|(_, t)| t.shallow_clone())
                .ok_or(TrainError::MissingState(key))
        })
        .collect()
}
