//! goemo: fine-tune transformer encoders on libtorch to detect emotions in text, and measure them honestly.
//!
//! This facade re-exports the layered crates: [`data`] (readers, taxonomies, tokenization,
//! batching, statistics), [`stats`] (hypothesis tests with scipy's numbers), [`metrics`],
//! [`threshold`], [`fs`] (atomic writes), [`system`] (the host and process a run records), [`report`] (tables, charts, TensorBoard events),
//! [`torch`] (the libtorch shims), [`model`] (libtorch encoders and the embeddable
//! [`model::EmotionClassifier`]), [`train`] (the trainer and its parts), [`run`] (one
//! configuration, one call: a whole training run), [`serve`] (a batching service and its HTTP
//! server) and [`analysis`] (run folders compared, ensembles).

pub use goemo_analysis as analysis;
pub use goemo_calibration as calibration;
pub use goemo_data as data;
pub use goemo_fs as fs;
pub use goemo_metrics as metrics;
pub use goemo_model as model;
pub use goemo_report as report;
pub use goemo_run as run;
pub use goemo_serve as serve;
pub use goemo_stats as stats;
pub use goemo_system as system;
pub use goemo_threshold as threshold;
pub use goemo_torch as torch;
pub use goemo_train as train;
