//! Helpers shared by this crate's integration tests.

use std::path::Path;

use goemo_data::{Batcher, HfTokenizer, Tokenize};
use goemo_model::{SequenceClassifier, TensorBatch};
use tch::Device;

/// `texts` tokenized with the checkpoint's tokenizer (128 tokens at most) and padded into one
/// batch on the CPU; the token ids too.
pub(crate) fn encode(model: &SequenceClassifier, dir: &Path, texts: &[String]) -> (Vec<Vec<u32>>, TensorBatch) {
    let tokenizer = HfTokenizer::from_file(dir.join("tokenizer.json"), 128)
        .unwrap()
        .with_pad_id(model.config().pad_token_id as u32);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let ids = tokenizer.encode_batch(&refs).unwrap();
    let batcher = Batcher::new(&ids, tokenizer.pad_id()).with_token_type_ids(model.uses_token_types());
    let all: Vec<usize> = (0..texts.len()).collect();
    let batch = TensorBatch::new(&batcher.batch(&all), Device::Cpu).unwrap();
    (ids, batch)
}
