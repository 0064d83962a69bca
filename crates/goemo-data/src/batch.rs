//! Batching: dynamic padding, seeded length-bucketed shuffling, input-order evaluation.

use ndarray::{Array2, ArrayView2};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};

/// One padded batch, as plain arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// B×T token ids, padded with the pad id to the longest text of the batch.
    pub input_ids: Array2<i64>,
    /// B×T, 1 for real tokens and 0 for padding.
    pub attention_mask: Array2<i64>,
    /// B×T zeros (single-segment input) for models that take token types.
    pub token_type_ids: Option<Array2<i64>>,
    /// B×C multi-hot targets, when the batcher has targets.
    pub targets: Option<Array2<f32>>,
    /// Positions of the batch's rows in the encoded input.
    pub indices: Vec<usize>,
}

impl Batch {
    /// Number of texts in the batch.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// True for a batch without texts (never produced by the plans below).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Rows that hold texts: the first `len()` rows; a static-shape batch
    /// ([`Batcher::static_batch`]) has padding rows after them.
    pub fn real_rows(&self) -> usize {
        self.indices.len()
    }

    /// Rows of the arrays, padding rows included.
    pub fn rows(&self) -> usize {
        self.input_ids.nrows()
    }
}

/// Builds padded batches from encoded texts (and optional targets).
#[derive(Debug, Clone)]
pub struct Batcher<'a> {
    ids: &'a [Vec<u32>],
    targets: Option<ArrayView2<'a, f32>>,
    pad_id: i64,
    token_type_ids: bool,
}

impl<'a> Batcher<'a> {
    /// A batcher over encoded texts, padding with `pad_id`.
    pub fn new(ids: &'a [Vec<u32>], pad_id: u32) -> Self {
        Batcher {
            ids,
            targets: None,
            pad_id: i64::from(pad_id),
            token_type_ids: false,
        }
    }

    /// Adds targets, one row per encoded text.
    pub fn with_targets(mut self, targets: ArrayView2<'a, f32>) -> Result<Self> {
        if targets.nrows() != self.ids.len() {
            return Err(DataError::InvalidOption(format!(
                "{} target rows for {} texts",
                targets.nrows(),
                self.ids.len()
            )));
        }
        self.targets = Some(targets);
        Ok(self)
    }

    /// Also produce `token_type_ids` (BERT takes them; DistilBERT and RoBERTa do not).
    pub fn with_token_type_ids(mut self, yes: bool) -> Self {
        self.token_type_ids = yes;
        self
    }

    /// Number of encoded texts.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Tokens of text `i`.
    pub fn text_len(&self, i: usize) -> usize {
        self.ids[i].len()
    }

    /// The id padding is made of.
    pub fn pad_id(&self) -> i64 {
        self.pad_id
    }

    /// True when there is nothing to batch.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The batch of the given text positions, padded to its longest text.
    pub fn batch(&self, indices: &[usize]) -> Batch {
        let width = indices.iter().map(|&i| self.ids[i].len()).max().unwrap_or(0);
        let mut input_ids = Array2::from_elem((indices.len(), width), self.pad_id);
        let mut attention_mask = Array2::zeros((indices.len(), width));
        for (row, &i) in indices.iter().enumerate() {
            for (col, &id) in self.ids[i].iter().enumerate() {
                input_ids[[row, col]] = i64::from(id);
                attention_mask[[row, col]] = 1;
            }
        }
        let targets = self.targets.map(|t| t.select(ndarray::Axis(0), indices));
        Batch {
            token_type_ids: self.token_type_ids.then(|| Array2::zeros((indices.len(), width))),
            input_ids,
            attention_mask,
            targets,
            indices: indices.to_vec(),
        }
    }

    /// Evaluation plan: consecutive batches in input order; the last may be partial.
    pub fn eval_plan(&self, batch_size: usize) -> Result<Vec<Vec<usize>>> {
        check_batch_size(batch_size)?;
        Ok((0..self.ids.len())
            .collect::<Vec<_>>()
            .chunks(batch_size)
            .map(<[usize]>::to_vec)
            .collect())
    }

    /// Inference plan: texts sorted by length (ties in input order), then cut into batches, so
    /// that short texts are not padded to long ones; the last batch may be partial.
    pub fn sorted_plan(&self, batch_size: usize) -> Result<Vec<Vec<usize>>> {
        check_batch_size(batch_size)?;
        let mut order: Vec<usize> = (0..self.ids.len()).collect();
        order.sort_by_key(|&i| self.ids[i].len());
        Ok(order.chunks(batch_size).map(<[usize]>::to_vec).collect())
    }

    /// Training plan for one epoch: texts are shuffled with `(seed, epoch)`, cut into buckets of
    /// `bucket_batches` batches, sorted by length inside each bucket so that padding is small, cut
    /// into batches, and the batches shuffled. Every text appears once; no batch is dropped.
    pub fn train_plan(
        &self,
        batch_size: usize,
        bucket_batches: usize,
        seed: u64,
        epoch: u64,
    ) -> Result<Vec<Vec<usize>>> {
        check_batch_size(batch_size)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(epoch);
        let mut order: Vec<usize> = (0..self.ids.len()).collect();
        order.shuffle(&mut rng);
        let bucket = batch_size * bucket_batches.max(1);
        let mut batches = Vec::with_capacity(self.ids.len().div_ceil(batch_size));
        for chunk in order.chunks_mut(bucket) {
            chunk.sort_by_key(|&i| self.ids[i].len());
            batches.extend(chunk.chunks(batch_size).map(<[usize]>::to_vec));
        }
        batches.shuffle(&mut rng);
        Ok(batches)
    }
}

fn check_batch_size(batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        Err(DataError::InvalidOption("batch size must be at least 1".into()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<Vec<u32>> {
        (0..103u32).map(|i| (0..(i % 17 + 2)).collect()).collect()
    }

    #[test]
    fn batches_pad_to_the_longest_and_mask_padding() {
        let ids = vec![vec![5, 6, 7], vec![8]];
        let targets = ndarray::array![[1.0f32, 0.0], [0.0, 1.0]];
        let batcher = Batcher::new(&ids, 0)
            .with_targets(targets.view())
            .unwrap()
            .with_token_type_ids(true);
        let b = batcher.batch(&[1, 0]);
        assert_eq!(b.input_ids, ndarray::array![[8, 0, 0], [5, 6, 7]]);
        assert_eq!(b.attention_mask, ndarray::array![[1, 0, 0], [1, 1, 1]]);
        assert_eq!(b.targets.unwrap(), ndarray::array![[0.0, 1.0], [1.0, 0.0]]);
        assert_eq!(b.token_type_ids.unwrap().shape(), &[2, 3]);
        assert_eq!(b.indices, vec![1, 0]);
    }

    #[test]
    fn eval_plan_keeps_input_order_and_the_partial_batch() {
        let ids = ids();
        let plan = Batcher::new(&ids, 0).eval_plan(10).unwrap();
        assert_eq!(plan.len(), 11);
        assert_eq!(plan.last().unwrap().len(), 3);
        assert_eq!(plan.concat(), (0..103).collect::<Vec<_>>());
    }

    #[test]
    fn train_plan_is_a_seeded_permutation_with_short_padding() {
        let ids = ids();
        let batcher = Batcher::new(&ids, 0);
        let a = batcher.train_plan(8, 4, 42, 0).unwrap();
        assert_eq!(a, batcher.train_plan(8, 4, 42, 0).unwrap());
        assert_ne!(a, batcher.train_plan(8, 4, 42, 1).unwrap(), "each epoch reshuffles");
        assert_ne!(a, batcher.train_plan(8, 4, 43, 0).unwrap());
        let mut all = a.concat();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        assert_eq!(a.iter().filter(|b| b.len() < 8).count(), 1, "one partial batch, kept");
        // Bucketing: padded tokens are far fewer than with a random plan.
        let padded = |plan: &[Vec<usize>]| -> usize {
            plan.iter()
                .map(|b| {
                    let w = b.iter().map(|&i| ids[i].len()).max().unwrap();
                    b.iter().map(|&i| w - ids[i].len()).sum::<usize>()
                })
                .sum()
        };
        let unbucketed = batcher.train_plan(8, 1, 42, 0).unwrap();
        assert!(
            padded(&a) * 2 < padded(&unbucketed),
            "{} vs {}",
            padded(&a),
            padded(&unbucketed)
        );
    }

    #[test]
    fn zero_batch_size_is_an_error() {
        let ids = ids();
        assert!(Batcher::new(&ids, 0).eval_plan(0).is_err());
    }
}
