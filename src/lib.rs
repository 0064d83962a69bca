//! goemo: fine-tune transformer encoders on libtorch to detect emotions in text, and measure them honestly.
//!
//! This facade re-exports the layered crates: [`data`] (readers, taxonomies, tokenization,
//! batching), [`metrics`], [`threshold`], [`report`], [`model`] (libtorch encoders and the
//! embeddable [`model::EmotionClassifier`]) and [`train`].

pub use goemo_data as data;
pub use goemo_metrics as metrics;
pub use goemo_model as model;
pub use goemo_report as report;
pub use goemo_threshold as threshold;
pub use goemo_train as train;
