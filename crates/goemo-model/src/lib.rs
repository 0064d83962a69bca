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
mod pool;
mod precision;
mod recorded;
mod resolve;
mod save;
mod trainable;

pub use classifier::{write_thresholds, EmotionClassifier, Prediction, ENSEMBLE_FILE, THRESHOLDS_FILE};
pub use config::{Activation, Architecture, HeadKind, ModelConfig};
pub use device::{load_cuda, parse_device, set_threads};
pub use encoder::{Encoder, WeightInit};
pub use error::{ModelError, Result};
pub use goemo_calibration::{Calibrator, CALIBRATION_FILE};
#[cfg(target_os = "linux")]
pub use goemo_torch::{keep_freed_memory, libtorch_dir};
pub use model::{LoadOptions, SequenceClassifier};
pub use pool::ClassifierPool;
pub use precision::{cpu_has_native_bf16, cpu_has_vnni, with_precision, InferenceMode, Precision, Quantization};
pub use recorded::StaticForward;
pub use resolve::{hub_cache_dir, offline, resolve_model, resolve_weights, HUB_TIMEOUT, REQUIRED_FILES, WEIGHT_FILES};
pub use save::{copy_tokenizer_files, MODELING_FILE};
pub use trainable::{predict_probabilities, predict_probabilities_static, Probability, TensorBatch, TrainableModel};
