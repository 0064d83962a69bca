//! Ranking metrics: ROC AUC and average precision, exact under ties (as scikit-learn computes them).
//!
//! Scores are sorted once per class (the flattened matrix merges the sorted classes); a sweep over groups of
//! tied scores gives the trapezoidal ROC area (ties form one diagonal segment, which equals the
//! average-rank Mann-Whitney statistic) and the step-wise average precision
//! `sum_n (R_n - R_{n-1}) P_n` over distinct thresholds.

use ndarray::{ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;

/// A score mapped to a `u64` whose ascending order is the scores' descending order.
#[inline]
pub(crate) fn descending_key(score: f64) -> u64 {
    // `+ 0.0` turns -0.0 into 0.0 so that the two form one tie group.
    let bits = (score + 0.0).to_bits();
    let ascending = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
    !ascending
}

/// The same for a score that is exactly an `f32` (model outputs are): half the bytes to sort
/// and merge, same order.
#[inline]
fn descending_key_f32(score: f64) -> u32 {
    let bits = (score as f32 + 0.0).to_bits();
    let ascending = if bits >> 31 == 1 { !bits } else { bits | (1 << 31) };
    !ascending
}

/// A sort key of a score: `u64` for any `f64`, `u32` when every score is exactly an `f32`.
pub(crate) trait Key: Copy + Ord + Default + Send + Sync {
    fn of(score: f64) -> Self;
}

impl Key for u64 {
    #[inline]
    fn of(score: f64) -> Self {
        descending_key(score)
    }
}

impl Key for u32 {
    #[inline]
    fn of(score: f64) -> Self {
        descending_key_f32(score)
    }
}

/// True when every score survives a round trip through `f32`, so `u32` keys order them exactly.
fn all_f32(scores: ArrayView2<'_, f64>) -> bool {
    scores.iter().all(|&s| f64::from(s as f32) == s)
}

/// Merges two ascending key runs into `out` (of their combined length), without data-dependent
/// branches in the inner loop: random keys would make a branchy merge mispredict half the time.
fn merge_into<K: Key>(a: &[K], b: &[K], out: &mut [K]) {
    assert_eq!(out.len(), a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        // SAFETY: the loop condition keeps i < a.len() and j < b.len(), and i + j < out.len()
        // because out.len() = a.len() + b.len().
        unsafe {
            let (x, y) = (*a.get_unchecked(i), *b.get_unchecked(j));
            let take_a = x <= y;
            *out.get_unchecked_mut(i + j) = if take_a { x } else { y };
            i += usize::from(take_a);
            j += usize::from(!take_a);
        }
    }
    out[i + j..a.len() + j].copy_from_slice(&a[i..]);
    out[a.len() + j..].copy_from_slice(&b[j..]);
}

/// Sorted runs laid end to end in one buffer: run k is `keys[bounds[k]..bounds[k + 1]]`.
struct Runs<K> {
    keys: Vec<K>,
    bounds: Vec<usize>,
}

impl<K: Key> Runs<K> {
    fn run(&self, k: usize) -> &[K] {
        &self.keys[self.bounds[k]..self.bounds[k + 1]]
    }

    /// Disjoint mutable runs, for sorting them in parallel.
    fn runs_mut(&mut self) -> Vec<&mut [K]> {
        let mut rest: &mut [K] = &mut self.keys;
        let mut out = Vec::with_capacity(self.bounds.len() - 1);
        for w in self.bounds.windows(2) {
            let (run, tail) = std::mem::take(&mut rest).split_at_mut(w[1] - w[0]);
            out.push(run);
            rest = tail;
        }
        out
    }

    /// Merges all runs into one, pairwise level by level (pairs in parallel), ping-ponging
    /// between two buffers so that no level allocates.
    fn merge_all(self) -> Vec<K> {
        let Runs { mut keys, mut bounds } = self;
        let mut scratch = vec![K::default(); keys.len()];
        while bounds.len() > 2 {
            let mut next_bounds = vec![0];
            let mut tasks = Vec::new();
            let mut rest: &mut [K] = &mut scratch;
            for pair in bounds.windows(3).step_by(2) {
                let (a, b) = (&keys[pair[0]..pair[1]], &keys[pair[1]..pair[2]]);
                let (out, tail) = std::mem::take(&mut rest).split_at_mut(a.len() + b.len());
                tasks.push((a, b, out));
                rest = tail;
                next_bounds.push(pair[2]);
            }
            if bounds.len() % 2 == 0 {
                // An odd number of runs: the last one is carried over as it is.
                let start = bounds[bounds.len() - 2];
                rest.copy_from_slice(&keys[start..]);
                next_bounds.push(keys.len());
            }
            tasks.into_par_iter().for_each(|(a, b, out)| merge_into(a, b, out));
            std::mem::swap(&mut keys, &mut scratch);
            bounds = next_bounds;
        }
        keys
    }
}

/// ROC AUC and average precision of one ranked list; `None` where undefined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingScores {
    /// Undefined without both a positive and a negative.
    pub auc: Option<f64>,
    /// Undefined without a positive.
    pub ap: Option<f64>,
}

/// Sweeps the sorted keys of positives and of negatives together, one group of tied scores at a
/// time, from the highest score down.
pub(crate) fn sweep<K: Key>(positives: &[K], negatives: &[K]) -> RankingScores {
    let (n_pos, n_neg) = (positives.len(), negatives.len());
    let (mut tp, mut fp) = (0usize, 0usize);
    // Twice the ROC area in units of (1 positive × 1 negative), exact in integers.
    let mut area2: u128 = 0;
    let mut ap = 0.0;
    while tp < n_pos || fp < n_neg {
        let key = match (positives.get(tp), negatives.get(fp)) {
            (Some(&p), Some(&n)) => p.min(n),
            (Some(&p), None) => p,
            (None, Some(&n)) => n,
            (None, None) => unreachable!("loop condition"),
        };
        let (prev_tp, prev_fp) = (tp, fp);
        while positives.get(tp) == Some(&key) {
            tp += 1;
        }
        while negatives.get(fp) == Some(&key) {
            fp += 1;
        }
        area2 += ((fp - prev_fp) as u128) * ((tp + prev_tp) as u128);
        if tp > prev_tp {
            ap += (tp - prev_tp) as f64 / n_pos as f64 * (tp as f64 / (tp + fp) as f64);
        }
    }
    RankingScores {
        auc: (n_pos > 0 && n_neg > 0).then(|| area2 as f64 / (2.0 * n_pos as f64 * n_neg as f64)),
        ap: (n_pos > 0).then_some(ap),
    }
}

/// Every class's positive and negative keys, each class's keys sorted, classes end to end.
struct SortedClasses<K> {
    positives: Runs<K>,
    negatives: Runs<K>,
}

impl<K: Key> SortedClasses<K> {
    /// Reads the matrix row by row (column by column would stride through all of it once per
    /// class) into per-class regions sized by a first counting pass, then sorts each class.
    fn new(scores: ArrayView2<'_, f64>, targets: ArrayView2<'_, bool>) -> Self {
        let (n, c) = scores.dim();
        let mut positive_counts = vec![0usize; c];
        for row in targets.rows() {
            for (count, &t) in positive_counts.iter_mut().zip(row.iter()) {
                *count += usize::from(t);
            }
        }
        let bounds = |count: &dyn Fn(usize) -> usize| -> Vec<usize> {
            std::iter::once(0)
                .chain((0..c).scan(0, |total, j| {
                    *total += count(j);
                    Some(*total)
                }))
                .collect()
        };
        let pos_bounds = bounds(&|j| positive_counts[j]);
        let neg_bounds = bounds(&|j| n - positive_counts[j]);
        let mut positives = vec![K::default(); pos_bounds[c]];
        let mut negatives = vec![K::default(); neg_bounds[c]];
        let (mut pos_at, mut neg_at) = (pos_bounds[..c].to_vec(), neg_bounds[..c].to_vec());
        for (srow, trow) in scores.rows().into_iter().zip(targets.rows()) {
            for (j, (&s, &t)) in srow.iter().zip(trow.iter()).enumerate() {
                let (buffer, at) = if t { (&mut positives, &mut pos_at[j]) } else { (&mut negatives, &mut neg_at[j]) };
                buffer[*at] = K::of(s);
                *at += 1;
            }
        }
        let mut classes = SortedClasses {
            positives: Runs { keys: positives, bounds: pos_bounds },
            negatives: Runs { keys: negatives, bounds: neg_bounds },
        };
        let mut runs = classes.positives.runs_mut();
        runs.extend(classes.negatives.runs_mut());
        runs.into_par_iter().for_each(|run| run.sort_unstable());
        classes
    }

    fn ranking(&self, class: usize) -> RankingScores {
        sweep(self.positives.run(class), self.negatives.run(class))
    }
}

/// ROC AUC and AP of one column of scores against 0/1 targets.
pub fn binary_ranking(scores: ArrayView1<'_, f64>, targets: ArrayView1<'_, bool>) -> RankingScores {
    per_class_ranking(scores.insert_axis(Axis(1)), targets.insert_axis(Axis(1)))[0]
}

/// Per-class ranking scores.
pub fn per_class_ranking(scores: ArrayView2<'_, f64>, targets: ArrayView2<'_, bool>) -> Vec<RankingScores> {
    fn run<K: Key>(scores: ArrayView2<'_, f64>, targets: ArrayView2<'_, bool>) -> Vec<RankingScores> {
        let classes = SortedClasses::<K>::new(scores, targets);
        (0..scores.ncols()).into_par_iter().map(|c| classes.ranking(c)).collect()
    }
    if all_f32(scores) {
        run::<u32>(scores, targets)
    } else {
        run::<u64>(scores, targets)
    }
}

/// Ranking scores of the flattened matrix (scikit-learn's `average="micro"`).
pub fn micro_ranking(scores: ArrayView2<'_, f64>, targets: ArrayView2<'_, bool>) -> RankingScores {
    ranking(scores, targets).1
}

/// Per-class and micro ranking scores together: each class is sorted once, and the micro
/// ranking merges the sorted classes instead of sorting all cells again.
pub fn ranking(scores: ArrayView2<'_, f64>, targets: ArrayView2<'_, bool>) -> (Vec<RankingScores>, RankingScores) {
    fn run<K: Key>(scores: ArrayView2<'_, f64>, targets: ArrayView2<'_, bool>) -> (Vec<RankingScores>, RankingScores) {
        let classes = SortedClasses::<K>::new(scores, targets);
        let per_class = (0..scores.ncols()).into_par_iter().map(|c| classes.ranking(c)).collect();
        let SortedClasses { positives, negatives } = classes;
        let (positives, negatives) = rayon::join(|| positives.merge_all(), || negatives.merge_all());
        (per_class, sweep(&positives, &negatives))
    }
    if all_f32(scores) {
        run::<u32>(scores, targets)
    } else {
        run::<u64>(scores, targets)
    }
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
        let mut keys32: Vec<(u32, f64)> = v.iter().map(|&s| (descending_key_f32(s), s)).collect();
        keys32.sort_by_key(|k| k.0);
        assert_eq!(keys32.iter().map(|k| k.1).collect::<Vec<_>>()[..3], v[..3]);
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
    fn merged_runs_equal_one_sort_of_all_keys() {
        for n_runs in [1, 2, 5, 7, 28] {
            let runs: Vec<Vec<u64>> = (0..n_runs as u64)
                .map(|c| {
                    let mut run: Vec<u64> = (0..(c * 7 % 50)).map(|i| (i * 7919 + c * 13) % 101).collect();
                    run.sort_unstable();
                    run
                })
                .collect();
            let bounds = std::iter::once(0)
                .chain(runs.iter().scan(0, |t, r| {
                    *t += r.len();
                    Some(*t)
                }))
                .collect();
            let mut all = runs.concat();
            let merged = Runs::<u64> { keys: all.clone(), bounds }.merge_all();
            all.sort_unstable();
            assert_eq!(merged, all, "{n_runs} runs");
        }
    }

    #[test]
    fn micro_of_the_matrix_equals_the_flattened_column() {
        let scores = array![[0.1, 0.9, 0.4], [0.4, 0.35, 0.8], [0.4, 0.1, 0.4], [0.2, 0.9, 0.05]];
        let targets = array![[false, true, false], [true, false, true], [false, false, true], [true, true, false]];
        let flat_s = ndarray::Array1::from_iter(scores.iter().copied());
        let flat_t = ndarray::Array1::from_iter(targets.iter().copied());
        let (per_class, micro) = ranking(scores.view(), targets.view());
        assert_eq!(micro, binary_ranking(flat_s.view(), flat_t.view()));
        assert_eq!(per_class[1], binary_ranking(scores.column(1), targets.column(1)));
    }

    #[test]
    fn f32_scores_rank_the_same_with_short_keys() {
        let scores = array![[0.1f32 as f64, 0.25], [0.75, 0.25], [0.375, 0.125], [0.375, 0.875]];
        let targets = array![[false, true], [true, false], [true, true], [false, false]];
        assert!(all_f32(scores.view()));
        let nudged = scores.mapv(|s| s + 1e-12); // same order, no longer f32: u64 keys
        assert!(!all_f32(nudged.view()));
        assert_eq!(ranking(scores.view(), targets.view()), ranking(nudged.view(), targets.view()));
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
