//! `EmotionClassifier`: load a checkpoint (or an ensemble of checkpoints), predict label
//! probabilities for texts, calibrated by the checkpoint's `calibration.json` when it has one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use goemo_calibration::Calibrator;
use goemo_data::{Batcher, HfTokenizer, ShapeBuckets, Tokenize, DEFAULT_MAX_LENGTH};
use goemo_threshold::Thresholds;
use tch::Device;

use crate::error::{ModelError, Result};
use crate::model::{LoadOptions, SequenceClassifier};
use crate::precision::{InferenceMode, Precision, Quantization};
use crate::recorded::StaticForward;
use crate::resolve::{resolve_model, resolve_weights};
use crate::trainable::{predict_probabilities, predict_probabilities_static, Probability};

/// The checkpoint file with the thresholds the trainer fitted on dev.
pub const THRESHOLDS_FILE: &str = "thresholds.json";

/// The file of an ensemble folder: `{"members": [checkpoint folders, relative to it]}`; the
/// ensemble's `thresholds.json` and `calibration.json` sit beside it
/// (`goemo_analysis::Ensemble::write` writes them).
pub const ENSEMBLE_FILE: &str = "ensemble.json";

/// One text's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Every label's probability, in the checkpoint's label order: calibrated when the
    /// checkpoint has a `calibration.json` (see [`EmotionClassifier::is_calibrated`]).
    pub scores: Vec<(String, f32)>,
    /// The labels over their thresholds, in label order.
    pub labels: Vec<String>,
}

/// A fine-tuned classifier ready for inference: dropout off, no gradients. Loaded from an
/// ensemble folder, it runs every member (each calibrated by its own `calibration.json`),
/// averages their probabilities and calibrates the mean with the ensemble's.
///
/// The tokenizer is the checkpoint's `tokenizer.json` ([`HfTokenizer`]), or any [`Tokenize`]
/// given to [`EmotionClassifier::load_with_tokenizer`] (a model trained with a tokenizer of one's
/// own through `goemo_run::Experiment::with_tokenizer`).
pub struct EmotionClassifier {
    /// One model, or an ensemble's members (same labels, same tokenizer).
    members: Vec<SequenceClassifier>,
    /// Each member's calibration, applied before averaging (ensembles only).
    member_calibrators: Vec<Option<Calibrator>>,
    /// The checkpoint's (or the ensemble's) calibration of the final probabilities.
    calibrator: Option<Calibrator>,
    tokenizer: Arc<dyn Tokenize>,
    thresholds: Thresholds,
    batch_size: usize,
    single_label: bool,
    /// With [`EmotionClassifier::with_cuda_graphs`]: each member's static-shape forward passes.
    static_forward: Option<Vec<Mutex<StaticForward>>>,
}

impl std::fmt::Debug for EmotionClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmotionClassifier")
            .field("members", &self.members)
            .field("member_calibrators", &self.member_calibrators)
            .field("calibrator", &self.calibrator)
            .field("pad_id", &self.tokenizer.pad_id())
            .field("max_length", &self.tokenizer.max_length())
            .field("thresholds", &self.thresholds)
            .field("batch_size", &self.batch_size)
            .field("single_label", &self.single_label)
            .field("static_forward", &self.static_forward.is_some())
            .finish()
    }
}

impl EmotionClassifier {
    /// Loads a local checkpoint folder or a Hub id on the CPU; thresholds from `thresholds.json`
    /// when the checkpoint has one, else 0.5; calibration from `calibration.json` when it has
    /// one, else the model's probabilities as they are.
    pub fn load(path_or_id: &str) -> Result<Self> {
        Self::load_on(path_or_id, Device::Cpu)
    }

    /// Loads onto a device: a checkpoint folder or Hub id, or an ensemble folder (one with
    /// `ensemble.json`), whose members must share their labels and their tokenizer.
    pub fn load_on(path_or_id: &str, device: Device) -> Result<Self> {
        Self::load_members(path_or_id, device, None)
    }

    /// Loads like [`Self::load_on`], with `tokenizer` instead of the checkpoint's
    /// `tokenizer.json` (which then need not exist): the same tokenizer the model was trained
    /// with, whose token ids must stay below the model's `vocab_size`.
    pub fn load_with_tokenizer(path_or_id: &str, device: Device, tokenizer: Arc<dyn Tokenize>) -> Result<Self> {
        Self::load_members(path_or_id, device, Some(tokenizer))
    }

    fn load_members(path_or_id: &str, device: Device, tokenizer: Option<Arc<dyn Tokenize>>) -> Result<Self> {
        let ensemble = Path::new(path_or_id).join(ENSEMBLE_FILE);
        let own_tokenizer = tokenizer.is_some();
        let (dir, member_dirs) = if ensemble.is_file() {
            let dir = PathBuf::from(path_or_id);
            let members = read_members(&ensemble, own_tokenizer)?;
            (dir, members)
        } else {
            let dir = match own_tokenizer {
                true => resolve_weights(path_or_id)?,
                false => resolve_model(path_or_id)?,
            };
            (dir.clone(), vec![dir])
        };
        let mut members = Vec::with_capacity(member_dirs.len());
        for member in &member_dirs {
            let mut model = SequenceClassifier::load(member, device, &LoadOptions::default())?;
            // Inference only: float32 on the CPU runs oneDNN's packed kernels.
            model.pack_fp32()?;
            if let Some(first) = members.first() {
                check_same_member(&member_dirs[0], first, member, &model, own_tokenizer)?;
            }
            members.push(model);
        }
        let first = &members[0];
        let tokenizer = match tokenizer {
            Some(tokenizer) => tokenizer,
            None => Arc::new(
                HfTokenizer::from_file(member_dirs[0].join("tokenizer.json"), DEFAULT_MAX_LENGTH)?
                    .with_pad_id(first.config().pad_token_id as u32),
            ),
        };
        let thresholds = read_thresholds(&dir, first.labels().len())?;
        let single_label = first.config().problem_type.as_deref() == Some("single_label_classification");
        let labels = first.labels().to_vec();
        let calibrator = Calibrator::read_in(&dir, &labels)?;
        let member_calibrators = match member_dirs.len() {
            1 => vec![None],
            _ => member_dirs
                .iter()
                .map(|d| Calibrator::read_in(d, &labels))
                .collect::<std::result::Result<_, _>>()?,
        };
        Ok(EmotionClassifier {
            members,
            member_calibrators,
            calibrator,
            tokenizer,
            thresholds,
            batch_size: 64,
            single_label,
            static_forward: None,
        })
    }

    /// Texts per forward pass (set it before [`EmotionClassifier::with_cuda_graphs`]).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Runs every forward pass over static shapes: batches padded to the batch size in rows and
    /// to lengths in steps of 16 tokens, each shape recorded once as a CUDA graph and replayed
    /// when the model is on CUDA (one launch per batch instead of one per kernel); on a CPU the
    /// padded passes run eagerly. The same probabilities up to rounding. `false` keeps dynamic
    /// padding.
    pub fn with_cuda_graphs(mut self, on: bool) -> Result<Self> {
        if !on {
            self.static_forward = None;
            return Ok(self);
        }
        let record = self.model().device().is_cuda();
        let shapes = ShapeBuckets::every(self.batch_size, ShapeBuckets::LENGTH_STEP, self.tokenizer.max_length())?;
        let forward = self
            .members
            .iter()
            .map(|_| Mutex::new(StaticForward::new(shapes.clone(), record)))
            .collect();
        self.static_forward = Some(forward);
        Ok(self)
    }

    /// Batches the forward passes ran as replays of CUDA graphs, over all members.
    pub fn graph_replays(&self) -> u64 {
        self.static_forward
            .as_ref()
            .map_or(0, |all| all.iter().map(|f| f.lock().map_or(0, |f| f.replays())).sum())
    }

    /// Runs the model at `precision` (bf16 autocast is the fast choice on a GPU).
    pub fn with_precision(mut self, precision: Precision) -> Result<Self> {
        for model in &mut self.members {
            model.set_precision(precision)?;
        }
        Ok(self)
    }

    /// Quantizes the encoder for CPU inference (`Quantization::Int8`: int8 weights per output
    /// channel, activations per token); see `SequenceClassifier::set_quantization`.
    pub fn with_quantization(mut self, quantization: Quantization) -> Result<Self> {
        for model in &mut self.members {
            model.set_quantization(quantization)?;
        }
        Ok(self)
    }

    /// Runs inference in `mode`; `InferenceMode::Auto` picks the fastest mode of this device and
    /// CPU ([`InferenceMode::fastest`]). Int8 quantizes at load and cannot be undone; fp32 on
    /// the CPU runs oneDNN's packed kernels (`SequenceClassifier::pack_fp32`).
    pub fn with_mode(self, mode: InferenceMode) -> Result<Self> {
        let mode = mode.resolve(self.model().device());
        let mut classifier = self
            .with_precision(mode.precision())?
            .with_quantization(mode.quantization())?;
        for model in &mut classifier.members {
            model.pack_fp32()?;
        }
        Ok(classifier)
    }

    /// The mode the classifier runs in.
    pub fn mode(&self) -> InferenceMode {
        let model = self.model();
        match (model.quantization(), model.precision()) {
            (Quantization::Int8, _) => InferenceMode::Int8,
            (_, Precision::Bf16) => InferenceMode::Bf16,
            _ => InferenceMode::Fp32,
        }
    }

    /// One line for a person: the mode it runs in, where, with how many threads, and why when
    /// `requested` was `Auto`, or else which mode would be fastest here.
    pub fn describe_mode(&self, requested: InferenceMode) -> String {
        let device = self.model().device();
        let (fastest, why) = InferenceMode::fastest(device);
        let place = match device {
            Device::Cpu => match tch::get_num_threads() {
                1 => "cpu, 1 thread".to_string(),
                n => format!("cpu, {n} threads"),
            },
            other => format!("{other:?}").to_lowercase(),
        };
        let mode = self.mode();
        if requested == InferenceMode::Auto {
            format!("inference: {mode} on {place} (auto: {why})")
        } else if mode == fastest {
            format!("inference: {mode} on {place}, the fastest mode here")
        } else {
            format!("inference: {mode} on {place}; the fastest mode here is {fastest} ({why}): --mode auto")
        }
    }

    /// One global threshold instead of the checkpoint's.
    pub fn with_threshold(mut self, threshold: f64) -> Self {
        self.thresholds = Thresholds::Global { threshold };
        self
    }

    /// Label names in output order.
    pub fn labels(&self) -> &[String] {
        self.members[0].labels()
    }

    /// The thresholds applied, on the scale of [`Self::probabilities`] (calibrated when the
    /// classifier is).
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// Whether the probabilities are calibrated (the checkpoint or ensemble has a
    /// `calibration.json`); when false they are the model's sigmoid outputs as trained, which
    /// need not match observed frequencies.
    pub fn is_calibrated(&self) -> bool {
        self.calibrator.is_some()
    }

    /// The calibration applied to the final probabilities, when there is one.
    pub fn calibrator(&self) -> Option<&Calibrator> {
        self.calibrator.as_ref()
    }

    /// The underlying model (an ensemble's first member).
    pub fn model(&self) -> &SequenceClassifier {
        &self.members[0]
    }

    /// The tokenizer: the checkpoint's `tokenizer.json` with its padding id and truncation
    /// length, or the one given to [`Self::load_with_tokenizer`].
    pub fn tokenizer(&self) -> &dyn Tokenize {
        self.tokenizer.as_ref()
    }

    /// Every model whose probabilities are averaged (one unless loaded from an ensemble).
    pub fn members(&self) -> &[SequenceClassifier] {
        &self.members
    }

    /// Probabilities (N × labels) of texts, in input order: calibrated when the checkpoint has a
    /// calibration (see [`Self::is_calibrated`]), as f32.
    pub fn probabilities(&self, texts: &[&str]) -> Result<ndarray::Array2<f32>> {
        Ok(self.probabilities_f64(texts)?.mapv(|p| p as f32))
    }

    /// The probabilities of [`Self::probabilities`] in f64, the values the thresholds decide on.
    pub fn probabilities_f64(&self, texts: &[&str]) -> Result<ndarray::Array2<f64>> {
        let raw = self.raw_probabilities(texts)?;
        Ok(match &self.calibrator {
            Some(c) => c.apply(raw.view())?,
            None => raw,
        })
    }

    /// The model's own probabilities before the final calibration (N × labels, input order):
    /// sigmoids for multi-label checkpoints, a softmax for `problem_type:
    /// single_label_classification`; for an ensemble, the mean of its members' (each calibrated
    /// by its own `calibration.json`). Texts are sorted by length and batched with dynamic
    /// padding, so that short texts are not padded to long ones.
    pub fn raw_probabilities(&self, texts: &[&str]) -> Result<ndarray::Array2<f64>> {
        if texts.is_empty() {
            return Ok(ndarray::Array2::zeros((0, self.labels().len())));
        }
        let ids = self.tokenizer.encode_batch(texts)?;
        self.model().config().check_token_ids(&ids)?;
        let batcher = Batcher::new(&ids, self.tokenizer.pad_id()).with_token_type_ids(self.model().uses_token_types());
        // `problem_type` decides: one label per text (softmax) or any number (sigmoid).
        let probability = if self.single_label {
            Probability::Softmax
        } else {
            Probability::Sigmoid
        };
        let mut sum = ndarray::Array2::<f64>::zeros((texts.len(), self.labels().len()));
        for (k, (model, calibrator)) in self.members.iter().zip(&self.member_calibrators).enumerate() {
            let member = match &self.static_forward {
                Some(all) => {
                    // A poisoned lock: a panic in another thread's pass; the shapes are intact.
                    let mut forward = all[k].lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    predict_probabilities_static(model, &batcher, &mut forward, probability, |_, _| Ok(()))?
                }
                None => predict_probabilities(model, &batcher, self.batch_size, probability, |_, _| Ok(()))?,
            };
            sum += &match calibrator {
                Some(c) => c.apply(member.view())?,
                None => member.mapv(f64::from),
            };
        }
        if self.members.len() > 1 {
            sum /= self.members.len() as f64;
        }
        Ok(sum)
    }

    /// Every label's probability and the labels over the thresholds, per text, in input order.
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<Prediction>> {
        self.predictions(self.probabilities_f64(texts)?)
    }

    /// Predictions from probabilities of [`Self::probabilities_f64`] (computed elsewhere, by a
    /// [`crate::ClassifierPool`] say): every label's score and the labels over the thresholds.
    pub fn predictions(&self, probs: ndarray::Array2<f64>) -> Result<Vec<Prediction>> {
        let chosen = self.thresholds.apply(probs.view())?;
        let labels = self.labels();
        Ok(probs
            .rows()
            .into_iter()
            .zip(chosen.rows())
            .map(|(p, on)| Prediction {
                scores: labels.iter().cloned().zip(p.iter().map(|&p| p as f32)).collect(),
                labels: labels
                    .iter()
                    .zip(on.iter())
                    .filter(|(_, &on)| on)
                    .map(|(l, _)| l.clone())
                    .collect(),
            })
            .collect())
    }
}

/// The member folders an `ensemble.json` lists, resolved against its folder (without
/// `tokenizer.json` when the tokenizer is given in code).
fn read_members(path: &Path, own_tokenizer: bool) -> Result<Vec<PathBuf>> {
    #[derive(serde::Deserialize)]
    struct Listing {
        members: Vec<PathBuf>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
    let listing: Listing = serde_json::from_str(&text).map_err(|e| ModelError::Config {
        path: path.into(),
        message: e.to_string(),
    })?;
    if listing.members.is_empty() {
        return Err(ModelError::Config {
            path: path.into(),
            message: "lists no members".into(),
        });
    }
    let base = path.parent().unwrap_or(Path::new("."));
    listing
        .members
        .into_iter()
        .map(|member| {
            let dir = base.join(member);
            let dir = dir.to_string_lossy();
            let resolved = match own_tokenizer {
                true => resolve_weights(&dir),
                false => resolve_model(&dir),
            };
            resolved.map_err(|e| ModelError::Config {
                path: path.into(),
                message: format!("member {dir}: {e}"),
            })
        })
        .collect()
}

/// Members must agree on what they predict and how they read text (their `tokenizer.json`,
/// unless one tokenizer is given to all of them).
fn check_same_member(
    first_dir: &Path,
    first: &SequenceClassifier,
    dir: &Path,
    model: &SequenceClassifier,
    own_tokenizer: bool,
) -> Result<()> {
    let differ = |what: &str| ModelError::Config {
        path: dir.into(),
        message: format!("an ensemble member with other {what} than {}", first_dir.display()),
    };
    if model.labels() != first.labels() {
        return Err(differ("labels"));
    }
    if model.config().problem_type != first.config().problem_type {
        return Err(differ("problem_type"));
    }
    let tokenizer = |d: &Path| {
        let path = d.join("tokenizer.json");
        std::fs::read(&path).map_err(|e| ModelError::io(path, e))
    };
    if !own_tokenizer && tokenizer(dir)? != tokenizer(first_dir)? {
        return Err(differ("tokenizer.json"));
    }
    Ok(())
}

fn read_thresholds(dir: &Path, labels: usize) -> Result<Thresholds> {
    let path = dir.join(THRESHOLDS_FILE);
    if !path.is_file() {
        return Ok(Thresholds::Global { threshold: 0.5 });
    }
    Ok(Thresholds::read(path, labels)?)
}

/// Writes `thresholds.json` into a checkpoint folder.
pub fn write_thresholds(dir: &Path, thresholds: &Thresholds) -> Result<()> {
    Ok(thresholds.write(dir.join(THRESHOLDS_FILE))?)
}

#[cfg(test)]
mod tests {
    fn assert_send<T: Send>() {}

    #[test]
    fn the_classifier_is_send() {
        assert_send::<super::EmotionClassifier>();
    }
}
