//! BERT, DistilBERT and RoBERTa encoders on libtorch, loaded from Hugging Face checkpoint
//! folders (`config.json` + `model.safetensors`), with `transformers`' sequence-classification
//! heads and two of goemo's own (first token; masked mean pooling), saved back in a format
//! `transformers` loads.
//!
//! ```no_run
//! use goemo_model::{LoadOptions, SequenceClassifier};
//!
//! let model = SequenceClassifier::load("data/models/all-MiniLM-L6-v2", tch::Device::Cpu, &LoadOptions::default())?;
//! assert_eq!(model.labels().len(), 28);
//! # Ok::<(), goemo_model::ModelError>(())
//! ```

mod classifier;
mod config;
mod device;
mod encoder;
mod error;
mod model;
mod precision;
mod resolve;
mod save;

pub use classifier::{write_thresholds, EmotionClassifier, Prediction, THRESHOLDS_FILE};
pub use config::{Activation, Architecture, HeadKind, ModelConfig};
#[cfg(target_os = "linux")]
pub use device::libtorch_dir;
pub use device::{load_cuda, parse_device, set_threads};
pub use encoder::Encoder;
pub use error::{ModelError, Result};
pub use model::{LoadOptions, SequenceClassifier};
pub use precision::{with_precision, Precision};
pub use resolve::{hub_cache_dir, offline, resolve_model, HUB_TIMEOUT, REQUIRED_FILES};
pub use save::copy_tokenizer_files;

/// A padded batch from the data crate as tensors on `device`.
pub fn batch_tensors(
    batch: &goemo_data::Batch,
    device: tch::Device,
) -> Result<(tch::Tensor, tch::Tensor, Option<tch::Tensor>)> {
    let to_tensor = |a: &ndarray::Array2<i64>| -> Result<tch::Tensor> {
        let (rows, cols) = a.dim();
        let data: Vec<i64> = a.iter().copied().collect();
        Ok(tch::Tensor::from_slice(&data)
            .f_view([rows as i64, cols as i64])?
            .to_device(device))
    };
    Ok((
        to_tensor(&batch.input_ids)?,
        to_tensor(&batch.attention_mask)?,
        batch.token_type_ids.as_ref().map(to_tensor).transpose()?,
    ))
}
