//! Ranking metrics: ROC AUC and average precision, exact under ties (as scikit-learn computes them).
//!
//! Scores are sorted once per class (and once for the flattened matrix); a sweep over groups of
//! tied scores gives the trapezoidal ROC area (ties form one diagonal segment, which equals the
//! average-rank Mann-Whitney statistic) and the step-wise average precision
//! `sum_n (R_n - R_{n-1}) P_n` over distinct thresholds.

use ndarray::{ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;

/// Above this many elements a sort is split across rayon's threads.
const PARALLEL_SORT_MIN: usize = 1 << 15;

/// A score mapped to a `u64` whose ascending order is the scores' descending order.
#[inline]
pub(crate) fn descending_key(score: f64) -> u64 {
    // `+ 0.0` turns -0.0 into 0.0 so that the two form one tie group.
    let bits = (score + 0.0).to_bits();
    let ascending = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
    !ascending
}

/// A (score key, is positive) pair; sorting by key ranks scores from highest to lowest.
#[derive(Clone, Copy)]
pub(crate) struct Ranked {
    pub key: u64,
    pub positive: bool,
}

pub(crate) fn rank(mut pairs: Vec<Ranked>) -> Vec<Ranked> {
    if pairs.len() >= PARALLEL_SORT_MIN {
        pairs.par_sort_unstable_by_key(|p| p.key);
    } else {
        pairs.sort_unstable_by_key(|p| p.key);
    }
    pairs
}

/// ROC AUC and average precision of one ranked list; `None` where undefined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingScores {
    /// Undefined without both a positive and a negative.
    pub auc: Option<f64>,
    /// Undefined without a positive.
    pub ap: Option<f64>,
}

pub(crate) fn sweep(ranked: &[Ranked]) -> RankingScores {
    let positives = ranked.iter().filter(|r| r.positive).count() as u64;
    let negatives = ranked.len() as u64 - positives;
    let (mut tp, mut fp, mut prev_tp, mut prev_fp) = (0u64, 0u64, 0u64, 0u64);
    // Twice the ROC area in units of (1 positive × 1 negative), exact in integers.
    let mut area2: u128 = 0;
    let mut ap = 0.0;
    for (i, r) in ranked.iter().enumerate() {
        if r.positive {
            tp += 1;
        } else {
            fp += 1;
        }
        let group_ends = ranked.get(i + 1).is_none_or(|next| next.key != r.key);
        if group_ends {
            area2 += u128::from(fp - prev_fp) * u128::from(tp + prev_tp);
            if tp > prev_tp {
                ap += (tp - prev_tp) as f64 / positives as f64 * (tp as f64 / (tp + fp) as f64);
            }
            prev_tp = tp;
            prev_fp = fp;
        }
    }
    RankingScores {
        auc: (positives > 0 && negatives > 0).then(|| area2 as f64 / (2.0 * positives as f64 * negatives as f64)),
        ap: (positives > 0).then_some(ap),
    }
}

/// ROC AUC and AP of one column of scores against 0/1 targets.
pub fn binary_ranking(scores: ArrayView1<'_, f64>, targets: ArrayView1<'_, bool>) -> RankingScores {
    let pairs = scores
        .iter()
        .zip(targets.iter())
        .map(|(&s, &t)| Ranked {
            key: descending_key(s),
            positive: t,
        })
        .collect();
    sweep(&rank(pairs))
}

/// Per-class ranking scores, classes in parallel.
pub fn per_class_ranking(scores: ArrayView2<'_, f64>, targets: ArrayView2<'_, bool>) -> Vec<RankingScores> {
    (0..scores.ncols())
        .into_par_iter()
        .map(|c| binary_ranking(scores.column(c), targets.column(c)))
        .collect()
}

/// Ranking scores of the flattened matrix (scikit-learn's `average="micro"`).
pub fn micro_ranking(scores: ArrayView2<'_, f64>, targets: ArrayView2<'_, bool>) -> RankingScores {
    let n = scores.nrows();
    let rows: Vec<Vec<Ranked>> = scores
        .axis_chunks_iter(Axis(0), 4096.min(n.max(1)))
        .into_par_iter()
        .zip(targets.axis_chunks_iter(Axis(0), 4096.min(n.max(1))).into_par_iter())
        .map(|(s, t)| {
            s.iter()
                .zip(t.iter())
                .map(|(&s, &t)| Ranked {
                    key: descending_key(s),
                    positive: t,
                })
                .collect()
        })
        .collect();
    sweep(&rank(rows.concat()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::array;

    #[test]
    fn keys_sort_scores_descending() {
        let mut v = [0.5, -1.0, 3.0, -0.0, 0.0, f64::MIN_POSITIVE, -3.5];
        let mut keys: Vec<(u64, f64)> = v.iter().map(|&s| (descending_key(s), s)).collect();
        keys.sort_by_key(|k| k.0);
        v.sort_by(|a, b| b.total_cmp(a));
        let sorted: Vec<f64> = keys.iter().map(|k| k.1).collect();
        assert_eq!(sorted[..3], v[..3]);
        assert_eq!(descending_key(-0.0), descending_key(0.0));
    }

    #[test]
    fn auc_and_ap_match_scikit_learn_with_ties() {
        // scikit-learn 1.9.1: roc_auc_score([0,0,1,1,1,0], [0.1,0.4,0.35,0.8,0.4,0.4]) = 0.6666666666666667
        //                     average_precision_score(same)                             = 0.7
        let s = array![0.1, 0.4, 0.35, 0.8, 0.4, 0.4];
        let t = array![false, false, true, true, true, false];
        let r = binary_ranking(s.view(), t.view());
        assert_relative_eq!(r.auc.unwrap(), 0.6666666666666667, epsilon = 1e-15);
        assert_relative_eq!(r.ap.unwrap(), 0.7, epsilon = 1e-15);
    }

    #[test]
    fn undefined_without_both_classes() {
        let s = array![0.1, 0.4];
        let r = binary_ranking(s.view(), array![false, false].view());
        assert_eq!((r.auc, r.ap), (None, None));
        let r = binary_ranking(s.view(), array![true, true].view());
        assert_eq!((r.auc, r.ap), (None, Some(1.0)));
    }
}
