//! Tokenization with the `tokenizers` crate from a `tokenizer.json`.

use std::path::Path;

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{DataError, Result};

/// Default maximum sequence length, special tokens included.
pub const DEFAULT_MAX_LENGTH: usize = 128;

/// Turns texts into token ids; implemented by [`HfTokenizer`], and open to other tokenizers.
pub trait Tokenize: Send + Sync {
    /// Token ids of each text, special tokens added and truncated to [`Tokenize::max_length`].
    fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>>;
    /// Untruncated token counts (special tokens included), for length statistics.
    fn token_lengths(&self, texts: &[&str]) -> Result<Vec<usize>>;
    /// The id used to pad batches.
    fn pad_id(&self) -> u32;
    /// The truncation length.
    fn max_length(&self) -> usize;
}

/// A Hugging Face `tokenizer.json` tokenizer with truncation set and padding left to the batcher.
#[derive(Clone)]
pub struct HfTokenizer {
    truncating: Tokenizer,
    untruncated: Tokenizer,
    pad_id: u32,
    max_length: usize,
}

impl std::fmt::Debug for HfTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfTokenizer")
            .field("pad_id", &self.pad_id)
            .field("max_length", &self.max_length)
            .finish_non_exhaustive()
    }
}

impl HfTokenizer {
    /// Loads `tokenizer.json`; `max_length` counts special tokens.
    pub fn from_file(path: impl AsRef<Path>, max_length: usize) -> Result<Self> {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(DataError::Tokenizer(format!("{} does not exist", path.display())));
        }
        let tokenizer = Tokenizer::from_file(path)
            .map_err(|e| DataError::Tokenizer(format!("cannot load {}: {e}", path.display())))?;
        Self::new(tokenizer, max_length)
    }

    /// Wraps a loaded tokenizer; whatever padding and truncation its file set are replaced.
    pub fn new(mut tokenizer: Tokenizer, max_length: usize) -> Result<Self> {
        if max_length < 2 {
            return Err(DataError::InvalidOption(format!(
                "max_length {max_length} is too small"
            )));
        }
        // The pad id: the file's padding settings first, then the usual pad tokens.
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| {
                ["[PAD]", "<pad>", "<|endoftext|>"]
                    .iter()
                    .find_map(|t| tokenizer.token_to_id(t))
            })
            .unwrap_or(0);
        tokenizer.with_padding(None);
        let mut untruncated = tokenizer.clone();
        untruncated
            .with_truncation(None)
            .map_err(|e| DataError::Tokenizer(e.to_string()))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| DataError::Tokenizer(e.to_string()))?;
        Ok(HfTokenizer {
            truncating: tokenizer,
            untruncated,
            pad_id,
            max_length,
        })
    }

    /// Overrides the pad id (a model's `pad_token_id` is authoritative).
    pub fn with_pad_id(mut self, pad_id: u32) -> Self {
        self.pad_id = pad_id;
        self
    }

    /// The wrapped tokenizer (truncation set, no padding).
    pub fn inner(&self) -> &Tokenizer {
        &self.truncating
    }
}

fn encode_all(tokenizer: &Tokenizer, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
    // Runs in parallel on rayon's pool; the `fast` variant skips character offsets, unused here.
    let encodings = tokenizer
        .encode_batch_fast(texts.to_vec(), true)
        .map_err(|e| DataError::Tokenizer(e.to_string()))?;
    Ok(encodings.into_iter().map(|e| e.get_ids().to_vec()).collect())
}

impl Tokenize for HfTokenizer {
    fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        encode_all(&self.truncating, texts)
    }

    fn token_lengths(&self, texts: &[&str]) -> Result<Vec<usize>> {
        Ok(encode_all(&self.untruncated, texts)?.iter().map(Vec::len).collect())
    }

    fn pad_id(&self) -> u32 {
        self.pad_id
    }

    fn max_length(&self) -> usize {
        self.max_length
    }
}
