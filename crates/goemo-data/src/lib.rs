//! GoEmotions and bring-your-own multi-label text data for goemo.
//!
//! Read a data set ([`load_goemotions`], [`read_csv`]), apply options that change it
//! ([`preprocess`]), look at it ([`DatasetStats`]), and turn texts into padded batches of plain
//! `ndarray` arrays ([`HfTokenizer`], [`Batcher`]). No libtorch here: the model crate converts
//! batches to tensors.
//!
//! ```no_run
//! use goemo_data::{load_goemotions, Batcher, HfTokenizer, ReadMode, Split, Tokenize};
//!
//! let data = load_goemotions("data/goemotions", ReadMode::Strict)?.dataset;
//! let tokenizer = HfTokenizer::from_file("data/models/all-MiniLM-L6-v2/tokenizer.json", 128)?;
//! let texts: Vec<&str> = data.train.iter().map(|e| e.text.as_str()).collect();
//! let ids = tokenizer.encode_batch(&texts)?;
//! let targets = data.targets(Split::Train);
//! let batcher = Batcher::new(&ids, tokenizer.pad_id()).with_targets(targets.view())?;
//! for indices in batcher.train_plan(32, 50, 42, 0)? {
//!     let batch = batcher.batch(&indices);
//!     assert_eq!(batch.input_ids.nrows(), batch.len());
//! }
//! # Ok::<(), goemo_data::DataError>(())
//! ```

mod batch;
mod dataset;
mod error;
mod labels;
mod lines;
mod matrix;
mod preprocess;
mod readers;
mod shapes;
mod source;
mod stats;
mod taxonomy;
mod tokenize;

pub use batch::{Batch, Batcher};
pub use dataset::{targets, Dataset, Example, Split};
pub use error::{DataError, Result};
pub use goemo_stats::{Chi2Test, KsMethod};
pub use labels::{LabelSet, GOEMOTIONS_LABELS};
pub use lines::TextChunks;
pub use matrix::{
    is_prediction_csv, parse_matrix_csv, parse_prediction_csv, read_matrix_csv, read_prediction_csv,
    write_prediction_csv, LabelledMatrix, PredictionFile, PredictionRows, PREDICTION_COLUMNS,
};
pub use preprocess::{clean_text, exclude_label, preprocess, random_subset, PreprocessOptions, PreprocessReport};
pub use readers::{
    load_goemotions, parse_csv, parse_goemotions_tsv, read_csv, read_goemotions_tsv, CsvLabels, CsvSpec, LoadedDataset,
    ReadMode, ReadOutcome, SkippedRow,
};
pub use shapes::ShapeBuckets;
pub use source::{CsvSplits, DataSource, GoEmotionsTsv};
pub use stats::{
    class_weights, label_counts, label_frequencies, percentile, thousands, ClassWeighting, Cooccurrence, DatasetStats,
    LabelCount, LengthStats, SplitConsistency, SplitKsTest, SplitStats, Truncation, TRUNCATION_LENGTHS,
};
pub use taxonomy::{Taxonomy, TaxonomyMap};
pub use tokenize::{HfTokenizer, Tokenize, DEFAULT_MAX_LENGTH};

/// The GoEmotions sizes that set-up verifies: train, dev, test.
pub const GOEMOTIONS_SPLIT_SIZES: [usize; 3] = [43_410, 5_426, 5_427];
