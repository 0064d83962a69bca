//! Ranking metrics: ROC AUC and average precision, exact under ties (as scikit-learn computes them).
//!
//! All cells are ranked once, for every class and for the flattened matrix together: cells are
//! scattered straight into one array, grouped in buckets of score ranges (splitters from a
//! sample, so buckets are few and small enough to sort in cache, in parallel), each cell packed
//! with its key relative to its bucket into 8 bytes, each bucket is sorted, and a sweep over groups
//! of tied scores gives, per class and micro, the trapezoidal ROC area (ties form one diagonal
//! segment, which equals the average-rank Mann-Whitney statistic) and the step-wise average
//! precision `sum_n (R_n - R_{n-1}) P_n` over distinct thresholds. Counts before each bucket come
//! from prefix sums, so the buckets' sums add up to the sweep of one fully sorted list exactly.

use ndarray::{ArrayView1, ArrayView2, Axis};

use crate::input::{all_values, Value};
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
pub(crate) trait Key: Copy + Ord + Default + Send + Sync + Into<u64> {
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
fn all_f32<S: Value>(scores: ArrayView2<'_, S>) -> bool {
    all_values(scores, |s| f64::from(s as f32) == s)
}

/// ROC AUC and average precision of one ranked list; `None` where undefined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingScores {
    /// Undefined without both a positive and a negative.
    pub auc: Option<f64>,
    /// Undefined without a positive.
    pub ap: Option<f64>,
}

/// One matrix cell packed into one integer: its key relative to its bucket in the high half,
/// then a [`Tag`], so that cells sort as plain integers, by key first.
pub(crate) trait Cell: Copy + Ord + Default + Send + Sync {
    type Key: Copy + Ord + Into<u64>;
    /// Bits of the key: a bucket's keys wider than this are shifted right to fit.
    const KEY_BITS: u32;
    /// `key` must fit `KEY_BITS`.
    fn pack(key: u64, tag: u32) -> Self;
    fn key(self) -> Self::Key;
    fn tag(self) -> u32;
}

impl Cell for u64 {
    type Key = u32;
    const KEY_BITS: u32 = 32;
    #[inline]
    fn pack(key: u64, tag: u32) -> Self {
        debug_assert!(key >> 32 == 0);
        key << 32 | u64::from(tag)
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
    const KEY_BITS: u32 = 64;
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
/// positive`: the class for the sweep, and the row to look its exact score up when shortened
/// keys tie on different scores.
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

    /// A group of one cell: `count` then `close`, with the arithmetic that one cell leaves.
    #[inline]
    fn single(&mut self, positive: bool) {
        if positive {
            self.tp += 1;
            self.ap_sum += self.tp as f64 / (self.tp + self.fp) as f64;
        } else {
            self.fp += 1;
            self.area2 += u128::from(2 * self.tp);
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

/// Counts one group of tied scores: every class it touches, and micro, close one group.
fn close_group(
    classes: &mut [Sweep],
    micro: &mut Sweep,
    touched: &mut Vec<usize>,
    tag_of: Tag,
    tags: impl Iterator<Item = u32>,
) {
    for tag in tags {
        let (j, positive) = (tag_of.class(tag), tag & 1 == 1);
        let class = &mut classes[j];
        if class.tp == class.prev_tp && class.fp == class.prev_fp {
            touched.push(j);
        }
        class.count(positive);
        micro.count(positive);
    }
    for &j in touched.iter() {
        classes[j].close();
    }
    touched.clear();
    micro.close();
}

/// Cells per bucket aimed at: few buckets for the scatter to write to, each small enough to
/// sort in L2 cache.
const CELLS_PER_BUCKET: usize = 65536;
/// Sampled cells per splitter.
const OVERSAMPLING: usize = 16;
/// Rows per task when the matrix is read in parallel.
const ROWS_PER_BLOCK: usize = 4096;
/// Slices of the table that maps a key to its candidate buckets, per bucket: a fine grid over
/// the sampled key range, so that most lookups find one bucket and the rest choose between two
/// or three. At most 2^18 slices: the table is built at every call.
const SLICES_PER_BUCKET: usize = 1024;
const MAX_TABLE_BITS: u32 = 18;

/// Score ranges that split the cells into buckets of similar size.
///
/// Bucket `b` holds the keys in `[splitters[b - 1], splitters[b])`, so tied keys always share a
/// bucket. Splitters are every `OVERSAMPLING`-th key of an evenly strided sample. A table over
/// equal slices of the sampled key range narrows each lookup to the splitters in its slice.
struct Buckets<K> {
    splitters: Vec<K>,
    /// The smallest sampled key: the table's first slice starts there (and takes smaller keys).
    low: u64,
    /// log2 of the keys per slice.
    shift: u32,
    /// For each slice, the buckets its keys can fall in: `first..=last`.
    table: Vec<(u16, u16)>,
}

impl<K: Key> Buckets<K> {
    fn new<S: Value>(scores: ArrayView2<'_, S>, cells_per_bucket: usize) -> Self {
        let cells = scores.len();
        // At most 2^15 buckets: bucket numbers fit the table's u16.
        let wanted = (cells / cells_per_bucket).clamp(1, 1 << 15);
        let stride = (cells / (wanted * OVERSAMPLING)).max(1);
        let mut sample: Vec<K> = scores.iter().step_by(stride).map(|&s| K::of(s.to_f64())).collect();
        sample.sort_unstable();
        let mut splitters: Vec<K> = if wanted == 1 {
            Vec::new()
        } else {
            sample
                .iter()
                .skip(OVERSAMPLING)
                .step_by(OVERSAMPLING)
                .copied()
                .collect()
        };
        splitters.dedup();
        let low: u64 = sample[0].into();
        let span = sample[sample.len() - 1].into() - low;
        let table_bits = (splitters.len() + 1)
            .saturating_mul(SLICES_PER_BUCKET)
            .ilog2()
            .min(MAX_TABLE_BITS);
        let shift = (u64::BITS - span.leading_zeros()).saturating_sub(table_bits);
        let slices = (span >> shift) as usize + 1;
        // Both ends only grow with the slice: one linear pass with two cursors. The first slice
        // also takes every key below `low`, the last every key above the sampled range.
        let (mut first, mut last) = (0usize, 0usize);
        let table = (0..slices)
            .map(|i| {
                let start = if i == 0 { 0 } else { low + ((i as u64) << shift) };
                let end = if i + 1 == slices {
                    u64::MAX
                } else {
                    low + (((i + 1) as u64) << shift) - 1
                };
                while first < splitters.len() && splitters[first].into() <= start {
                    first += 1;
                }
                while last < splitters.len() && splitters[last].into() <= end {
                    last += 1;
                }
                (first as u16, last as u16)
            })
            .collect();
        Buckets {
            splitters,
            low,
            shift,
            table,
        }
    }

    fn len(&self) -> usize {
        self.splitters.len() + 1
    }

    #[inline]
    fn of(&self, key: K) -> usize {
        let slice = ((key.into().saturating_sub(self.low)) >> self.shift) as usize;
        let (first, last) = self.table[slice.min(self.table.len() - 1)];
        let mut b = first as usize;
        // The few splitters of this slice: a short scan beats a binary search.
        while b < last as usize && self.splitters[b] <= key {
            b += 1;
        }
        b
    }
}

/// One block's cells in one bucket: how many, and their smallest and largest keys.
#[derive(Clone, Copy)]
struct BucketTally {
    count: usize,
    low: u64,
    high: u64,
}

impl Default for BucketTally {
    fn default() -> Self {
        BucketTally {
            count: 0,
            low: u64::MAX,
            high: 0,
        }
    }
}

impl BucketTally {
    #[inline]
    fn add(&mut self, key: u64) {
        self.count += 1;
        self.low = self.low.min(key);
        self.high = self.high.max(key);
    }

    fn merge(self, other: BucketTally) -> BucketTally {
        BucketTally {
            count: self.count + other.count,
            low: self.low.min(other.low),
            high: self.high.max(other.high),
        }
    }
}

/// Bits of one radix-sort digit: 2,048 counters stay in L1.
const DIGIT_BITS: u32 = 11;

/// Sorts a bucket's cells by key, given the largest key (cells carry keys relative to their
/// bucket's smallest, so the smallest is 0): an LSD radix sort, stable, as many 11-bit passes as
/// the largest key needs (two or three for a 65,536-cell bucket's 32-bit keys, up to six for
/// 64-bit ones), faster than a comparison sort of that many cells; tiny buckets use pdqsort.
/// `scratch` is reused between buckets.
fn sort_by_key<C: Cell>(cells: &mut [C], max_key: u64, scratch: &mut Vec<C>) {
    let passes = (u64::BITS - max_key.leading_zeros()).div_ceil(DIGIT_BITS);
    if cells.len() < 256 || passes > 6 {
        cells.sort_unstable_by_key(|cell| cell.key());
        return;
    }
    scratch.clear();
    scratch.resize(cells.len(), C::default());
    let mask = (1u64 << DIGIT_BITS) - 1;
    let mut counts = [0usize; 1 << DIGIT_BITS];
    let (mut from, mut to): (&mut [C], &mut [C]) = (cells, scratch);
    for pass in 0..passes {
        let shift = pass * DIGIT_BITS;
        let digit = |cell: &C| (cell.key().into() >> shift & mask) as usize;
        counts.fill(0);
        for cell in from.iter() {
            counts[digit(cell)] += 1;
        }
        let mut start = 0;
        for count in &mut counts {
            (*count, start) = (start, start + *count);
        }
        for cell in from.iter() {
            let d = digit(cell);
            to[counts[d]] = *cell;
            counts[d] += 1;
        }
        (from, to) = (to, from);
    }
    // After an odd number of passes the sorted cells are in the scratch buffer.
    if passes % 2 == 1 {
        to.copy_from_slice(from);
    }
}

/// Splits `cells` into consecutive slices of the given lengths.
fn split_by_lengths<C>(mut cells: &mut [C], lengths: impl Iterator<Item = usize>) -> Vec<&mut [C]> {
    lengths
        .map(|len| {
            let (head, tail) = std::mem::take(&mut cells).split_at_mut(len);
            cells = tail;
            head
        })
        .collect()
}

/// Per-class and micro ranking of every cell: bucket, sort each bucket, count, sweep.
///
/// Scores are bucketed by their `K` keys; cells carry their key relative to their bucket's
/// smallest, which fits `C::KEY_BITS` for most buckets. A wider bucket's relative keys are
/// shifted right to fit: they keep the order but may merge different scores, so that bucket's
/// runs of equal keys are ordered by their exact scores (read back through the tag's row)
/// before the sweep.
fn rank_cells<K: Key, C: Cell, S: Value, T: Value>(
    scores: ArrayView2<'_, S>,
    targets: ArrayView2<'_, T>,
    tag_of: Tag,
    cells_per_bucket: usize,
) -> (Vec<RankingScores>, RankingScores) {
    let c = scores.ncols();
    let buckets = Buckets::<K>::new(scores, cells_per_bucket);
    let (bucket_of, blocks) = tally_blocks(scores, &buckets);
    let bucket_tallies: Vec<BucketTally> = (0..buckets.len())
        .map(|b| {
            blocks
                .iter()
                .fold(BucketTally::default(), |all, block| all.merge(block[b]))
        })
        .collect();
    // Each bucket's smallest key, and the shift that fits its keys' span into the cells' keys.
    // Spans come from the keys present, not the splitters: a bucket of a few tied scores far
    // apart needs no shift.
    let shifted: Vec<(u64, u32)> = bucket_tallies
        .iter()
        .map(|t| {
            let span_bits = u64::BITS - t.high.saturating_sub(t.low).leading_zeros();
            (t.low, span_bits.saturating_sub(C::KEY_BITS))
        })
        .collect();
    let mut cells = scatter_cells::<K, C, S, T>(scores, targets, tag_of, bucket_of, &blocks, &shifted);
    let bucket_counts = sort_buckets(&mut cells, &bucket_tallies, &shifted, tag_of, c);
    let starts: Vec<usize> = std::iter::once(0)
        .chain(bucket_tallies.iter().scan(0, |end, t| {
            *end += t.count;
            Some(*end)
        }))
        .collect();
    let sorted: Vec<(&[C], bool)> = starts
        .windows(2)
        .zip(&shifted)
        .map(|(w, &(_, shift))| (&cells[w[0]..w[1]], shift > 0))
        .collect();

    // Each bucket's sweep starts from the counts of all buckets above it (higher scores).
    let mut before = Vec::with_capacity(sorted.len());
    let mut running = vec![[0u64; 2]; c];
    for counts in &bucket_counts {
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
        .map(|(&(cells, refine), before)| sweep_bucket(cells, refine, before, scores, tag_of))
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

/// Pass 1, blocks of rows in parallel: each cell's bucket, and each block's count and smallest
/// and largest key per bucket.
fn tally_blocks<K: Key, S: Value>(
    scores: ArrayView2<'_, S>,
    buckets: &Buckets<K>,
) -> (Vec<u16>, Vec<Vec<BucketTally>>) {
    let block_cells = ROWS_PER_BLOCK * scores.ncols();
    let mut bucket_of = vec![0u16; scores.len()];
    let blocks: Vec<Vec<BucketTally>> = bucket_of
        .par_chunks_mut(block_cells)
        .zip(scores.axis_chunks_iter(Axis(0), ROWS_PER_BLOCK).into_par_iter())
        .map(|(ids, s)| {
            let mut tallies = vec![BucketTally::default(); buckets.len()];
            for (id, &score) in ids.iter_mut().zip(s.iter()) {
                let key = K::of(score.to_f64());
                let b = buckets.of(key);
                *id = b as u16;
                tallies[b].add(key.into());
            }
            tallies
        })
        .collect();
    (bucket_of, blocks)
}

/// Pass 2: every cell written straight to its place, buckets in key order and, within a
/// bucket, blocks in row order; each (block, bucket) pair owns a disjoint slice.
fn scatter_cells<K: Key, C: Cell, S: Value, T: Value>(
    scores: ArrayView2<'_, S>,
    targets: ArrayView2<'_, T>,
    tag_of: Tag,
    bucket_of: Vec<u16>,
    blocks: &[Vec<BucketTally>],
    shifted: &[(u64, u32)],
) -> Vec<C> {
    let n_buckets = shifted.len();
    let block_cells = ROWS_PER_BLOCK * scores.ncols();
    let mut cells = vec![C::default(); scores.len()];
    let mut by_block: Vec<Vec<&mut [C]>> = blocks.iter().map(|_| Vec::with_capacity(n_buckets)).collect();
    let lengths = (0..n_buckets).flat_map(|b| blocks.iter().map(move |block| block[b].count));
    for (i, slice) in split_by_lengths(&mut cells, lengths).into_iter().enumerate() {
        by_block[i % blocks.len()].push(slice);
    }
    let score_blocks = scores.axis_chunks_iter(Axis(0), ROWS_PER_BLOCK).into_par_iter();
    let target_blocks = targets.axis_chunks_iter(Axis(0), ROWS_PER_BLOCK).into_par_iter();
    by_block
        .into_par_iter()
        .zip(bucket_of.par_chunks(block_cells))
        .zip(score_blocks.zip(target_blocks))
        .enumerate()
        .for_each(|(k, ((mut outs, ids), (s, t)))| {
            let mut filled = vec![0usize; outs.len()];
            let mut ids = ids.iter();
            for (i, (srow, trow)) in s.rows().into_iter().zip(t.rows()).enumerate() {
                for (class, (&score, &target)) in srow.iter().zip(trow).enumerate() {
                    let b = usize::from(*ids.next().expect("one bucket per cell"));
                    let (first, shift) = shifted[b];
                    let key = (K::of(score.to_f64()).into() - first) >> shift;
                    let tag = tag_of.pack(k * ROWS_PER_BLOCK + i, class, target.to_f64() == 1.0);
                    outs[b][filled[b]] = C::pack(key, tag);
                    filled[b] += 1;
                }
            }
        });
    cells
}

/// Each bucket sorted in place, and its (positives, negatives) per class counted.
fn sort_buckets<C: Cell>(
    cells: &mut [C],
    tallies: &[BucketTally],
    shifted: &[(u64, u32)],
    tag_of: Tag,
    classes: usize,
) -> Vec<Vec<[u64; 2]>> {
    split_by_lengths(cells, tallies.iter().map(|t| t.count))
        .into_par_iter()
        .zip(tallies.par_iter().zip(shifted))
        .map_init(Vec::new, |scratch, (bucket, (t, &(_, shift)))| {
            // Relative keys run from 0 to the bucket's span, shifted.
            sort_by_key(bucket, t.high.saturating_sub(t.low) >> shift, scratch);
            let mut counts = vec![[0u64; 2]; classes];
            for cell in bucket.iter() {
                let tag = cell.tag();
                counts[tag_of.class(tag)][usize::from(tag & 1 == 0)] += 1;
            }
            counts
        })
        .collect()
}

/// The sweep of one sorted bucket, from the counts of the buckets above it (`before`, per
/// class); `refine` splits runs of equal shortened keys by the exact scores.
fn sweep_bucket<C: Cell, S: Value>(
    cells: &[C],
    refine: bool,
    before: &[[u64; 2]],
    scores: ArrayView2<'_, S>,
    tag_of: Tag,
) -> (Vec<Sweep>, Sweep) {
    let start = |tp: u64, fp: u64| Sweep {
        tp,
        fp,
        prev_tp: tp,
        prev_fp: fp,
        ..Sweep::default()
    };
    let mut classes: Vec<Sweep> = before.iter().map(|&[tp, fp]| start(tp, fp)).collect();
    let (tp, fp) = before.iter().fold((0, 0), |(tp, fp), k| (tp + k[0], fp + k[1]));
    let mut micro = start(tp, fp);
    let mut touched: Vec<usize> = Vec::with_capacity(before.len());
    let mut exact: Vec<(u64, u32)> = Vec::new();
    let mut i = 0;
    while i < cells.len() {
        let key = cells[i].key();
        let mut end = i + 1;
        while end < cells.len() && cells[end].key() == key {
            end += 1;
        }
        if end - i == 1 {
            // Most scores are unique: a group of one cell, without the bookkeeping.
            let tag = cells[i].tag();
            classes[tag_of.class(tag)].single(tag & 1 == 1);
            micro.single(tag & 1 == 1);
        } else if refine {
            // Shortened keys may have merged these scores: split the run by the exact ones.
            exact.clear();
            exact.extend(cells[i..end].iter().map(|cell| {
                let tag = cell.tag();
                let score = scores[[tag_of.row(tag), tag_of.class(tag)]].to_f64();
                (descending_key(score), tag)
            }));
            exact.sort_unstable_by_key(|e| e.0);
            for run in exact.chunk_by(|a, b| a.0 == b.0) {
                close_group(&mut classes, &mut micro, &mut touched, tag_of, run.iter().map(|e| e.1));
            }
        } else {
            let tags = cells[i..end].iter().map(|cell| cell.tag());
            close_group(&mut classes, &mut micro, &mut touched, tag_of, tags);
        }
        i = end;
    }
    (classes, micro)
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
    // Scores that are all f32 values (model outputs) bucket by 32-bit keys, and their relative
    // keys never need shifting; other f64 scores bucket by 64-bit keys, and a bucket's relative
    // keys are shortened to 32 bits (order kept, rare merges split exactly during the sweep).
    if scores.is_empty() {
        let undefined = RankingScores { auc: None, ap: None };
        return (vec![undefined; scores.ncols()], undefined);
    }
    let exact_f32 = all_f32(scores);
    match Tag::for_shape(scores.nrows(), scores.ncols()) {
        Some(tag) if exact_f32 => rank_cells::<u32, u64, S, T>(scores, targets, tag, CELLS_PER_BUCKET),
        Some(tag) => rank_cells::<u64, u64, S, T>(scores, targets, tag, CELLS_PER_BUCKET),
        // Too many cells for a row in the tag: full 64-bit keys, which never need the row.
        None => {
            let tag = Tag::for_shape(0, scores.ncols()).expect("few classes");
            rank_cells::<u64, u128, S, T>(scores, targets, tag, CELLS_PER_BUCKET)
        }
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
            let max_key = cells.iter().map(|c| c.key().into()).max().unwrap_or(0);
            sort_by_key(&mut cells, max_key, &mut Vec::new());
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
            let base = rng.random_range(0..u64::from(u32::MAX) / 2);
            let wide = (0..len)
                .map(|i| u128::pack(base + rng.random_range(0..span), i as u32))
                .collect();
            check::<u128>(wide, &format!("u64 keys, len {len}, span {span}"));
            let narrow = (0..len)
                .map(|i| u64::pack(rng.random_range(0..span.min(1 << 31)), i as u32))
                .collect();
            check::<u64>(narrow, &format!("u32 keys, len {len}, span {span}"));
        }
    }

    #[test]
    fn f64_scores_whose_short_keys_merge_are_ranked_exactly() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        // Scores a few f64 ulps apart, some exactly tied, around two values far apart: a bucket
        // spanning both needs its keys shifted by ~20 bits, which merges neighbouring scores.
        let (n, c) = (3000, 4);
        let scores = ndarray::Array2::from_shape_fn((n, c), |_| {
            let base = if rng.random::<bool>() { 0.25f64 } else { 0.75 };
            base + f64::from(rng.random_range(0..50u32)) * 1e-15
        });
        let targets = ndarray::Array2::from_shape_fn((n, c), |(i, j)| (scores[[i, j]] * 1e15) as u64 % 3 == 0);
        assert!(!all_f32(scores.view()));
        let keys: Vec<u64> = scores.iter().map(|&s| descending_key(s)).collect();
        let (low, high) = (keys.iter().min().unwrap(), keys.iter().max().unwrap());
        let shift = (64 - (high - low).leading_zeros()).saturating_sub(32);
        let distinct = |mut v: Vec<u64>| {
            v.sort_unstable();
            v.dedup();
            v.len()
        };
        let short: Vec<u64> = keys.iter().map(|k| (k - low) >> shift).collect();
        assert!(distinct(short) < distinct(keys.clone()), "the test needs merged keys");

        let tag = Tag::for_shape(n, c).unwrap();
        let wide_tag = Tag::for_shape(0, c).unwrap();
        let (exact_classes, exact_micro) =
            rank_cells::<u64, u128, _, _>(scores.view(), targets.view(), wide_tag, CELLS_PER_BUCKET);
        for cells_per_bucket in [64, 1000, CELLS_PER_BUCKET] {
            let (classes, micro) = rank_cells::<u64, u64, _, _>(scores.view(), targets.view(), tag, cells_per_bucket);
            // AUC areas are integers, equal exactly; AP sums buckets' partial sums in another
            // order, equal to rounding.
            for (got, want) in classes
                .iter()
                .chain([&micro])
                .zip(exact_classes.iter().chain([&exact_micro]))
            {
                assert_eq!(got.auc, want.auc, "{cells_per_bucket} cells per bucket");
                assert_relative_eq!(got.ap.unwrap(), want.ap.unwrap(), max_relative = 1e-12);
            }
        }
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

    /// The plain algorithm to check against: one fully sorted list per class, swept group by group.
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
        let mut state = 99u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (n, c) = (3000, 13);
        let targets = ndarray::Array2::from_shape_fn((n, c), |(_, j)| next() < 0.02 + 0.05 * j as f64);
        let base = targets.mapv(|t| next() * 0.8 + if t { 0.2 } else { 0.0 });
        let magnitudes = targets.mapv(|_| next());
        let datasets = [
            ("heavy ties on a 1/64 grid", base.mapv(|s| (s * 64.0).round() / 64.0)),
            ("f64 scores", base.clone()),
            ("f32 scores", base.mapv(|s| f64::from(s as f32))),
            // Negative, tiny and huge scores: outer buckets with wide spans, shifted keys.
            (
                "scores over 120 binary orders of magnitude, both signs",
                ndarray::Zip::from(&base)
                    .and(&magnitudes)
                    .map_collect(|&s, &m| (s - 0.3) * (m * 120.0 - 60.0).exp2()),
            ),
        ];
        for (what, scores) in &datasets {
            let mut rankings = Vec::new();
            for cells_per_bucket in [50, 700, CELLS_PER_BUCKET] {
                let (s, t) = (scores.view(), targets.view());
                let (tag, wide) = (Tag::for_shape(n, c).unwrap(), Tag::for_shape(0, c).unwrap());
                rankings.push(rank_cells::<u64, u64, _, _>(s, t, tag, cells_per_bucket));
                rankings.push(rank_cells::<u64, u128, _, _>(s, t, wide, cells_per_bucket));
                if all_f32(s) {
                    rankings.push(rank_cells::<u32, u64, _, _>(s, t, tag, cells_per_bucket));
                }
            }
            rankings.push(ranking(scores.view(), targets.view()));
            for (per_class, micro) in &rankings {
                assert_eq!(per_class.len(), c);
                for (j, got) in per_class.iter().enumerate() {
                    let col: Vec<f64> = scores.column(j).to_vec();
                    let t: Vec<bool> = targets.column(j).to_vec();
                    let want = sorted_sweep(&col, &t);
                    assert!(
                        (got.auc.unwrap() - want.auc.unwrap()).abs() < 1e-12,
                        "{what}: class {j}"
                    );
                    assert!((got.ap.unwrap() - want.ap.unwrap()).abs() < 1e-12, "{what}: class {j}");
                }
                let all: Vec<f64> = scores.iter().copied().collect();
                let all_t: Vec<bool> = targets.iter().copied().collect();
                let want = sorted_sweep(&all, &all_t);
                assert!((micro.auc.unwrap() - want.auc.unwrap()).abs() < 1e-12, "{what}: micro");
                assert!((micro.ap.unwrap() - want.ap.unwrap()).abs() < 1e-12, "{what}: micro");
            }
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
        let scores = array![[f64::from(0.1f32), 0.25], [0.75, 0.25], [0.375, 0.125], [0.375, 0.875]];
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
    fn no_rows_rank_nothing() {
        let none = RankingScores { auc: None, ap: None };
        let (classes, micro) = ranking(
            ndarray::Array2::<f64>::zeros((0, 3)).view(),
            ndarray::Array2::<f64>::zeros((0, 3)).view(),
        );
        assert_eq!((classes, micro), (vec![none; 3], none));
    }

    #[test]
    fn equal_scores_form_one_group() {
        let (classes, micro) = ranking(
            array![[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]].view(),
            array![[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]].view(),
        );
        assert_eq!(classes[0].auc, Some(0.5));
        assert_eq!(micro.auc, Some(0.5));
        // One threshold takes every cell: precision 3/6 at recall 1.
        assert_eq!(micro.ap, Some(0.5));
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
