//! Ranking metrics: ROC AUC and average precision, exact under ties (as scikit-learn computes them).
//!
//! All cells are ranked once, for every class and for the flattened matrix together: cells are
//! scattered into buckets of score ranges (splitters from a sample, so buckets are small enough
//! to sort in cache and to process in parallel), each bucket is sorted, and a sweep over groups
//! of tied scores gives, per class and micro, the trapezoidal ROC area (ties form one diagonal
//! segment, which equals the average-rank Mann-Whitney statistic) and the step-wise average
//! precision `sum_n (R_n - R_{n-1}) P_n` over distinct thresholds. Counts before each bucket come
//! from prefix sums, so the buckets' sums add up to the sweep of one fully sorted list exactly.

use ndarray::{ArrayView1, ArrayView2, Axis};

use crate::input::Value;
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
    /// The packed cell type for this key.
    type Cell: Cell<Key = Self>;
    fn of(score: f64) -> Self;
    /// The key's top 16 bits.
    fn top16(self) -> usize;
    /// The smallest and largest keys with the given top 16 bits.
    fn range_of_top16(prefix: usize) -> (Self, Self);
}

impl Key for u64 {
    type Cell = u128;
    #[inline]
    fn of(score: f64) -> Self {
        descending_key(score)
    }
    #[inline]
    fn top16(self) -> usize {
        (self >> 48) as usize
    }
    fn range_of_top16(prefix: usize) -> (Self, Self) {
        let low = (prefix as u64) << 48;
        (low, low | ((1 << 48) - 1))
    }
}

impl Key for u32 {
    type Cell = u64;
    #[inline]
    fn of(score: f64) -> Self {
        descending_key_f32(score)
    }
    #[inline]
    fn top16(self) -> usize {
        (self >> 16) as usize
    }
    fn range_of_top16(prefix: usize) -> (Self, Self) {
        let low = (prefix as u32) << 16;
        (low, low | 0xffff)
    }
}

/// True when every score survives a round trip through `f32`, so `u32` keys order them exactly.
fn all_f32<S: Value>(scores: ArrayView2<'_, S>) -> bool {
    scores.iter().all(|&s| {
        let s = s.to_f64();
        f64::from(s as f32) == s
    })
}

/// ROC AUC and average precision of one ranked list; `None` where undefined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingScores {
    /// Undefined without both a positive and a negative.
    pub auc: Option<f64>,
    /// Undefined without a positive.
    pub ap: Option<f64>,
}

/// One matrix cell packed into one integer: the score key in the high half, then a [`Tag`], so
/// that cells sort as plain integers, by key first.
pub(crate) trait Cell: Copy + Ord + Default + Send + Sync {
    type Key: Copy + Ord + Into<u64>;
    fn pack(key: Self::Key, tag: u32) -> Self;
    fn key(self) -> Self::Key;
    fn tag(self) -> u32;
}

impl Cell for u64 {
    type Key = u32;
    #[inline]
    fn pack(key: u32, tag: u32) -> Self {
        u64::from(key) << 32 | u64::from(tag)
    }
    #[inline]
    fn key(self) -> u32 {
        (self >> 32) as u32
    }
    #[inline]
    fn tag(self) -> u32 {
        self as u32
    }
}

impl Cell for u128 {
    type Key = u64;
    #[inline]
    fn pack(key: u64, tag: u32) -> Self {
        u128::from(key) << 64 | u128::from(tag)
    }
    #[inline]
    fn key(self) -> u64 {
        (self >> 64) as u64
    }
    #[inline]
    fn tag(self) -> u32 {
        self as u32
    }
}

/// Where a cell comes from and its target, packed as `row << (class_bits + 1) | class << 1 |
/// positive`: the class for the sweep, and the row to look its exact score up when `f32` keys
/// tie on `f64` scores.
#[derive(Clone, Copy)]
struct Tag {
    class_bits: u32,
}

impl Tag {
    /// `None` when rows × classes do not fit 32 bits.
    fn for_shape(rows: usize, classes: usize) -> Option<Self> {
        let class_bits = usize::BITS - classes.saturating_sub(1).leading_zeros();
        let row_bits = usize::BITS - rows.saturating_sub(1).leading_zeros();
        (row_bits + class_bits < 32).then_some(Tag { class_bits })
    }

    #[inline]
    fn pack(self, row: usize, class: usize, positive: bool) -> u32 {
        (row as u32) << (self.class_bits + 1) | (class as u32) << 1 | u32::from(positive)
    }

    #[inline]
    fn class(self, tag: u32) -> usize {
        ((tag >> 1) & ((1 << self.class_bits) - 1)) as usize
    }

    #[inline]
    fn row(self, tag: u32) -> usize {
        (tag >> (self.class_bits + 1)) as usize
    }
}

/// Running sums of one ranked list (a class, or all cells for micro).
#[derive(Clone, Copy, Default)]
struct Sweep {
    tp: u64,
    fp: u64,
    prev_tp: u64,
    prev_fp: u64,
    /// Twice the ROC area in units of (1 positive × 1 negative), exact in integers.
    area2: u128,
    /// Sum over groups of (new positives) × precision; divided by the positives at the end.
    ap_sum: f64,
}

impl Sweep {
    #[inline]
    fn count(&mut self, positive: bool) {
        self.tp += u64::from(positive);
        self.fp += u64::from(!positive);
    }

    /// Closes a group of tied scores.
    #[inline]
    fn close(&mut self) {
        self.area2 += u128::from(self.fp - self.prev_fp) * u128::from(self.tp + self.prev_tp);
        if self.tp > self.prev_tp {
            self.ap_sum += (self.tp - self.prev_tp) as f64 * (self.tp as f64 / (self.tp + self.fp) as f64);
        }
        self.prev_tp = self.tp;
        self.prev_fp = self.fp;
    }

    fn add(&mut self, other: &Sweep) {
        self.area2 += other.area2;
        self.ap_sum += other.ap_sum;
    }

    fn scores(&self, positives: u64, negatives: u64) -> RankingScores {
        RankingScores {
            auc: (positives > 0 && negatives > 0)
                .then(|| self.area2 as f64 / (2.0 * positives as f64 * negatives as f64)),
            ap: (positives > 0).then(|| self.ap_sum / positives as f64),
        }
    }
}

/// Cells per bucket aimed at: small enough to sort in cache.
const CELLS_PER_BUCKET: usize = 4096;
/// Sampled cells per splitter.
const OVERSAMPLING: usize = 16;
/// Rows per task when the matrix is read in parallel.
const ROWS_PER_TASK: usize = 1024;

/// Score ranges that split the cells into buckets of similar size.
///
/// Bucket `b` holds the keys in `[splitters[b - 1], splitters[b])`, so tied keys always share a
/// bucket. Splitters are every `OVERSAMPLING`-th key of an evenly strided sample; a table over
/// the keys' top 16 bits narrows each lookup to the few splitters that share them.
struct Buckets<K> {
    splitters: Vec<K>,
    /// For each top-16-bit prefix, the buckets its keys can fall in: `first..=last`.
    by_prefix: Vec<(u16, u16)>,
}

impl<K: Key> Buckets<K> {
    fn new<S: Value>(scores: ArrayView2<'_, S>) -> Self {
        let cells = scores.len();
        // At most 2^15 buckets: bucket numbers fit the prefix table's u16.
        let wanted = (cells / CELLS_PER_BUCKET).clamp(1, 1 << 15);
        let splitters = if wanted == 1 {
            Vec::new()
        } else {
            let stride = (cells / (wanted * OVERSAMPLING)).max(1);
            let mut sample: Vec<K> = scores.iter().step_by(stride).map(|&s| K::of(s.to_f64())).collect();
            sample.sort_unstable();
            let mut splitters: Vec<K> = sample
                .iter()
                .skip(OVERSAMPLING)
                .step_by(OVERSAMPLING)
                .copied()
                .collect();
            splitters.dedup();
            splitters
        };
        // Both ends only grow with the prefix: one linear pass with two cursors.
        let (mut first, mut last) = (0usize, 0usize);
        let by_prefix = (0..1 << 16)
            .map(|prefix| {
                let (low, high) = K::range_of_top16(prefix);
                while first < splitters.len() && splitters[first] <= low {
                    first += 1;
                }
                while last < splitters.len() && splitters[last] <= high {
                    last += 1;
                }
                (first as u16, last as u16)
            })
            .collect();
        Buckets { splitters, by_prefix }
    }

    fn len(&self) -> usize {
        self.splitters.len() + 1
    }

    #[inline]
    fn of(&self, key: K) -> usize {
        let (first, last) = self.by_prefix[key.top16()];
        if first == last {
            first as usize
        } else {
            let candidates = &self.splitters[first as usize..last as usize];
            first as usize + candidates.partition_point(|&s| s <= key)
        }
    }
}

/// One block of rows' cells, grouped by bucket: bucket `b` is `cells[starts[b]..starts[b + 1]]`.
struct Block<K: Key> {
    cells: Vec<K::Cell>,
    starts: Vec<usize>,
}

impl<K: Key> Block<K> {
    /// The cells of the rows `first_row..` that `scores` and `targets` hold.
    fn new<S: Value, T: Value>(
        scores: ArrayView2<'_, S>,
        targets: ArrayView2<'_, T>,
        first_row: usize,
        tag: Tag,
        buckets: &Buckets<K>,
    ) -> Self {
        let mut keyed = Vec::with_capacity(scores.len());
        let mut counts = vec![0usize; buckets.len() + 1];
        for (i, (srow, trow)) in scores.rows().into_iter().zip(targets.rows()).enumerate() {
            for (j, (&s, &t)) in srow.iter().zip(trow.iter()).enumerate() {
                let key = K::of(s.to_f64());
                let b = buckets.of(key);
                counts[b + 1] += 1;
                keyed.push((
                    b as u32,
                    K::Cell::pack(key, tag.pack(first_row + i, j, t.to_f64() == 1.0)),
                ));
            }
        }
        for b in 1..counts.len() {
            counts[b] += counts[b - 1];
        }
        let starts = counts.clone();
        let mut cells = vec![K::Cell::default(); keyed.len()];
        for (b, cell) in keyed {
            cells[counts[b as usize]] = cell;
            counts[b as usize] += 1;
        }
        Block { cells, starts }
    }

    fn bucket(&self, b: usize) -> &[K::Cell] {
        &self.cells[self.starts[b]..self.starts[b + 1]]
    }
}

/// Bits of one radix-sort digit: 2,048 counters stay in L1.
const DIGIT_BITS: u32 = 11;

/// Sorts a bucket's cells by key: an LSD radix sort of `key - smallest key`, stable, as many
/// 11-bit passes as that span needs (splitters keep it narrow: two or three passes for 32-bit
/// keys, up to six for 64-bit ones), faster than a comparison sort of a few thousand cells;
/// tiny buckets use pdqsort.
fn sort_by_key<C: Cell>(cells: &mut Vec<C>) {
    let (low, high) = cells.iter().fold((u64::MAX, 0u64), |(low, high), cell| {
        let key: u64 = cell.key().into();
        (low.min(key), high.max(key))
    });
    let span_bits = 64 - high.saturating_sub(low).leading_zeros();
    let passes = span_bits.div_ceil(DIGIT_BITS);
    if cells.len() < 256 || passes > 6 {
        cells.sort_unstable_by_key(|cell| cell.key());
        return;
    }
    let mask = (1u64 << DIGIT_BITS) - 1;
    let mut scratch = vec![C::default(); cells.len()];
    let mut counts = vec![0usize; 1 << DIGIT_BITS];
    for pass in 0..passes {
        let shift = pass * DIGIT_BITS;
        let digit = |cell: &C| ((cell.key().into() - low) >> shift & mask) as usize;
        counts.fill(0);
        for cell in cells.iter() {
            counts[digit(cell)] += 1;
        }
        let mut start = 0;
        for count in counts.iter_mut() {
            (*count, start) = (start, start + *count);
        }
        for cell in cells.iter() {
            let d = digit(cell);
            scratch[counts[d]] = *cell;
            counts[d] += 1;
        }
        std::mem::swap(cells, &mut scratch);
    }
}

/// A bucket's cells in key order, and its (positives, negatives) per class.
type SortedBucket<K> = (Vec<<K as Key>::Cell>, Vec<[u64; 2]>);

/// Per-class and micro ranking of every cell: bucket, sort each bucket, count, sweep. With
/// `refine`, keys may tie where scores differ (`f64` scores under `f32` keys): such runs are
/// ordered by their exact scores before the sweep.
fn rank_cells<K: Key, S: Value, T: Value>(
    scores: ArrayView2<'_, S>,
    targets: ArrayView2<'_, T>,
    tag_of: Tag,
    refine: bool,
) -> (Vec<RankingScores>, RankingScores) {
    let c = scores.ncols();
    let buckets = Buckets::<K>::new(scores);
    let blocks: Vec<Block<K>> = scores
        .axis_chunks_iter(Axis(0), ROWS_PER_TASK)
        .into_par_iter()
        .zip(targets.axis_chunks_iter(Axis(0), ROWS_PER_TASK).into_par_iter())
        .enumerate()
        .map(|(k, (s, t))| Block::new(s, t, k * ROWS_PER_TASK, tag_of, &buckets))
        .collect();

    // Each bucket gathered from every block, sorted, and its (positives, negatives) per class counted.
    let sorted: Vec<SortedBucket<K>> = (0..buckets.len())
        .into_par_iter()
        .map(|b| {
            let mut cells: Vec<K::Cell> = Vec::with_capacity(blocks.iter().map(|block| block.bucket(b).len()).sum());
            for block in &blocks {
                cells.extend_from_slice(block.bucket(b));
            }
            sort_by_key(&mut cells);
            let mut counts = vec![[0u64; 2]; c];
            for cell in &cells {
                let tag = cell.tag();
                counts[tag_of.class(tag)][usize::from(tag & 1 == 0)] += 1;
            }
            (cells, counts)
        })
        .collect();
    drop(blocks);

    // Each bucket's sweep starts from the counts of all buckets above it (higher scores).
    let mut before = Vec::with_capacity(sorted.len());
    let mut running = vec![[0u64; 2]; c];
    for (_, counts) in &sorted {
        before.push(running.clone());
        for (r, k) in running.iter_mut().zip(counts) {
            r[0] += k[0];
            r[1] += k[1];
        }
    }
    let totals = running;

    let partials: Vec<(Vec<Sweep>, Sweep)> = sorted
        .par_iter()
        .zip(before.par_iter())
        .map(|((cells, _), before)| {
            let mut classes: Vec<Sweep> = before
                .iter()
                .map(|&[tp, fp]| Sweep {
                    tp,
                    fp,
                    prev_tp: tp,
                    prev_fp: fp,
                    ..Sweep::default()
                })
                .collect();
            let (tp, fp) = before.iter().fold((0, 0), |(tp, fp), k| (tp + k[0], fp + k[1]));
            let mut micro = Sweep {
                tp,
                fp,
                prev_tp: tp,
                prev_fp: fp,
                ..Sweep::default()
            };
            let mut touched: Vec<usize> = Vec::with_capacity(c);
            // One group of tied scores: every class it touches closes one group.
            let mut group = |tags: &mut dyn Iterator<Item = u32>| {
                for tag in tags {
                    let (j, positive) = (tag_of.class(tag), tag & 1 == 1);
                    let class = &mut classes[j];
                    if class.tp == class.prev_tp && class.fp == class.prev_fp {
                        touched.push(j);
                    }
                    class.count(positive);
                    micro.count(positive);
                }
                for &j in &touched {
                    classes[j].close();
                }
                touched.clear();
                micro.close();
            };
            let mut exact: Vec<(u64, u32)> = Vec::new();
            let mut i = 0;
            while i < cells.len() {
                let key = cells[i].key();
                let mut end = i + 1;
                while end < cells.len() && cells[end].key() == key {
                    end += 1;
                }
                if refine && end - i > 1 {
                    // Rounding to f32 merged these scores: split the run by the exact ones.
                    exact.clear();
                    exact.extend(cells[i..end].iter().map(|cell| {
                        let tag = cell.tag();
                        let score = scores[[tag_of.row(tag), tag_of.class(tag)]].to_f64();
                        (descending_key(score), tag)
                    }));
                    exact.sort_unstable_by_key(|e| e.0);
                    for run in exact.chunk_by(|a, b| a.0 == b.0) {
                        group(&mut run.iter().map(|e| e.1));
                    }
                } else {
                    group(&mut cells[i..end].iter().map(|cell| cell.tag()));
                }
                i = end;
            }
            (classes, micro)
        })
        .collect();

    let (mut per_class, mut micro) = (vec![Sweep::default(); c], Sweep::default());
    for (classes, m) in &partials {
        for (total, part) in per_class.iter_mut().zip(classes) {
            total.add(part);
        }
        micro.add(m);
    }
    let (all_pos, all_neg) = totals.iter().fold((0, 0), |(p, n), t| (p + t[0], n + t[1]));
    (
        per_class
            .iter()
            .zip(&totals)
            .map(|(s, t)| s.scores(t[0], t[1]))
            .collect(),
        micro.scores(all_pos, all_neg),
    )
}

/// ROC AUC and AP of one column of scores against 0/1 targets.
pub fn binary_ranking<S: Value, T: Value>(scores: ArrayView1<'_, S>, targets: ArrayView1<'_, T>) -> RankingScores {
    per_class_ranking(scores.insert_axis(Axis(1)), targets.insert_axis(Axis(1)))[0]
}

/// Per-class ranking scores.
pub fn per_class_ranking<S: Value, T: Value>(
    scores: ArrayView2<'_, S>,
    targets: ArrayView2<'_, T>,
) -> Vec<RankingScores> {
    ranking(scores, targets).0
}

/// Ranking scores of the flattened matrix (scikit-learn's `average="micro"`).
pub fn micro_ranking<S: Value, T: Value>(scores: ArrayView2<'_, S>, targets: ArrayView2<'_, T>) -> RankingScores {
    ranking(scores, targets).1
}

/// Per-class and micro ranking scores together, from one ranking of all cells.
/// Scores and targets are read as they are (`f32` or `f64`; 0/1 or bool), without copies; the
/// caller validates them first ([`crate::validate`]).
pub fn ranking<S: Value, T: Value>(
    scores: ArrayView2<'_, S>,
    targets: ArrayView2<'_, T>,
) -> (Vec<RankingScores>, RankingScores) {
    let exact_f32 = all_f32(scores);
    // Past a million f64 cells, so many scores share an f32 that splitting their runs (random
    // reads of the scores) costs more than 64-bit keys.
    let tag = Tag::for_shape(scores.nrows(), scores.ncols()).filter(|_| exact_f32 || scores.len() <= 1 << 20);
    match tag {
        // 32-bit keys: exact for scores that are f32 values (model outputs); for other f64
        // scores, rounding to f32 keeps their order but may merge some, which the sweep splits.
        Some(tag) => rank_cells::<u32, S, T>(scores, targets, tag, !exact_f32),
        // Too many cells to find a score from its tag: 64-bit keys, exact for every f64.
        None => rank_cells::<u64, S, T>(
            scores,
            targets,
            Tag::for_shape(0, scores.ncols()).expect("few classes"),
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::array;

    #[test]
    fn radix_sort_of_buckets_equals_a_comparison_sort() {
        use rand::{Rng, SeedableRng};
        fn check<C: Cell + std::fmt::Debug>(mut cells: Vec<C>, what: &str) {
            let mut expected = cells.clone();
            expected.sort_unstable();
            sort_by_key(&mut cells);
            let keys = |v: &[C]| v.iter().map(|c| c.key()).collect::<Vec<_>>();
            assert!(keys(&cells) == keys(&expected), "{what}: keys out of order");
            cells.sort_unstable();
            assert_eq!(cells, expected, "{what}: cells lost or duplicated");
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        // Spans of 1, 2, 3 and 4 digits, a tiny bucket (pdqsort), ties.
        for (len, span) in [
            (5000, 1u64 << 10),
            (5000, 1 << 20),
            (4096, 1 << 33),
            (3000, 1 << 40),
            (100, 1 << 20),
        ] {
            let base = rng.random_range(0..u32::MAX as u64 / 2);
            let wide = (0..len)
                .map(|i| u128::pack(base + rng.random_range(0..span), i as u32))
                .collect();
            check::<u128>(wide, &format!("u64 keys, len {len}, span {span}"));
            let narrow = (0..len)
                .map(|i| u64::pack(rng.random_range(0..span.min(1 << 31)) as u32, i as u32))
                .collect();
            check::<u64>(narrow, &format!("u32 keys, len {len}, span {span}"));
        }
    }

    #[test]
    fn f64_scores_that_round_to_one_f32_are_ranked_exactly() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        // Scores a few f64 ulps apart (one f32 value), some exactly tied, across two f32 values;
        // 3,000 rows so that there are several buckets.
        let (n, c) = (3000, 4);
        let scores = ndarray::Array2::from_shape_fn((n, c), |_| {
            let base = if rng.random::<bool>() { 0.25f64 } else { 0.75 };
            base + f64::from(rng.random_range(0..50u32)) * 1e-15
        });
        let targets = ndarray::Array2::from_shape_fn((n, c), |(i, j)| (scores[[i, j]] * 1e15) as u64 % 3 == 0);
        assert!(!all_f32(scores.view()));
        let (classes, micro) = ranking(scores.view(), targets.view());
        let tag = Tag::for_shape(n, c).unwrap();
        let (exact_classes, exact_micro) = rank_cells::<u64, _, _>(scores.view(), targets.view(), tag, false);
        // AUC areas are integers, equal exactly; AP sums buckets' partial sums in another order
        // (other splitters), equal to rounding.
        for (got, want) in classes
            .iter()
            .chain([&micro])
            .zip(exact_classes.iter().chain([&exact_micro]))
        {
            assert_eq!(got.auc, want.auc);
            assert_relative_eq!(got.ap.unwrap(), want.ap.unwrap(), max_relative = 1e-12);
        }
        // Without the refinement the f32 keys would merge the groups and change the AUC.
        let (merged, _) = rank_cells::<u32, _, _>(scores.view(), targets.view(), tag, false);
        assert_ne!(merged, exact_classes);
    }

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

    /// The reference: one fully sorted list per class, swept group by group.
    fn sorted_sweep(scores: &[f64], targets: &[bool]) -> RankingScores {
        let mut cells: Vec<(u64, bool)> = scores
            .iter()
            .map(|&s| descending_key(s))
            .zip(targets.iter().copied())
            .collect();
        cells.sort_unstable();
        let mut sweep = Sweep::default();
        for (i, &(key, positive)) in cells.iter().enumerate() {
            sweep.count(positive);
            if cells.get(i + 1).is_none_or(|next| next.0 != key) {
                sweep.close();
            }
        }
        let positives = targets.iter().filter(|&&t| t).count() as u64;
        sweep.scores(positives, targets.len() as u64 - positives)
    }

    #[test]
    fn buckets_add_up_to_one_sorted_sweep() {
        // Enough cells for many buckets, with heavy ties (scores on a 1/64 grid) and f64 scores.
        let mut state = 99u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (n, c) = (3000, 13);
        let targets = ndarray::Array2::from_shape_fn((n, c), |(_, j)| next() < 0.02 + 0.05 * j as f64);
        for grid in [64.0, 0.0] {
            let scores = targets.mapv(|t| {
                let s = next() * 0.8 + if t { 0.2 } else { 0.0 };
                if grid > 0.0 {
                    (s * grid).round() / grid
                } else {
                    s
                }
            });
            let (per_class, micro) = ranking(scores.view(), targets.view());
            assert_eq!(per_class.len(), c);
            for (j, got) in per_class.iter().enumerate() {
                let col: Vec<f64> = scores.column(j).to_vec();
                let t: Vec<bool> = targets.column(j).to_vec();
                let want = sorted_sweep(&col, &t);
                assert!((got.auc.unwrap() - want.auc.unwrap()).abs() < 1e-12, "class {j}");
                assert!((got.ap.unwrap() - want.ap.unwrap()).abs() < 1e-12, "class {j}");
            }
            let all: Vec<f64> = scores.iter().copied().collect();
            let all_t: Vec<bool> = targets.iter().copied().collect();
            let want = sorted_sweep(&all, &all_t);
            assert!((micro.auc.unwrap() - want.auc.unwrap()).abs() < 1e-12);
            assert!((micro.ap.unwrap() - want.ap.unwrap()).abs() < 1e-12);
        }
    }

    #[test]
    fn micro_of_the_matrix_equals_the_flattened_column() {
        let scores = array![[0.1, 0.9, 0.4], [0.4, 0.35, 0.8], [0.4, 0.1, 0.4], [0.2, 0.9, 0.05]];
        let targets = array![
            [false, true, false],
            [true, false, true],
            [false, false, true],
            [true, true, false]
        ];
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
        assert_eq!(
            ranking(scores.view(), targets.view()),
            ranking(nudged.view(), targets.view())
        );
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
