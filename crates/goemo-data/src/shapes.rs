//! Static batch shapes: every batch padded to a fixed number of rows and to one of a few
//! lengths, so that a device can run each shape from a recording (a CUDA graph) instead of
//! launching its kernels one by one.

use ndarray::Array2;

use crate::batch::{Batch, Batcher};
use crate::error::{DataError, Result};

/// The shapes batches are padded to: `rows` rows, and the shortest of `lengths` that holds the
/// batch's longest text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeBuckets {
    rows: usize,
    lengths: Vec<usize>,
}

impl ShapeBuckets {
    /// The length step goemo's static-shape training and inference use: at most 15 padding
    /// tokens per text beyond dynamic padding, and one recording per 16 tokens of length.
    pub const LENGTH_STEP: usize = 16;

    /// `rows` rows per batch and the given lengths (sorted and deduplicated here).
    pub fn new(rows: usize, lengths: &[usize]) -> Result<Self> {
        let mut lengths = lengths.to_vec();
        lengths.sort_unstable();
        lengths.dedup();
        if rows == 0 || lengths.is_empty() || lengths[0] == 0 {
            return Err(DataError::InvalidOption(format!(
                "shape buckets need at least one row and lengths of at least one token: {rows} rows, lengths {lengths:?}"
            )));
        }
        Ok(ShapeBuckets { rows, lengths })
    }

    /// Lengths in steps of `step` tokens up to `longest` (the last bucket is `longest` itself):
    /// at most `step - 1` padding tokens per text beyond dynamic padding, and
    /// `longest / step` recordings per row count.
    pub fn every(rows: usize, step: usize, longest: usize) -> Result<Self> {
        if step == 0 {
            return Err(DataError::InvalidOption(
                "the length step of shape buckets must be at least 1".into(),
            ));
        }
        let mut lengths: Vec<usize> = (1..=longest.div_ceil(step)).map(|k| (k * step).min(longest)).collect();
        lengths.dedup();
        ShapeBuckets::new(rows, &lengths)
    }

    /// Rows of every batch.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The lengths, shortest first.
    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }

    /// The bucket length of a batch whose longest text has `longest` tokens.
    pub fn length_for(&self, longest: usize) -> Result<usize> {
        self.lengths.iter().copied().find(|&l| l >= longest).ok_or_else(|| {
            DataError::InvalidOption(format!(
                "a text of {longest} tokens is longer than the longest shape bucket ({} tokens)",
                self.lengths[self.lengths.len() - 1]
            ))
        })
    }
}

impl Batcher<'_> {
    /// The batch of `indices` padded to a static shape: `shapes.rows()` rows and the bucket
    /// length of its longest text. Rows past the texts are padding rows: one unmasked pad token
    /// (a row with every key masked would make attention's softmax NaN), zero targets; their
    /// losses must be weighted 0 ([`Batch::real_rows`]).
    pub fn static_batch(&self, indices: &[usize], shapes: &ShapeBuckets) -> Result<Batch> {
        if indices.len() > shapes.rows() {
            return Err(DataError::InvalidOption(format!(
                "a batch of {} texts does not fit shape buckets of {} rows",
                indices.len(),
                shapes.rows()
            )));
        }
        let longest = indices.iter().map(|&i| self.text_len(i)).max().unwrap_or(0);
        let width = shapes.length_for(longest)?;
        let batch = self.batch(indices);
        let (rows, real) = (shapes.rows(), indices.len());
        let pad = |a: &Array2<i64>, fill: i64| {
            let mut out = Array2::from_elem((rows, width), fill);
            out.slice_mut(ndarray::s![..real, ..a.ncols()]).assign(a);
            out
        };
        let mut attention_mask = pad(&batch.attention_mask, 0);
        attention_mask.slice_mut(ndarray::s![real.., 0]).fill(1);
        let targets = batch.targets.as_ref().map(|t| {
            let mut out = Array2::zeros((rows, t.ncols()));
            out.slice_mut(ndarray::s![..real, ..]).assign(t);
            out
        });
        Ok(Batch {
            input_ids: pad(&batch.input_ids, self.pad_id()),
            attention_mask,
            token_type_ids: batch.token_type_ids.as_ref().map(|t| pad(t, 0)),
            targets,
            indices: batch.indices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_up_to_the_next_bucket() {
        let shapes = ShapeBuckets::every(4, 16, 40).unwrap();
        assert_eq!(shapes.lengths(), [16, 32, 40]);
        assert_eq!(shapes.length_for(1).unwrap(), 16);
        assert_eq!(shapes.length_for(16).unwrap(), 16);
        assert_eq!(shapes.length_for(17).unwrap(), 32);
        assert_eq!(shapes.length_for(40).unwrap(), 40);
        let err = shapes.length_for(41).unwrap_err().to_string();
        assert!(err.contains("41 tokens") && err.contains("(40 tokens)"), "{err}");
        assert_eq!(ShapeBuckets::new(2, &[8, 4, 8]).unwrap().lengths(), [4, 8]);
        assert!(ShapeBuckets::new(0, &[8]).is_err());
        assert!(ShapeBuckets::new(2, &[]).is_err());
        assert!(ShapeBuckets::new(2, &[0, 4]).is_err());
        assert!(ShapeBuckets::every(2, 0, 8).is_err());
    }

    #[test]
    fn static_batches_pad_rows_and_length_and_keep_the_texts() {
        let ids = vec![vec![5, 6, 7], vec![8], vec![9, 9, 9, 9, 9]];
        let targets = ndarray::array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 1.0]];
        let batcher = Batcher::new(&ids, 1)
            .with_targets(targets.view())
            .unwrap()
            .with_token_type_ids(true);
        let shapes = ShapeBuckets::new(3, &[4, 8]).unwrap();
        let b = batcher.static_batch(&[1, 0], &shapes).unwrap();
        assert_eq!(b.input_ids, ndarray::array![[8, 1, 1, 1], [5, 6, 7, 1], [1, 1, 1, 1]]);
        assert_eq!(
            b.attention_mask,
            ndarray::array![[1, 0, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0]]
        );
        assert_eq!(
            b.targets.clone().unwrap(),
            ndarray::array![[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]
        );
        assert_eq!(b.token_type_ids.as_ref().unwrap().dim(), (3, 4));
        assert_eq!((b.real_rows(), b.indices), (2, vec![1, 0]));
        // The 5-token text takes the 8-token bucket; a full batch has no padding rows.
        let b = batcher.static_batch(&[2, 0, 1], &shapes).unwrap();
        assert_eq!((b.input_ids.dim(), b.real_rows()), ((3, 8), 3));
        // Too many texts, or a text longer than every bucket, are errors.
        assert!(batcher.static_batch(&[0, 1, 2, 0], &shapes).is_err());
        let short = ShapeBuckets::new(3, &[4]).unwrap();
        assert!(batcher.static_batch(&[2], &short).is_err());
    }
}
