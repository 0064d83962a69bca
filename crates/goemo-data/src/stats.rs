//! Data set statistics: counts, label distribution, co-occurrence, lengths and class weights.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, Example, Split};
use crate::error::{DataError, Result};

/// Summary of a distribution of lengths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LengthStats {
    pub mean: f64,
    pub median: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: usize,
    /// The length above which texts are truncated, when there is one.
    pub max_length: Option<usize>,
    /// Fraction of texts longer than `max_length` (0 when there is none).
    pub truncation_rate: f64,
}

/// Linear-interpolation percentile (numpy's default) of sorted values; `q` in 0..=100.
pub fn percentile(sorted: &[usize], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = q / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let frac = rank - lo as f64;
    sorted[lo] as f64 * (1.0 - frac) + sorted[hi] as f64 * frac
}

impl LengthStats {
    /// Summarises lengths; `max_length` sets the truncation rate.
    pub fn from_lengths(lengths: &[usize], max_length: Option<usize>) -> Self {
        let mut sorted = lengths.to_vec();
        sorted.sort_unstable();
        let n = sorted.len().max(1) as f64;
        let truncated = max_length.map_or(0, |m| sorted.iter().filter(|&&l| l > m).count());
        LengthStats {
            mean: sorted.iter().sum::<usize>() as f64 / n,
            median: percentile(&sorted, 50.0),
            p95: percentile(&sorted, 95.0),
            p99: percentile(&sorted, 99.0),
            max: sorted.last().copied().unwrap_or(0),
            max_length,
            truncation_rate: truncated as f64 / n,
        }
    }
}

/// How positive examples of each label are counted into a weight (for weighted losses).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeighting {
    /// `N / (C · n_c)`: scikit-learn's "balanced" weights.
    Inverse,
    /// The square root of the inverse weights, a softer correction.
    SqrtInverse,
    /// Cui et al. (2019): `(1 − β) / (1 − β^{n_c})`, normalised to sum to `C`.
    EffectiveSamples { beta: f64 },
}

impl std::str::FromStr for ClassWeighting {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "inverse" => Ok(ClassWeighting::Inverse),
            "sqrt_inverse" | "sqrt-inverse" => Ok(ClassWeighting::SqrtInverse),
            "effective_samples" | "effective-samples" => Ok(ClassWeighting::EffectiveSamples { beta: 0.999 }),
            other => Err(DataError::InvalidOption(format!(
                "unknown class weighting {other:?} (expected inverse, sqrt_inverse or effective_samples)"
            ))),
        }
    }
}

impl std::fmt::Display for ClassWeighting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClassWeighting::Inverse => "inverse",
            ClassWeighting::SqrtInverse => "sqrt_inverse",
            ClassWeighting::EffectiveSamples { .. } => "effective_samples",
        })
    }
}

/// Per-label weights in label-index order from positive counts over `n_examples` examples.
///
/// A label with no positive example is counted as having one, so that its weight stays finite.
pub fn class_weights(positive_counts: &[usize], n_examples: usize, scheme: ClassWeighting) -> Vec<f64> {
    let c = positive_counts.len() as f64;
    let counts = positive_counts.iter().map(|&n| n.max(1) as f64);
    match scheme {
        ClassWeighting::Inverse => counts.map(|n| n_examples as f64 / (c * n)).collect(),
        ClassWeighting::SqrtInverse => counts.map(|n| (n_examples as f64 / (c * n)).sqrt()).collect(),
        ClassWeighting::EffectiveSamples { beta } => {
            let raw: Vec<f64> = counts.map(|n| (1.0 - beta) / (1.0 - beta.powf(n))).collect();
            let sum: f64 = raw.iter().sum();
            raw.iter().map(|w| w * c / sum).collect()
        }
    }
}

/// Number of positive examples of each label.
pub fn label_counts(examples: &[Example], n_labels: usize) -> Vec<usize> {
    let mut counts = vec![0; n_labels];
    for e in examples {
        for &l in &e.labels {
            if l < n_labels {
                counts[l] += 1;
            }
        }
    }
    counts
}

/// Label co-occurrence over a set of examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cooccurrence {
    /// `counts[i][j]`: examples carrying both i and j (the diagonal is each label's count).
    pub counts: Array2<usize>,
    /// `P(j | i) = counts[i][j] / counts[i][i]`; NaN where label i never occurs.
    pub conditional: Array2<f64>,
    /// `P(i, j) / (P(i) P(j))`; NaN where either label never occurs.
    pub lift: Array2<f64>,
    /// `log2(lift)`; −∞ where the pair never occurs, NaN where either label never occurs.
    pub pmi: Array2<f64>,
}

impl Cooccurrence {
    /// Co-occurrence of `n_labels` labels over `examples`.
    pub fn compute(examples: &[Example], n_labels: usize) -> Self {
        let mut counts = Array2::<usize>::zeros((n_labels, n_labels));
        for e in examples {
            for &i in &e.labels {
                for &j in &e.labels {
                    counts[[i, j]] += 1;
                }
            }
        }
        let n = examples.len() as f64;
        let marginal = |i: usize| counts[[i, i]] as f64;
        let conditional = Array2::from_shape_fn((n_labels, n_labels), |(i, j)| counts[[i, j]] as f64 / marginal(i));
        let lift = Array2::from_shape_fn((n_labels, n_labels), |(i, j)| {
            if marginal(i) == 0.0 || marginal(j) == 0.0 {
                f64::NAN
            } else {
                counts[[i, j]] as f64 * n / (marginal(i) * marginal(j))
            }
        });
        let pmi = lift.mapv(f64::log2);
        Cooccurrence {
            counts,
            conditional,
            lift,
            pmi,
        }
    }
}

/// Counts of one label in each split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelCount {
    pub label: String,
    pub train: usize,
    pub dev: usize,
    pub test: usize,
    /// Share of training examples that carry the label.
    pub train_fraction: f64,
}

/// Everything `dataset_stats` reports about a data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetStats {
    pub labels: Vec<String>,
    /// Examples per split: train, dev, test.
    pub split_sizes: [usize; 3],
    pub label_counts: Vec<LabelCount>,
    /// `labels_per_example[k]`: training examples with exactly k labels.
    pub labels_per_example: Vec<usize>,
    /// Co-occurrence in the training split.
    pub cooccurrence: Cooccurrence,
    /// Text lengths in characters (Unicode scalar values), training split.
    pub char_lengths: LengthStats,
    /// Text lengths in tokens (special tokens included), training split, when a tokenizer was given.
    pub token_lengths: Option<LengthStats>,
    /// Class weights from training counts, label-index order.
    pub class_weights_inverse: Vec<f64>,
    pub class_weights_sqrt_inverse: Vec<f64>,
    pub class_weights_effective_samples: Vec<f64>,
}

impl DatasetStats {
    /// The statistics as a text table for a person: split sizes, label counts with class
    /// weights, labels per example, lengths and the most associated label pairs.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "{:<8} {:>9}", "split", "examples");
        for (split, n) in crate::Split::ALL.iter().zip(self.split_sizes) {
            let _ = writeln!(out, "{:<8} {:>9}", split.name(), thousands(n));
        }
        let _ = writeln!(out, "labels: {}\n", self.labels.len());
        let _ = writeln!(
            out,
            "{:<15} {:>7} {:>6} {:>6} {:>8} {:>9} {:>9} {:>9}",
            "label", "train", "dev", "test", "train %", "w_inv", "w_sqrt", "w_eff"
        );
        for (i, c) in self.label_counts.iter().enumerate() {
            let _ = writeln!(
                out,
                "{:<15} {:>7} {:>6} {:>6} {:>7.2}% {:>9.3} {:>9.3} {:>9.3}",
                c.label,
                thousands(c.train),
                thousands(c.dev),
                thousands(c.test),
                100.0 * c.train_fraction,
                self.class_weights_inverse[i],
                self.class_weights_sqrt_inverse[i],
                self.class_weights_effective_samples[i],
            );
        }
        let n_train = self.split_sizes[0].max(1) as f64;
        let _ = writeln!(out, "\nlabels per training example:");
        for (k, &n) in self.labels_per_example.iter().enumerate().filter(|(_, &n)| n > 0) {
            let _ = writeln!(out, "  {k}: {:>7} ({:.2}%)", thousands(n), 100.0 * n as f64 / n_train);
        }
        let mut describe = |name: &str, l: &LengthStats| {
            let truncation = l
                .max_length
                .map(|m| format!(", truncated at {m}: {:.3}%", 100.0 * l.truncation_rate))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{name}: mean {:.1}, median {:.0}, p95 {:.0}, p99 {:.0}, max {}{truncation}",
                l.mean, l.median, l.p95, l.p99, l.max
            );
        };
        describe("\ncharacters (train)", &self.char_lengths);
        if let Some(tokens) = &self.token_lengths {
            describe("tokens (train)", tokens);
        }
        let _ = writeln!(
            out,
            "\nmost associated label pairs (train, at least 20 together, by lift):"
        );
        for (a, b, count, lift, pmi) in self.top_pairs(20).into_iter().take(10) {
            let _ = writeln!(
                out,
                "  {a:<14} + {b:<14} {count:>5} together, lift {lift:>5.2}, PMI {pmi:>5.2}"
            );
        }
        out
    }

    /// Label pairs (i < j) occurring together at least `min_count` times in train: names,
    /// count, lift and PMI, by decreasing lift.
    pub fn top_pairs(&self, min_count: usize) -> Vec<(String, String, usize, f64, f64)> {
        let co = &self.cooccurrence;
        let n = self.labels.len();
        let mut pairs: Vec<_> = (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .filter(|&(i, j)| co.counts[[i, j]] >= min_count)
            .map(|(i, j)| {
                (
                    self.labels[i].clone(),
                    self.labels[j].clone(),
                    co.counts[[i, j]],
                    co.lift[[i, j]],
                    co.pmi[[i, j]],
                )
            })
            .collect();
        pairs.sort_by(|a, b| b.3.total_cmp(&a.3));
        pairs
    }

    /// Computes the statistics; `train_token_lengths` are the untruncated token counts of the
    /// training texts in order, and `max_length` the truncation length they are compared with.
    pub fn compute(dataset: &Dataset, train_token_lengths: Option<&[usize]>, max_length: usize) -> Result<Self> {
        let c = dataset.labels.len();
        if let Some(lengths) = train_token_lengths {
            if lengths.len() != dataset.train.len() {
                return Err(DataError::InvalidOption(format!(
                    "{} token lengths for {} training texts",
                    lengths.len(),
                    dataset.train.len()
                )));
            }
        }
        let per_split: Vec<Vec<usize>> = Split::ALL.iter().map(|&s| label_counts(dataset.split(s), c)).collect();
        let n_train = dataset.train.len();
        let label_counts = dataset
            .labels
            .names()
            .iter()
            .enumerate()
            .map(|(i, name)| LabelCount {
                label: name.clone(),
                train: per_split[0][i],
                dev: per_split[1][i],
                test: per_split[2][i],
                train_fraction: per_split[0][i] as f64 / n_train.max(1) as f64,
            })
            .collect();
        let max_labels = dataset.train.iter().map(|e| e.labels.len()).max().unwrap_or(0);
        let mut labels_per_example = vec![0; max_labels + 1];
        for e in &dataset.train {
            labels_per_example[e.labels.len()] += 1;
        }
        let char_lengths: Vec<usize> = dataset.train.iter().map(|e| e.text.chars().count()).collect();
        let train_counts = &per_split[0];
        Ok(DatasetStats {
            labels: dataset.labels.names().to_vec(),
            split_sizes: [dataset.train.len(), dataset.dev.len(), dataset.test.len()],
            label_counts,
            labels_per_example,
            cooccurrence: Cooccurrence::compute(&dataset.train, c),
            char_lengths: LengthStats::from_lengths(&char_lengths, None),
            token_lengths: train_token_lengths.map(|l| LengthStats::from_lengths(l, Some(max_length))),
            class_weights_inverse: class_weights(train_counts, n_train, ClassWeighting::Inverse),
            class_weights_sqrt_inverse: class_weights(train_counts, n_train, ClassWeighting::SqrtInverse),
            class_weights_effective_samples: class_weights(
                train_counts,
                n_train,
                ClassWeighting::EffectiveSamples { beta: 0.999 },
            ),
        })
    }
}

/// 43410 -> "43,410".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn ex(labels: Vec<usize>) -> Example {
        Example {
            id: "i".into(),
            text: "t".into(),
            labels,
        }
    }

    #[test]
    fn percentiles_match_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 10], [50, 95, 99]) = [3.0, 8.8, 9.76]
        let v = [1, 2, 3, 4, 10];
        assert_relative_eq!(percentile(&v, 50.0), 3.0);
        assert_relative_eq!(percentile(&v, 95.0), 8.8, epsilon = 1e-12);
        assert_relative_eq!(percentile(&v, 99.0), 9.76, epsilon = 1e-12);
        let s = LengthStats::from_lengths(&v, Some(3));
        assert_relative_eq!(s.truncation_rate, 0.4);
    }

    #[test]
    fn weights_follow_label_index_order() {
        let w = class_weights(&[10, 40], 50, ClassWeighting::Inverse);
        assert_relative_eq!(w[0], 2.5);
        assert_relative_eq!(w[1], 0.625);
        let s = class_weights(&[10, 40], 50, ClassWeighting::SqrtInverse);
        assert_relative_eq!(s[0], 2.5f64.sqrt());
        let e = class_weights(&[10, 40], 50, ClassWeighting::EffectiveSamples { beta: 0.9 });
        assert_relative_eq!(e.iter().sum::<f64>(), 2.0, epsilon = 1e-12);
        assert!(e[0] > e[1], "the rarer label weighs more");
    }

    #[test]
    fn cooccurrence_lift_and_pmi() {
        // 4 examples: {0,1}, {0,1}, {0}, {2}
        let examples = vec![ex(vec![0, 1]), ex(vec![0, 1]), ex(vec![0]), ex(vec![2])];
        let co = Cooccurrence::compute(&examples, 3);
        assert_eq!(co.counts[[0, 1]], 2);
        assert_eq!(co.counts[[0, 0]], 3);
        assert_relative_eq!(co.conditional[[0, 1]], 2.0 / 3.0);
        assert_relative_eq!(co.conditional[[1, 0]], 1.0);
        // lift(0,1) = 2*4 / (3*2) = 4/3
        assert_relative_eq!(co.lift[[0, 1]], 4.0 / 3.0);
        assert_relative_eq!(co.pmi[[0, 1]], (4.0f64 / 3.0).log2());
        assert_eq!(co.pmi[[0, 2]], f64::NEG_INFINITY);
    }
}
