//! Data set statistics: counts, label distribution, co-occurrence, lengths and class weights.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use goemo_stats::{chi2_contingency, ks_2samp, Chi2Test, KsMethod};

use crate::dataset::{Dataset, Example, Split};
use crate::error::{DataError, Result};

/// Truncation lengths every length summary reports (BERT-style models' common limits).
pub const TRUNCATION_LENGTHS: [usize; 3] = [128, 256, 512];

/// Texts longer than a truncation length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truncation {
    /// The truncation length, in tokens.
    pub max_length: usize,
    /// Texts longer than `max_length`.
    pub texts: usize,
    /// Their share of all texts.
    pub rate: f64,
}

/// Summary of a distribution of lengths; quantiles interpolate linearly (numpy's default) and
/// `std` is the population standard deviation (numpy's `ddof=0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LengthStats {
    /// Number of lengths.
    pub count: usize,
    /// Shortest.
    pub min: usize,
    /// Longest.
    pub max: usize,
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// 50th percentile.
    pub median: f64,
    /// 25th percentile.
    pub q25: f64,
    /// 75th percentile.
    pub q75: f64,
    /// 90th percentile.
    pub q90: f64,
    /// 95th percentile.
    pub q95: f64,
    /// 99th percentile.
    pub q99: f64,
    /// One entry per truncation length, shortest first.
    pub truncation: Vec<Truncation>,
}

/// Linear-interpolation percentile (numpy's default) of sorted values; `q` in 0..=100:
/// goemo-stats' [`quantile`](goemo_stats::quantile).
pub fn percentile(sorted: &[usize], q: f64) -> f64 {
    let values: Vec<f64> = sorted.iter().map(|&v| v as f64).collect();
    goemo_stats::quantile(&values, q / 100.0)
}

impl LengthStats {
    /// Summarises lengths, with the share of texts longer than each of `truncation_lengths`.
    pub fn from_lengths(lengths: &[usize], truncation_lengths: &[usize]) -> Self {
        let mut sorted = lengths.to_vec();
        sorted.sort_unstable();
        let n = sorted.len().max(1) as f64;
        let mean = sorted.iter().sum::<usize>() as f64 / n;
        let variance = sorted.iter().map(|&l| (l as f64 - mean).powi(2)).sum::<f64>() / n;
        let mut limits = truncation_lengths.to_vec();
        limits.sort_unstable();
        limits.dedup();
        let truncation = limits
            .into_iter()
            .map(|max_length| {
                // Sorted: the texts longer than the limit are the tail.
                let texts = sorted.len() - sorted.partition_point(|&l| l <= max_length);
                Truncation {
                    max_length,
                    texts,
                    rate: texts as f64 / n,
                }
            })
            .collect();
        LengthStats {
            count: sorted.len(),
            min: sorted.first().copied().unwrap_or(0),
            max: sorted.last().copied().unwrap_or(0),
            mean,
            std: variance.sqrt(),
            median: percentile(&sorted, 50.0),
            q25: percentile(&sorted, 25.0),
            q75: percentile(&sorted, 75.0),
            q90: percentile(&sorted, 90.0),
            q95: percentile(&sorted, 95.0),
            q99: percentile(&sorted, 99.0),
            truncation,
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
    EffectiveSamples {
        /// β in (0, 1); closer to 1 weights rare classes more.
        beta: f64,
    },
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

/// Each label's share of the examples (0 for no examples): the constant a calibrated model must
/// beat, and the prior a new head's bias starts from.
pub fn label_frequencies(examples: &[Example], n_labels: usize) -> Vec<f64> {
    let n = examples.len().max(1) as f64;
    label_counts(examples, n_labels).iter().map(|&c| c as f64 / n).collect()
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
    /// Co-occurrence of `n_labels` labels over `examples` (one split, or several chained).
    pub fn compute<'a>(examples: impl IntoIterator<Item = &'a Example>, n_labels: usize) -> Self {
        let mut counts = Array2::<usize>::zeros((n_labels, n_labels));
        let mut n = 0usize;
        for e in examples {
            n += 1;
            for &i in &e.labels {
                for &j in &e.labels {
                    counts[[i, j]] += 1;
                }
            }
        }
        let n = n as f64;
        let marginal = |i: usize| counts[[i, i]] as f64;
        let conditional = Array2::from_shape_fn((n_labels, n_labels), |(i, j)| counts[[i, j]] as f64 / marginal(i));
        let lift = Array2::from_shape_fn((n_labels, n_labels), |(i, j)| {
            if marginal(i) == 0.0 || marginal(j) == 0.0 {
                f64::NAN
            } else {
                counts[[i, j]] as f64 * n / (marginal(i) * marginal(j))
            }
        });
        let pmi = lift.mapv(goemo_stats::pmi_bits);
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
    /// Label name.
    pub label: String,
    /// Training examples carrying the label.
    pub train: usize,
    /// Dev examples carrying the label.
    pub dev: usize,
    /// Test examples carrying the label.
    pub test: usize,
    /// Share of training examples that carry the label.
    pub train_fraction: f64,
}

/// Everything about one split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitStats {
    /// `train`, `dev` or `test`.
    pub split: String,
    /// Examples in the split.
    pub examples: usize,
    /// Examples carrying each label, label-index order.
    pub label_counts: Vec<usize>,
    /// `labels_per_example[k]`: examples with exactly k labels.
    pub labels_per_example: Vec<usize>,
    /// Examples with 1, 2, and 3 or more labels.
    pub label_count_groups: [usize; 3],
    /// Per label, the examples carrying it split by their number of labels: 1, 2, 3 or more.
    pub label_counts_by_group: Vec<[usize; 3]>,
    /// Text lengths in characters (Unicode scalar values).
    pub char_lengths: LengthStats,
    /// Text lengths in tokens (special tokens included), when a tokenizer was given.
    pub token_lengths: Option<LengthStats>,
}

impl SplitStats {
    fn compute(
        split: Split,
        examples: &[Example],
        n_labels: usize,
        char_lengths: &[usize],
        token_lengths: Option<&[usize]>,
        truncation_lengths: &[usize],
    ) -> Self {
        let max_labels = examples.iter().map(|e| e.labels.len()).max().unwrap_or(0);
        let mut labels_per_example = vec![0; max_labels + 1];
        let mut label_count_groups = [0; 3];
        let mut label_counts_by_group = vec![[0; 3]; n_labels];
        for e in examples {
            labels_per_example[e.labels.len()] += 1;
            if let Some(group) = label_group(e.labels.len()) {
                label_count_groups[group] += 1;
                for &l in e.labels.iter().filter(|&&l| l < n_labels) {
                    label_counts_by_group[l][group] += 1;
                }
            }
        }
        SplitStats {
            split: split.name().to_string(),
            examples: examples.len(),
            label_counts: label_counts(examples, n_labels),
            labels_per_example,
            label_count_groups,
            label_counts_by_group,
            char_lengths: LengthStats::from_lengths(char_lengths, truncation_lengths),
            token_lengths: token_lengths.map(|l| LengthStats::from_lengths(l, truncation_lengths)),
        }
    }
}

/// The group of an example with `n` labels: 0 for one, 1 for two, 2 for three or more; `None`
/// for none.
fn label_group(n: usize) -> Option<usize> {
    (n > 0).then(|| n.min(3) - 1)
}

/// A two-sample Kolmogorov–Smirnov test between two splits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitKsTest {
    /// The first split.
    pub a: String,
    /// The second split.
    pub b: String,
    /// The KS statistic D.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Exact or asymptotic p-value.
    pub method: KsMethod,
}

/// Whether the splits look drawn from one distribution: χ² tests of independence between the
/// split and the label (example counts, `scipy.stats.chi2_contingency`) and between the split and
/// the number of labels (1, 2, 3+), and two-sample KS tests on character lengths
/// (`scipy.stats.ks_2samp`). A label that no split carries is left out of the χ² table (its
/// expected counts would be zero); a test that cannot be computed is `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitConsistency {
    /// Chi-squared test of label frequencies across the splits; `None` when undefined.
    pub label_chi2: Option<Chi2Test>,
    /// Chi-squared test of labels-per-example counts across the splits; `None` when undefined.
    pub label_count_chi2: Option<Chi2Test>,
    /// Kolmogorov–Smirnov tests of token lengths, one per pair of splits.
    pub length_ks: Vec<SplitKsTest>,
}

impl SplitConsistency {
    fn compute(splits: &[SplitStats], char_lengths: &[Vec<usize>]) -> Self {
        let char_lengths: Vec<Vec<f64>> = char_lengths
            .iter()
            .map(|l| l.iter().map(|&n| n as f64).collect())
            .collect();
        let n_labels = splits.first().map_or(0, |s| s.label_counts.len());
        let carried: Vec<usize> = (0..n_labels)
            .filter(|&l| splits.iter().any(|s| s.label_counts[l] > 0))
            .collect();
        let label_table: Vec<Vec<u64>> = splits
            .iter()
            .map(|s| carried.iter().map(|&l| s.label_counts[l] as u64).collect())
            .collect();
        let group_table: Vec<Vec<u64>> = splits
            .iter()
            .map(|s| s.label_count_groups.iter().map(|&n| n as u64).collect())
            .collect();
        let mut length_ks = vec![];
        for i in 0..splits.len() {
            for j in i + 1..splits.len() {
                if let Some(t) = ks_2samp(&char_lengths[i], &char_lengths[j]) {
                    length_ks.push(SplitKsTest {
                        a: splits[i].split.clone(),
                        b: splits[j].split.clone(),
                        statistic: t.statistic,
                        p_value: t.p_value,
                        method: t.method,
                    });
                }
            }
        }
        SplitConsistency {
            label_chi2: chi2_contingency(&label_table),
            label_count_chi2: chi2_contingency(&group_table),
            length_ks,
        }
    }
}

/// Everything `dataset_stats` reports about a data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetStats {
    /// Label names, in index order.
    pub labels: Vec<String>,
    /// Examples per split: train, dev, test.
    pub split_sizes: [usize; 3],
    /// Per label, its examples in each split.
    pub label_counts: Vec<LabelCount>,
    /// Train, dev and test.
    pub splits: Vec<SplitStats>,
    /// Co-occurrence over the examples of all splits.
    pub cooccurrence: Cooccurrence,
    /// Whether the splits look drawn from one distribution.
    pub split_consistency: SplitConsistency,
    /// Class weights from training counts, label-index order.
    pub class_weights_inverse: Vec<f64>,
    /// Square roots of the inverse-frequency weights.
    pub class_weights_sqrt_inverse: Vec<f64>,
    /// Effective-number-of-samples weights (Cui et al., β = 0.999).
    pub class_weights_effective_samples: Vec<f64>,
}

impl DatasetStats {
    /// The statistics as a text table for a person: split sizes, label counts with class
    /// weights, labels per example and lengths per split, split consistency and the most
    /// associated label pairs.
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
        let _ = writeln!(out, "\nlabels per example:");
        let _ = writeln!(out, "  {:<6} {:>15} {:>15} {:>15}", "split", "1", "2", "3+");
        for s in &self.splits {
            let n = s.examples.max(1) as f64;
            let cells: Vec<String> = s
                .label_count_groups
                .iter()
                .map(|&k| format!("{} ({:.1}%)", thousands(k), 100.0 * k as f64 / n))
                .collect();
            let _ = writeln!(
                out,
                "  {:<6} {:>15} {:>15} {:>15}",
                s.split, cells[0], cells[1], cells[2]
            );
        }
        let describe = |out: &mut String, name: &str, l: &LengthStats| {
            let truncation: Vec<String> = l
                .truncation
                .iter()
                .map(|t| format!(">{}: {:.3}%", t.max_length, 100.0 * t.rate))
                .collect();
            let _ = writeln!(
                out,
                "  {name:<14} min {}, mean {:.1} ± {:.1}, q25/median/q75 {:.0}/{:.0}/{:.0}, q95 {:.0}, q99 {:.0}, max {}; {}",
                l.min,
                l.mean,
                l.std,
                l.q25,
                l.median,
                l.q75,
                l.q95,
                l.q99,
                l.max,
                truncation.join(", ")
            );
        };
        let _ = writeln!(out, "\nlengths:");
        for s in &self.splits {
            describe(&mut out, &format!("{} chars", s.split), &s.char_lengths);
            if let Some(tokens) = &s.token_lengths {
                describe(&mut out, &format!("{} tokens", s.split), tokens);
            }
        }
        let c = &self.split_consistency;
        let _ = writeln!(out, "\nsplit consistency:");
        for (name, test) in [("labels", &c.label_chi2), ("1/2/3+ labels", &c.label_count_chi2)] {
            match test {
                Some(t) => {
                    let _ = writeln!(
                        out,
                        "  χ² split × {name}: {:.2}, dof {}, p {:.4}",
                        t.statistic, t.dof, t.p_value
                    );
                }
                None => {
                    let _ = writeln!(out, "  χ² split × {name}: not computable (a split or group is empty)");
                }
            }
        }
        for t in &c.length_ks {
            let _ = writeln!(
                out,
                "  KS characters {} vs {}: D {:.4}, p {:.4}",
                t.a, t.b, t.statistic, t.p_value
            );
        }
        let _ = writeln!(
            out,
            "\nmost associated label pairs (all splits, at least 20 together, by lift):"
        );
        for (a, b, count, lift, pmi) in self.top_pairs(20).into_iter().take(10) {
            let _ = writeln!(
                out,
                "  {a:<14} + {b:<14} {count:>5} together, lift {lift:>5.2}, PMI {pmi:>5.2}"
            );
        }
        out
    }

    /// Label pairs (i < j) occurring together at least `min_count` times: names, count, lift
    /// and PMI, by decreasing lift.
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

    /// Computes the statistics. `token_lengths` holds, for train, dev and test in that order,
    /// the untruncated token counts of the split's texts in order; lengths are compared with
    /// [`TRUNCATION_LENGTHS`] and with `max_length`.
    pub fn compute(dataset: &Dataset, token_lengths: Option<&[Vec<usize>]>, max_length: usize) -> Result<Self> {
        let c = dataset.labels.len();
        if let Some(lengths) = token_lengths {
            if lengths.len() != Split::ALL.len() {
                return Err(DataError::InvalidOption(format!(
                    "token lengths for {} splits, expected train, dev and test",
                    lengths.len()
                )));
            }
            for (split, l) in Split::ALL.iter().zip(lengths) {
                if l.len() != dataset.split(*split).len() {
                    return Err(DataError::InvalidOption(format!(
                        "{} token lengths for {} {split} texts",
                        l.len(),
                        dataset.split(*split).len()
                    )));
                }
            }
        }
        let mut truncation_lengths = TRUNCATION_LENGTHS.to_vec();
        truncation_lengths.push(max_length);
        // Unicode scalar values per text, for the summaries and the KS tests.
        let char_lengths: Vec<Vec<usize>> = Split::ALL
            .iter()
            .map(|&s| dataset.split(s).iter().map(|e| e.text.chars().count()).collect())
            .collect();
        let splits: Vec<SplitStats> = Split::ALL
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                SplitStats::compute(
                    s,
                    dataset.split(s),
                    c,
                    &char_lengths[i],
                    token_lengths.map(|l| l[i].as_slice()),
                    &truncation_lengths,
                )
            })
            .collect();
        let n_train = dataset.train.len();
        let label_counts = dataset
            .labels
            .names()
            .iter()
            .enumerate()
            .map(|(i, name)| LabelCount {
                label: name.clone(),
                train: splits[0].label_counts[i],
                dev: splits[1].label_counts[i],
                test: splits[2].label_counts[i],
                train_fraction: splits[0].label_counts[i] as f64 / n_train.max(1) as f64,
            })
            .collect();
        let train_counts = &splits[0].label_counts;
        Ok(DatasetStats {
            labels: dataset.labels.names().to_vec(),
            split_sizes: [dataset.train.len(), dataset.dev.len(), dataset.test.len()],
            label_counts,
            cooccurrence: Cooccurrence::compute(Split::ALL.iter().flat_map(|&s| dataset.split(s)), c),
            split_consistency: SplitConsistency::compute(&splits, &char_lengths),
            class_weights_inverse: class_weights(train_counts, n_train, ClassWeighting::Inverse),
            class_weights_sqrt_inverse: class_weights(train_counts, n_train, ClassWeighting::SqrtInverse),
            class_weights_effective_samples: class_weights(
                train_counts,
                n_train,
                ClassWeighting::EffectiveSamples { beta: 0.999 },
            ),
            splits,
        })
    }
}

/// A count with thousands separators: 43410 -> "43,410".
pub fn thousands(n: usize) -> String {
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
        let s = LengthStats::from_lengths(&v, &[3, 128]);
        assert_eq!((s.truncation[0].max_length, s.truncation[0].texts), (3, 2));
        assert_relative_eq!(s.truncation[0].rate, 0.4);
        assert_eq!(s.truncation[1].texts, 0);
        // numpy.std([1, 2, 3, 4, 10]) = 3.1622776601683795; percentile 25 = 2.0
        assert_relative_eq!(s.std, 3.162_277_660_168_379_5, epsilon = 1e-12);
        assert_relative_eq!(s.q25, 2.0);
        assert_eq!((s.min, s.max, s.count), (1, 10, 5));
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
