//! Examples, splits and the multi-hot target matrix.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::labels::LabelSet;
use crate::tokenize::Tokenize;

/// One labelled text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The source's identifier (GoEmotions' comment id); unique within a split.
    pub id: String,
    /// The text as read (after preprocessing, if any was applied).
    pub text: String,
    /// Label ids, sorted and without duplicates.
    pub labels: Vec<usize>,
}

/// The three standard splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The training split.
    Train,
    /// The dev split (early stopping, thresholds, calibration).
    Dev,
    /// The test split.
    Test,
}

impl Split {
    /// All splits in their usual order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Dev, Split::Test];

    /// The split's name, which is also its file stem (`train.tsv`...).
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Split {
    type Err = crate::DataError;

    fn from_str(s: &str) -> crate::Result<Self> {
        Split::ALL
            .into_iter()
            .find(|split| split.name() == s.trim())
            .ok_or_else(|| crate::DataError::InvalidOption(format!("unknown split {s:?} (train, dev, test)")))
    }
}

/// A label set with train, dev and test examples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    /// The labels, in index order.
    pub labels: LabelSet,
    /// Training examples.
    pub train: Vec<Example>,
    /// Dev examples.
    pub dev: Vec<Example>,
    /// Test examples.
    pub test: Vec<Example>,
}

impl Dataset {
    /// The examples of one split.
    pub fn split(&self, split: Split) -> &[Example] {
        match split {
            Split::Train => &self.train,
            Split::Dev => &self.dev,
            Split::Test => &self.test,
        }
    }

    /// The examples of one split, mutably.
    pub fn split_mut(&mut self, split: Split) -> &mut Vec<Example> {
        match split {
            Split::Train => &mut self.train,
            Split::Dev => &mut self.dev,
            Split::Test => &mut self.test,
        }
    }

    /// The N×C multi-hot target matrix of one split.
    pub fn targets(&self, split: Split) -> Array2<f32> {
        targets(self.split(split), self.labels.len())
    }

    /// Untruncated token counts of every text, per split in [`Split::ALL`]'s order.
    pub fn token_lengths(&self, tokenizer: &dyn Tokenize) -> Result<Vec<Vec<usize>>> {
        Split::ALL
            .iter()
            .map(|&split| {
                let texts: Vec<&str> = self.split(split).iter().map(|e| e.text.as_str()).collect();
                tokenizer.token_lengths(&texts)
            })
            .collect()
    }
}

/// The N×C multi-hot matrix of `examples` over `n_labels` labels (1.0 where the label is present).
///
/// Label ids at or above `n_labels` are ignored; readers reject them before this point.
pub fn targets(examples: &[Example], n_labels: usize) -> Array2<f32> {
    let mut out = Array2::<f32>::zeros((examples.len(), n_labels));
    for (row, example) in examples.iter().enumerate() {
        for &label in &example.labels {
            if label < n_labels {
                out[[row, label]] = 1.0;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_multi_hot_in_label_order() {
        let examples = vec![
            Example {
                id: "a".into(),
                text: "x".into(),
                labels: vec![0, 2],
            },
            Example {
                id: "b".into(),
                text: "y".into(),
                labels: vec![1],
            },
        ];
        let t = targets(&examples, 3);
        assert_eq!(t, ndarray::array![[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]);
    }
}
