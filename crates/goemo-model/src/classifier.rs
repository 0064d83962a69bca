//! `EmotionClassifier`: load a checkpoint, predict label probabilities for texts.

use std::path::Path;

use goemo_data::{Batcher, HfTokenizer, Tokenize, DEFAULT_MAX_LENGTH};
use goemo_threshold::Thresholds;
use tch::Device;

use crate::error::Result;
use crate::model::{LoadOptions, SequenceClassifier};
use crate::precision::{Precision, Quantization};
use crate::resolve::resolve_model;
use crate::trainable::{predict_probabilities, Probability};

/// The checkpoint file with the thresholds the trainer fitted on dev.
pub const THRESHOLDS_FILE: &str = "thresholds.json";

/// One text's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Every label's probability, in the checkpoint's label order.
    pub scores: Vec<(String, f32)>,
    /// The labels over their thresholds, in label order.
    pub labels: Vec<String>,
}

/// A fine-tuned classifier ready for inference: dropout off, no gradients.
#[derive(Debug)]
pub struct EmotionClassifier {
    model: SequenceClassifier,
    tokenizer: HfTokenizer,
    thresholds: Thresholds,
    batch_size: usize,
    single_label: bool,
}

impl EmotionClassifier {
    /// Loads a local checkpoint folder or a Hub id on the CPU; thresholds from `thresholds.json`
    /// when the checkpoint has one, else 0.5.
    pub fn load(path_or_id: &str) -> Result<Self> {
        Self::load_on(path_or_id, Device::Cpu)
    }

    /// Loads onto a device.
    pub fn load_on(path_or_id: &str, device: Device) -> Result<Self> {
        let dir = resolve_model(path_or_id)?;
        let model = SequenceClassifier::load(&dir, device, &LoadOptions::default())?;
        let tokenizer = HfTokenizer::from_file(dir.join("tokenizer.json"), DEFAULT_MAX_LENGTH)?
            .with_pad_id(model.config().pad_token_id as u32);
        let thresholds = read_thresholds(&dir, model.labels().len())?;
        let single_label = model.config().problem_type.as_deref() == Some("single_label_classification");
        Ok(EmotionClassifier {
            model,
            tokenizer,
            thresholds,
            batch_size: 64,
            single_label,
        })
    }

    /// Texts per forward pass.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Runs the model at `precision` (bf16 autocast is the fast choice on a GPU).
    pub fn with_precision(mut self, precision: Precision) -> Result<Self> {
        self.model.set_precision(precision)?;
        Ok(self)
    }

    /// Quantizes the encoder for CPU inference (`Quantization::Int8`: int8 weights per output
    /// channel, activations per batch, fbgemm kernels); see `SequenceClassifier::set_quantization`.
    pub fn with_quantization(mut self, quantization: Quantization) -> Result<Self> {
        self.model.set_quantization(quantization)?;
        Ok(self)
    }

    /// One global threshold instead of the checkpoint's.
    pub fn with_threshold(mut self, threshold: f64) -> Self {
        self.thresholds = Thresholds::Global { threshold };
        self
    }

    /// Label names in output order.
    pub fn labels(&self) -> &[String] {
        self.model.labels()
    }

    /// The thresholds applied.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// The underlying model.
    pub fn model(&self) -> &SequenceClassifier {
        &self.model
    }

    /// Probabilities (N × labels) of texts, in input order: sigmoids for multi-label checkpoints,
    /// a softmax for `problem_type: single_label_classification`. Texts are sorted by length and
    /// batched with dynamic padding, so that short texts are not padded to long ones.
    pub fn probabilities(&self, texts: &[&str]) -> Result<ndarray::Array2<f32>> {
        if texts.is_empty() {
            return Ok(ndarray::Array2::zeros((0, self.labels().len())));
        }
        let ids = self.tokenizer.encode_batch(texts)?;
        let batcher = Batcher::new(&ids, self.tokenizer.pad_id()).with_token_type_ids(self.model.uses_token_types());
        // `problem_type` decides: one label per text (softmax) or any number (sigmoid).
        let probability = if self.single_label {
            Probability::Softmax
        } else {
            Probability::Sigmoid
        };
        predict_probabilities(&self.model, &batcher, self.batch_size, probability, |_, _| Ok(()))
    }

    /// Every label's probability and the labels over the thresholds, per text, in input order.
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<Prediction>> {
        let probs = self.probabilities(texts)?;
        let chosen = self.thresholds.apply(probs.view())?;
        let labels = self.labels();
        Ok(probs
            .rows()
            .into_iter()
            .zip(chosen.rows())
            .map(|(p, on)| Prediction {
                scores: labels.iter().cloned().zip(p.iter().copied()).collect(),
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
