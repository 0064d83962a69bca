//! Data options that are really applied: neutral exclusion, text cleaning, seeded subsets.

use std::sync::LazyLock;

use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, Example, Split};
use crate::error::{DataError, Result};
use crate::labels::LabelSet;

static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\b(?:https?://|www\.)\S+").expect("valid regex"));
// Pictographs plus the joiners, variation selectors, skin tones and flag letters that build emoji
// sequences; digits and `#` carry the Unicode `Emoji` property too, so that property is not used.
static EMOJI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[\p{Extended_Pictographic}\p{Emoji_Modifier}\x{200D}\x{FE0E}\x{FE0F}\x{20E3}\x{1F1E6}-\x{1F1FF}]")
        .expect("valid regex")
});
static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s{2,}").expect("valid regex"));

/// Options applied to a loaded data set before training or analysis.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PreprocessOptions {
    /// Remove the `neutral` label from the label space; examples left with no label are dropped.
    pub exclude_neutral: bool,
    /// Lowercase every text.
    pub lowercase: bool,
    /// Remove `http(s)://` and `www.` addresses.
    pub remove_urls: bool,
    /// Remove emoji (pictographs and their modifiers).
    pub remove_emojis: bool,
    /// Keep a seeded random subset of this many training examples (not the first N).
    pub max_train_samples: Option<usize>,
    /// Seed of the subset.
    pub seed: u64,
}

/// What applying [`PreprocessOptions`] changed, split by split (train, dev, test).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PreprocessReport {
    /// Examples dropped because excluding neutral left them with no label.
    pub dropped_no_label: [usize; 3],
    /// Examples dropped because cleaning left an empty text.
    pub dropped_empty_text: [usize; 3],
    /// Training examples before the random subset was taken, when one was.
    pub subsampled_from: Option<usize>,
}

impl PreprocessReport {
    /// One line per change, for a person to read.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (i, split) in Split::ALL.iter().enumerate() {
            if self.dropped_no_label[i] > 0 {
                lines.push(format!(
                    "{split}: dropped {} examples left with no label after excluding neutral",
                    self.dropped_no_label[i]
                ));
            }
            if self.dropped_empty_text[i] > 0 {
                lines.push(format!(
                    "{split}: dropped {} examples whose text was empty after cleaning",
                    self.dropped_empty_text[i]
                ));
            }
        }
        if let Some(n) = self.subsampled_from {
            lines.push(format!("train: kept a seeded random subset of the {n} examples"));
        }
        lines
    }
}

/// Cleans one text as the options say (lowercase, URLs, emoji), collapsing the spaces left behind.
pub fn clean_text(text: &str, options: &PreprocessOptions) -> String {
    let mut out = std::borrow::Cow::Borrowed(text);
    if options.remove_urls {
        out = URL.replace_all(&out, " ").into_owned().into();
    }
    if options.remove_emojis {
        out = EMOJI.replace_all(&out, " ").into_owned().into();
    }
    if options.remove_urls || options.remove_emojis {
        out = SPACES.replace_all(out.trim(), " ").into_owned().into();
    }
    if options.lowercase {
        out = out.to_lowercase().into();
    }
    out.into_owned()
}

/// Removes one label from the label space, re-numbering the others; examples left with no label
/// are dropped. Returns the new label set and the number dropped per split.
pub fn exclude_label(dataset: &mut Dataset, name: &str) -> Result<[usize; 3]> {
    let removed = dataset.labels.require(name)?;
    let kept: Vec<String> = dataset
        .labels
        .names()
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != removed)
        .map(|(_, n)| n.clone())
        .collect();
    dataset.labels = LabelSet::new(kept)?;
    let mut dropped = [0; 3];
    for (i, split) in Split::ALL.into_iter().enumerate() {
        let examples = dataset.split_mut(split);
        let before = examples.len();
        examples.retain_mut(|e| {
            e.labels.retain(|&l| l != removed);
            for l in &mut e.labels {
                if *l > removed {
                    *l -= 1;
                }
            }
            !e.labels.is_empty()
        });
        dropped[i] = before - examples.len();
    }
    Ok(dropped)
}

/// A seeded random subset of `n` examples, kept in their original order.
pub fn random_subset(examples: &[Example], n: usize, seed: u64) -> Vec<Example> {
    if n >= examples.len() {
        return examples.to_vec();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut picked = sample(&mut rng, examples.len(), n).into_vec();
    picked.sort_unstable();
    picked.into_iter().map(|i| examples[i].clone()).collect()
}

/// Applies every option to the data set in place.
pub fn preprocess(dataset: &mut Dataset, options: &PreprocessOptions) -> Result<PreprocessReport> {
    let mut report = PreprocessReport::default();
    if options.exclude_neutral {
        report.dropped_no_label = exclude_label(dataset, "neutral")?;
    }
    if options.lowercase || options.remove_urls || options.remove_emojis {
        for (i, split) in Split::ALL.into_iter().enumerate() {
            let examples = dataset.split_mut(split);
            let before = examples.len();
            for e in examples.iter_mut() {
                e.text = clean_text(&e.text, options);
            }
            examples.retain(|e| !e.text.trim().is_empty());
            report.dropped_empty_text[i] = before - examples.len();
        }
    }
    if let Some(n) = options.max_train_samples {
        if n == 0 {
            return Err(DataError::InvalidOption("max_train_samples must be at least 1".into()));
        }
        if n < dataset.train.len() {
            report.subsampled_from = Some(dataset.train.len());
            dataset.train = random_subset(&dataset.train, n, options.seed);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(id: &str, text: &str, labels: Vec<usize>) -> Example {
        Example {
            id: id.into(),
            text: text.into(),
            labels,
        }
    }

    #[test]
    fn cleaning_removes_urls_and_emoji_and_keeps_digits() {
        let options = PreprocessOptions {
            lowercase: true,
            remove_urls: true,
            remove_emojis: true,
            ..Default::default()
        };
        let cleaned = clean_text("Look 😂😂 at https://x.org/a?b=1 and www.y.com #1 👍🏽 OK", &options);
        assert_eq!(cleaned, "look at and #1 ok");
    }

    #[test]
    fn excluding_neutral_renumbers_and_drops_unlabelled() {
        let mut ds = Dataset {
            labels: LabelSet::new(["a", "neutral", "b"]).unwrap(),
            train: vec![
                example("1", "x", vec![1]),
                example("2", "y", vec![1, 2]),
                example("3", "z", vec![0]),
            ],
            dev: vec![],
            test: vec![example("4", "w", vec![2])],
        };
        let dropped = exclude_label(&mut ds, "neutral").unwrap();
        assert_eq!(dropped, [1, 0, 0]);
        assert_eq!(ds.labels.names(), ["a", "b"]);
        assert_eq!(ds.train[0].labels, vec![1]);
        assert_eq!(ds.train[1].labels, vec![0]);
        assert_eq!(ds.test[0].labels, vec![1]);
    }

    #[test]
    fn subset_is_seeded_random_and_ordered() {
        let all: Vec<Example> = (0..100).map(|i| example(&i.to_string(), "t", vec![0])).collect();
        let a = random_subset(&all, 10, 7);
        let b = random_subset(&all, 10, 7);
        let c = random_subset(&all, 10, 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, all[..10].to_vec(), "not the first N");
        let ids: Vec<usize> = a.iter().map(|e| e.id.parse().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
