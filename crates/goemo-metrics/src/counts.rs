//! Threshold metrics from predictions: confusion counts, precision, recall, F1 (all averages),
//! subset accuracy and Hamming loss, with scikit-learn's `zero_division = 0`.

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Confusion counts of one class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// True negatives.
    pub tn: u64,
}

/// `a / b`, or 0 when `b` is 0 (scikit-learn's `zero_division = 0`).
#[inline]
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

impl Confusion {
    /// Examples carrying the class.
    pub fn support(&self) -> u64 {
        self.tp + self.fn_
    }
    /// tp / (tp + fp); 0 when nothing is predicted.
    pub fn precision(&self) -> f64 {
        ratio(self.tp as f64, (self.tp + self.fp) as f64)
    }
    /// tp / (tp + fn); 0 without positives.
    pub fn recall(&self) -> f64 {
        ratio(self.tp as f64, (self.tp + self.fn_) as f64)
    }
    /// `2 tp / (2 tp + fp + fn)`, the harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        ratio(2.0 * self.tp as f64, (2 * self.tp + self.fp + self.fn_) as f64)
    }
    fn add(self, o: Confusion) -> Confusion {
        Confusion {
            tp: self.tp + o.tp,
            fp: self.fp + o.fp,
            fn_: self.fn_ + o.fn_,
            tn: self.tn + o.tn,
        }
    }
}

#[inline]
fn count(m: &mut Confusion, predicted: bool, actual: bool) {
    match (predicted, actual) {
        (true, true) => m.tp += 1,
        (true, false) => m.fp += 1,
        (false, true) => m.fn_ += 1,
        (false, false) => m.tn += 1,
    }
}

/// Per-class confusion counts, and per-row sums for the sample average, from one row-major pass
/// (in parallel over row blocks).
#[derive(Debug, Clone, Default)]
struct Tally {
    per_class: Vec<Confusion>,
    sample_precision: f64,
    sample_recall: f64,
    sample_f1: f64,
    exact_rows: u64,
    wrong_cells: u64,
}

impl Tally {
    fn merge(mut self, other: Tally) -> Tally {
        if self.per_class.is_empty() {
            return other;
        }
        for (a, b) in self.per_class.iter_mut().zip(other.per_class) {
            *a = a.add(b);
        }
        self.sample_precision += other.sample_precision;
        self.sample_recall += other.sample_recall;
        self.sample_f1 += other.sample_f1;
        self.exact_rows += other.exact_rows;
        self.wrong_cells += other.wrong_cells;
        self
    }
}

const ROWS_PER_TASK: usize = 2048;

fn tally(predictions: ArrayView2<'_, bool>, targets: ArrayView2<'_, bool>) -> Tally {
    predictions
        .axis_chunks_iter(Axis(0), ROWS_PER_TASK)
        .into_par_iter()
        .zip(targets.axis_chunks_iter(Axis(0), ROWS_PER_TASK).into_par_iter())
        .map(|(p, t)| tally_block(p, t))
        .reduce(Tally::default, Tally::merge)
}

#[inline(never)]
fn tally_block(p: ArrayView2<'_, bool>, t: ArrayView2<'_, bool>) -> Tally {
    let c = p.ncols();
    {
        {
            let mut out = Tally {
                per_class: vec![Confusion::default(); c],
                ..Tally::default()
            };
            for (prow, trow) in p.rows().into_iter().zip(t.rows()) {
                let mut row = Confusion::default();
                for ((m, &p), &t) in out.per_class.iter_mut().zip(prow.iter()).zip(trow.iter()) {
                    count(m, p, t);
                    count(&mut row, p, t);
                }
                out.sample_precision += row.precision();
                out.sample_recall += row.recall();
                out.sample_f1 += row.f1();
                let wrong = row.fp + row.fn_;
                out.exact_rows += u64::from(wrong == 0);
                out.wrong_cells += wrong;
            }
            out
        }
    }
}

/// Per-class confusion counts.
pub fn confusion_per_class(predictions: ArrayView2<'_, bool>, targets: ArrayView2<'_, bool>) -> Vec<Confusion> {
    let per_class = tally(predictions, targets).per_class;
    if per_class.is_empty() {
        vec![Confusion::default(); predictions.ncols()]
    } else {
        per_class
    }
}

/// Precision, recall and F1 of one averaging.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
}

/// Precision, recall and F1 under every averaging scikit-learn offers for multi-label data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdMetrics {
    /// Each label's counts.
    pub per_class: Vec<Confusion>,
    /// Of the pooled counts.
    pub micro: Prf,
    /// Means of the labels' values.
    pub macro_: Prf,
    /// Means of the labels' values weighted by support.
    pub weighted: Prf,
    /// Means of the examples' values.
    pub samples: Prf,
    /// Fraction of examples whose predicted label set equals the true one.
    pub subset_accuracy: f64,
    /// Fraction of (example, label) cells predicted wrongly.
    pub hamming_loss: f64,
}

impl ThresholdMetrics {
    /// Computes every threshold metric from boolean predictions and targets of the same shape.
    pub fn compute(predictions: ArrayView2<'_, bool>, targets: ArrayView2<'_, bool>) -> Self {
        let mut tally = tally(predictions, targets);
        if tally.per_class.is_empty() {
            tally.per_class = vec![Confusion::default(); predictions.ncols()];
        }
        let per_class = tally.per_class;
        let total = per_class.iter().fold(Confusion::default(), |a, &b| a.add(b));
        let c = per_class.len().max(1) as f64;
        let macro_ = Prf {
            precision: per_class.iter().map(Confusion::precision).sum::<f64>() / c,
            recall: per_class.iter().map(Confusion::recall).sum::<f64>() / c,
            f1: per_class.iter().map(Confusion::f1).sum::<f64>() / c,
        };
        let support: f64 = per_class.iter().map(|m| m.support() as f64).sum();
        let weighted_mean =
            |f: fn(&Confusion) -> f64| ratio(per_class.iter().map(|m| m.support() as f64 * f(m)).sum(), support);
        let weighted = Prf {
            precision: weighted_mean(Confusion::precision),
            recall: weighted_mean(Confusion::recall),
            f1: weighted_mean(Confusion::f1),
        };
        let n = predictions.nrows().max(1) as f64;
        ThresholdMetrics {
            micro: Prf {
                precision: total.precision(),
                recall: total.recall(),
                f1: total.f1(),
            },
            macro_,
            weighted,
            samples: Prf {
                precision: tally.sample_precision / n,
                recall: tally.sample_recall / n,
                f1: tally.sample_f1 / n,
            },
            subset_accuracy: tally.exact_rows as f64 / n,
            hamming_loss: tally.wrong_cells as f64 / (n * c),
            per_class,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::array;

    #[test]
    fn averages_match_scikit_learn() {
        // y_true = [[1,0,1],[0,1,0],[1,1,0],[0,0,0]]; y_pred = [[1,0,0],[0,1,1],[1,0,0],[0,0,0]]
        // scikit-learn 1.9.1 (zero_division=0): f1 micro 0.6666666666666666, macro 0.5555555555555555,
        // weighted 0.6666666666666666, samples 0.5; hamming loss 0.25; subset accuracy 0.25
        let t = array![
            [true, false, true],
            [false, true, false],
            [true, true, false],
            [false, false, false]
        ];
        let p = array![
            [true, false, false],
            [false, true, true],
            [true, false, false],
            [false, false, false]
        ];
        let m = ThresholdMetrics::compute(p.view(), t.view());
        assert_relative_eq!(m.micro.f1, 0.6666666666666666, epsilon = 1e-15);
        assert_relative_eq!(m.macro_.f1, 0.5555555555555555, epsilon = 1e-15);
        assert_relative_eq!(m.weighted.f1, 0.6666666666666666, epsilon = 1e-15);
        assert_relative_eq!(m.samples.f1, 0.5, epsilon = 1e-15);
        assert_relative_eq!(m.hamming_loss, 0.25);
        assert_relative_eq!(m.subset_accuracy, 0.25);
        assert_eq!(
            m.per_class[2],
            Confusion {
                tp: 0,
                fp: 1,
                fn_: 1,
                tn: 2
            }
        );
    }
}
