//! Uncertainty: bootstrap confidence intervals over examples, and a paired bootstrap comparison
//! of two models scored on the same examples.

use ndarray::{Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::counts::ThresholdMetrics;
use crate::error::{MetricsError, Result};
use crate::ranking::{micro_ranking, per_class_ranking};
use crate::report::MetricReport;

/// Scores, targets and predictions of one model on one set of examples (rows).
#[derive(Debug, Clone, Copy)]
pub struct EvalData<'a> {
    /// Scores, one row per example.
    pub scores: ArrayView2<'a, f64>,
    /// True labels.
    pub targets: ArrayView2<'a, bool>,
    /// Thresholded predictions.
    pub predictions: ArrayView2<'a, bool>,
}

/// Owned rows drawn from an [`EvalData`].
struct Resample {
    scores: Array2<f64>,
    targets: Array2<bool>,
    predictions: Array2<bool>,
}

impl Resample {
    fn draw(data: &EvalData<'_>, rows: &[usize]) -> Self {
        Resample {
            scores: data.scores.select(Axis(0), rows),
            targets: data.targets.select(Axis(0), rows),
            predictions: data.predictions.select(Axis(0), rows),
        }
    }
    fn view(&self) -> EvalData<'_> {
        EvalData {
            scores: self.scores.view(),
            targets: self.targets.view(),
            predictions: self.predictions.view(),
        }
    }
}

/// A metric of one model's results; `None` where it is undefined on the given rows.
pub trait Metric: Sync {
    /// The metric's name, as reports print it.
    fn name(&self) -> String;
    /// The metric on `data`; `None` where it is undefined.
    fn compute(&self, data: &EvalData<'_>) -> Option<f64>;
    /// The same metric prepared once for `data` and then evaluated on resamples given as row
    /// multiplicities, without copying rows: the bootstrap's fast path. `None`: resamples are
    /// drawn as rows and passed to [`Metric::compute`].
    fn prepare<'a>(&self, _data: &EvalData<'a>) -> Option<Box<dyn WeightedMetric + 'a>> {
        None
    }
}

/// A metric of one data set evaluated on a resample of its rows, given as how often each row
/// was drawn; equal to [`Metric::compute`] on the drawn rows.
pub trait WeightedMetric: Sync {
    /// The metric with example `i` counted `multiplicities[i]` times; `None` where undefined.
    fn compute(&self, multiplicities: &[u32]) -> Option<f64>;
}

/// Cells of one ranking sorted once by descending score: each cell's row, whether it is
/// positive, and whether it ends a group of equal scores.
struct SortedCells {
    rows: Vec<u32>,
    positive: Vec<bool>,
    ends_group: Vec<bool>,
}

impl SortedCells {
    fn new(mut cells: Vec<(f64, u32, bool)>) -> Self {
        cells.sort_by(|a, b| b.0.total_cmp(&a.0));
        let ends_group = (0..cells.len())
            .map(|i| i + 1 == cells.len() || cells[i + 1].0 != cells[i].0)
            .collect();
        SortedCells {
            rows: cells.iter().map(|c| c.1).collect(),
            positive: cells.iter().map(|c| c.2).collect(),
            ends_group,
        }
    }

    /// ROC AUC with every row counted as often as it was drawn: the trapezoid over groups of
    /// equal scores (scikit-learn's `roc_auc_score`), in exact integer arithmetic.
    fn auc(&self, multiplicities: &[u32]) -> Option<f64> {
        let (mut tp, mut fp, mut group_tp, mut group_fp) = (0u64, 0u64, 0u64, 0u64);
        // Twice the area under the ROC curve in units of one positive × one negative.
        let mut area2: u128 = 0;
        for i in 0..self.rows.len() {
            let w = u64::from(multiplicities[self.rows[i] as usize]);
            if self.positive[i] {
                group_tp += w;
            } else {
                group_fp += w;
            }
            if self.ends_group[i] {
                area2 += u128::from(group_fp) * u128::from(2 * tp + group_tp);
                tp += group_tp;
                fp += group_fp;
                group_tp = 0;
                group_fp = 0;
            }
        }
        (tp > 0 && fp > 0).then(|| area2 as f64 / (2.0 * tp as f64 * fp as f64))
    }
}

/// Micro AUC: every cell of the matrix in one ranking.
struct WeightedMicroAuc(SortedCells);

impl WeightedMetric for WeightedMicroAuc {
    fn compute(&self, multiplicities: &[u32]) -> Option<f64> {
        self.0.auc(multiplicities)
    }
}

/// Macro AUC: one ranking per class, the mean over classes where it is defined.
struct WeightedMacroAuc(Vec<SortedCells>);

impl WeightedMetric for WeightedMacroAuc {
    fn compute(&self, multiplicities: &[u32]) -> Option<f64> {
        defined_mean(self.0.iter().map(|c| c.auc(multiplicities)))
    }
}

/// Per class, the rows of its true positives, false positives and false negatives.
struct WeightedF1 {
    per_class: Vec<[Vec<u32>; 3]>,
    macro_: bool,
}

impl WeightedF1 {
    fn new(data: &EvalData<'_>, macro_: bool) -> Self {
        let per_class = (0..data.targets.ncols())
            .map(|c| {
                let mut cells: [Vec<u32>; 3] = Default::default();
                for (row, (&t, &p)) in data
                    .targets
                    .column(c)
                    .iter()
                    .zip(data.predictions.column(c))
                    .enumerate()
                {
                    match (p, t) {
                        (true, true) => cells[0].push(row as u32),
                        (true, false) => cells[1].push(row as u32),
                        (false, true) => cells[2].push(row as u32),
                        (false, false) => {}
                    }
                }
                cells
            })
            .collect();
        WeightedF1 { per_class, macro_ }
    }
}

impl WeightedMetric for WeightedF1 {
    fn compute(&self, multiplicities: &[u32]) -> Option<f64> {
        let total = |rows: &[u32]| rows.iter().map(|&r| u64::from(multiplicities[r as usize])).sum::<u64>();
        let counts: Vec<[u64; 3]> = self
            .per_class
            .iter()
            .map(|[tp, fp, fn_]| [total(tp), total(fp), total(fn_)])
            .collect();
        let f1 = |[tp, fp, fn_]: [u64; 3]| crate::counts::ratio(2.0 * tp as f64, (2 * tp + fp + fn_) as f64);
        if self.macro_ {
            Some(counts.iter().map(|&c| f1(c)).sum::<f64>() / counts.len().max(1) as f64)
        } else {
            let sum = counts
                .iter()
                .fold([0u64; 3], |a, c| [a[0] + c[0], a[1] + c[1], a[2] + c[2]]);
            Some(f1(sum))
        }
    }
}

/// How often each of `n` rows appears in `rows`.
fn multiplicities(n: usize, rows: &[usize]) -> Vec<u32> {
    let mut counts = vec![0u32; n];
    for &r in rows {
        counts[r] += 1;
    }
    counts
}

/// The headline metrics, ready for bootstrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Headline {
    /// Micro-averaged ROC AUC.
    AucMicro,
    /// Macro-averaged ROC AUC.
    AucMacro,
    /// Micro-averaged average precision.
    ApMicro,
    /// Macro-averaged average precision.
    ApMacro,
    /// Micro-averaged F1.
    F1Micro,
    /// Macro-averaged F1.
    F1Macro,
}

impl Headline {
    /// Every headline metric, in the order tables show them.
    pub const ALL: [Headline; 6] = [
        Headline::AucMicro,
        Headline::AucMacro,
        Headline::ApMicro,
        Headline::ApMacro,
        Headline::F1Micro,
        Headline::F1Macro,
    ];

    /// The metric's key in a [`MetricReport`] and in files (`auc_micro`...).
    pub fn key(self) -> &'static str {
        match self {
            Headline::AucMicro => "auc_micro",
            Headline::AucMacro => "auc_macro",
            Headline::ApMicro => "ap_micro",
            Headline::ApMacro => "ap_macro",
            Headline::F1Micro => "f1_micro",
            Headline::F1Macro => "f1_macro",
        }
    }

    /// The metric's value in a report; `None` where it is undefined.
    pub fn in_report(self, r: &MetricReport) -> Option<f64> {
        match self {
            Headline::AucMicro => r.auc_micro,
            Headline::AucMacro => r.auc_macro,
            Headline::ApMicro => r.ap_micro,
            Headline::ApMacro => r.ap_macro,
            Headline::F1Micro => Some(r.f1_micro),
            Headline::F1Macro => Some(r.f1_macro),
        }
    }
}

impl std::fmt::Display for Headline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl std::str::FromStr for Headline {
    type Err = crate::MetricsError;

    fn from_str(s: &str) -> crate::Result<Self> {
        Headline::ALL.into_iter().find(|h| h.key() == s.trim()).ok_or_else(|| {
            let keys: Vec<&str> = Headline::ALL.iter().map(|h| h.key()).collect();
            crate::MetricsError::InvalidOption(format!("unknown metric {s:?} ({})", keys.join(", ")))
        })
    }
}

fn defined_mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let defined: Vec<f64> = values.flatten().collect();
    (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64)
}

impl Metric for Headline {
    fn name(&self) -> String {
        self.key().to_string()
    }

    fn compute(&self, d: &EvalData<'_>) -> Option<f64> {
        match self {
            Headline::AucMicro => micro_ranking(d.scores, d.targets).auc,
            Headline::ApMicro => micro_ranking(d.scores, d.targets).ap,
            Headline::AucMacro => defined_mean(per_class_ranking(d.scores, d.targets).iter().map(|r| r.auc)),
            Headline::ApMacro => defined_mean(per_class_ranking(d.scores, d.targets).iter().map(|r| r.ap)),
            Headline::F1Micro => Some(ThresholdMetrics::compute(d.predictions, d.targets).micro.f1),
            Headline::F1Macro => Some(ThresholdMetrics::compute(d.predictions, d.targets).macro_.f1),
        }
    }

    fn prepare<'a>(&self, d: &EvalData<'a>) -> Option<Box<dyn WeightedMetric + 'a>> {
        let column = |c: usize| -> Vec<(f64, u32, bool)> {
            d.scores
                .column(c)
                .iter()
                .zip(d.targets.column(c))
                .enumerate()
                .map(|(row, (&s, &t))| (s, row as u32, t))
                .collect()
        };
        match self {
            Headline::AucMicro => Some(Box::new(WeightedMicroAuc(SortedCells::new(
                (0..d.scores.ncols()).flat_map(column).collect(),
            )))),
            Headline::AucMacro => Some(Box::new(WeightedMacroAuc(
                (0..d.scores.ncols()).map(|c| SortedCells::new(column(c))).collect(),
            ))),
            Headline::F1Micro => Some(Box::new(WeightedF1::new(d, false))),
            Headline::F1Macro => Some(Box::new(WeightedF1::new(d, true))),
            Headline::ApMicro | Headline::ApMacro => None,
        }
    }
}

/// Any function of the results is a metric.
pub struct FnMetric<F>(pub &'static str, pub F);

impl<F: Fn(&EvalData<'_>) -> Option<f64> + Sync> Metric for FnMetric<F> {
    fn name(&self) -> String {
        self.0.to_string()
    }
    fn compute(&self, data: &EvalData<'_>) -> Option<f64> {
        (self.1)(data)
    }
}

/// How to bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapOptions {
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Two-sided confidence level, e.g. 0.95.
    pub confidence: f64,
    /// Seed of the resampling.
    pub seed: u64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        BootstrapOptions {
            resamples: 1000,
            confidence: 0.95,
            seed: 42,
        }
    }
}

/// A percentile bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    /// The metric's name.
    pub metric: String,
    /// The metric on all examples.
    pub estimate: f64,
    /// Lower end of the percentile interval.
    pub lower: f64,
    /// Upper end of the percentile interval.
    pub upper: f64,
    /// Standard deviation of the resampled values.
    pub std_error: f64,
    /// Resamples on which the metric was defined (and counted).
    pub resamples_used: usize,
    /// Confidence level (0.95 for a 95 % interval).
    pub confidence: f64,
}

/// A paired comparison of model A against model B: `delta = metric(A) − metric(B)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    /// The metric's name.
    pub metric: String,
    /// Model − baseline on the full sample.
    pub delta: f64,
    /// Lower end of the percentile interval of the delta.
    pub lower: f64,
    /// Upper end of the percentile interval of the delta.
    pub upper: f64,
    /// Two-sided: `2 · min(P(δ* ≤ 0), P(δ* ≥ 0))` over resampled deltas, capped at 1.
    pub p_value: f64,
    /// Resamples on which the metric was defined for both.
    pub resamples_used: usize,
    /// Confidence level of the interval.
    pub confidence: f64,
}

pub use goemo_stats::quantile;

fn check(options: &BootstrapOptions, data: &EvalData<'_>) -> Result<()> {
    if options.resamples < 2 {
        return Err(MetricsError::InvalidOption(
            "a bootstrap needs at least 2 resamples".into(),
        ));
    }
    if !(options.confidence > 0.0 && options.confidence < 1.0) {
        return Err(MetricsError::InvalidOption(format!(
            "confidence {} is not in (0, 1)",
            options.confidence
        )));
    }
    crate::input::validate_predictions(data.predictions, data.targets)?;
    if data.scores.shape() != data.targets.shape() {
        return Err(MetricsError::ShapeMismatch {
            what: "scores and targets",
            left: data.scores.shape().to_vec(),
            right: data.targets.shape().to_vec(),
        });
    }
    Ok(())
}

/// Row indices of resample `i`: `n` draws with replacement from a stream fixed by `(seed, i)`,
/// so results do not depend on how rayon schedules the resamples.
fn resample_rows(n: usize, seed: u64, i: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(i as u64);
    (0..n).map(|_| rng.random_range(0..n)).collect()
}

fn interval_bounds(values: &mut [f64], confidence: f64) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let alpha = (1.0 - confidence) / 2.0;
    (quantile(values, alpha), quantile(values, 1.0 - alpha))
}

/// A percentile bootstrap confidence interval of `metric` over examples.
pub fn bootstrap_ci(
    data: &EvalData<'_>,
    metric: &dyn Metric,
    options: &BootstrapOptions,
) -> Result<ConfidenceInterval> {
    check(options, data)?;
    let name = metric.name();
    let estimate = metric
        .compute(data)
        .ok_or_else(|| MetricsError::Undefined("bootstrap estimate", format!("{name} is undefined on all examples")))?;
    let n = data.scores.nrows();
    let prepared = metric.prepare(data);
    let mut values: Vec<f64> = (0..options.resamples)
        .into_par_iter()
        .filter_map(|i| {
            let rows = resample_rows(n, options.seed, i);
            match &prepared {
                Some(fast) => fast.compute(&multiplicities(n, &rows)),
                None => metric.compute(&Resample::draw(data, &rows).view()),
            }
        })
        .collect();
    if values.len() < 2 {
        return Err(MetricsError::Undefined(
            "bootstrap interval",
            format!("{name} is undefined on the resamples"),
        ));
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let std_error = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt();
    let (lower, upper) = interval_bounds(&mut values, options.confidence);
    Ok(ConfidenceInterval {
        metric: name,
        estimate,
        lower,
        upper,
        std_error,
        resamples_used: values.len(),
        confidence: options.confidence,
    })
}

/// The mean of values that are all defined.
fn mean_of(values: impl ExactSizeIterator<Item = Option<f64>>) -> Option<f64> {
    let n = values.len() as f64;
    values.sum::<Option<f64>>().map(|s| s / n)
}

/// Each member's weighted form of `metric`, when every member has one.
fn prepare_group<'d>(metric: &dyn Metric, group: &[EvalData<'d>]) -> Option<Vec<Box<dyn WeightedMetric + 'd>>> {
    group.iter().map(|d| metric.prepare(d)).collect()
}

/// The mean of `metric` over a group's members, each on the same drawn rows.
fn drawn_mean(metric: &dyn Metric, group: &[EvalData<'_>], rows: &[usize]) -> Option<f64> {
    mean_of(group.iter().map(|d| metric.compute(&Resample::draw(d, rows).view())))
}

/// Paired bootstrap of `metric(a) − metric(b)` over the same resampled examples: the 95 %
/// (or `confidence`) interval of the difference and a two-sided p-value (twice the smaller
/// share of resamples on either side of zero; 0 when none crossed, which a bootstrap of B
/// resamples can only report as p < 1/(B+1)).
pub fn paired_bootstrap(
    a: &EvalData<'_>,
    b: &EvalData<'_>,
    metric: &dyn Metric,
    options: &BootstrapOptions,
) -> Result<PairedComparison> {
    paired_bootstrap_groups(std::slice::from_ref(a), std::slice::from_ref(b), metric, options)
}

/// [`paired_bootstrap`] of two groups of models scored on the same examples (several seeds of
/// one recipe): each side's value is the mean of its members' metric, on the full test set and
/// on every resample, so the difference is the one a table of seed means shows.
pub fn paired_bootstrap_groups<'a, 'b>(
    a: &[EvalData<'a>],
    b: &[EvalData<'b>],
    metric: &dyn Metric,
    options: &BootstrapOptions,
) -> Result<PairedComparison> {
    let (Some(first), false) = (a.first(), b.is_empty()) else {
        return Err(MetricsError::InvalidOption(
            "a paired comparison needs a model on each side".into(),
        ));
    };
    for data in a {
        check(options, data)?;
    }
    for data in b {
        check(options, data)?;
    }
    if a.iter().any(|d| d.targets != first.targets) || b.iter().any(|d| d.targets != first.targets) {
        return Err(MetricsError::InvalidOption(
            "a paired comparison needs every model scored on the same examples (targets differ)".into(),
        ));
    }
    let name = metric.name();
    let undefined = |what: &str| MetricsError::Undefined("paired comparison", format!("{name} is undefined{what}"));
    let full = |group: &[EvalData<'_>]| mean_of(group.iter().map(|d| metric.compute(d)));
    let delta = full(a).zip(full(b)).map(|(x, y)| x - y).ok_or_else(|| undefined(""))?;
    let n = first.scores.nrows();
    let prepared = prepare_group(metric, a).zip(prepare_group(metric, b));
    let mut deltas: Vec<f64> = (0..options.resamples)
        .into_par_iter()
        .filter_map(|i| {
            let rows = resample_rows(n, options.seed, i);
            match &prepared {
                Some((fast_a, fast_b)) => {
                    let counts = multiplicities(n, &rows);
                    let side = |fast: &[Box<dyn WeightedMetric + '_>]| mean_of(fast.iter().map(|m| m.compute(&counts)));
                    Some(side(fast_a)? - side(fast_b)?)
                }
                None => Some(drawn_mean(metric, a, &rows)? - drawn_mean(metric, b, &rows)?),
            }
        })
        .collect();
    if deltas.len() < 2 {
        return Err(undefined(" on the resamples"));
    }
    let at_most_zero = deltas.iter().filter(|&&d| d <= 0.0).count() as f64 / deltas.len() as f64;
    let at_least_zero = deltas.iter().filter(|&&d| d >= 0.0).count() as f64 / deltas.len() as f64;
    let (lower, upper) = interval_bounds(&mut deltas, options.confidence);
    Ok(PairedComparison {
        metric: name,
        delta,
        lower,
        upper,
        p_value: (2.0 * at_most_zero.min(at_least_zero)).min(1.0),
        resamples_used: deltas.len(),
        confidence: options.confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic(n: usize, noise: f64, seed: u64) -> (Array2<f64>, Array2<bool>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let targets = Array2::from_shape_fn((n, 3), |(i, c)| (i * 7 + c * 3) % 5 == 0);
        let scores = targets.mapv(|t| if t { 0.7 } else { 0.3 } + noise * (rng.random::<f64>() - 0.5));
        (scores, targets)
    }

    #[test]
    fn interval_brackets_the_estimate_and_is_reproducible() {
        let (scores, targets) = synthetic(400, 1.0, 1);
        let predictions = scores.mapv(|s| s >= 0.5);
        let data = EvalData {
            scores: scores.view(),
            targets: targets.view(),
            predictions: predictions.view(),
        };
        let options = BootstrapOptions {
            resamples: 200,
            ..Default::default()
        };
        let ci = bootstrap_ci(&data, &Headline::AucMicro, &options).unwrap();
        assert!(ci.lower < ci.estimate && ci.estimate < ci.upper, "{ci:?}");
        assert!(ci.upper - ci.lower < 0.2);
        assert_eq!(ci, bootstrap_ci(&data, &Headline::AucMicro, &options).unwrap());
        assert_eq!(ci.metric, "auc_micro");
    }

    #[test]
    fn paired_comparison_detects_a_better_model() {
        let (good, targets) = synthetic(400, 0.6, 2);
        let (bad, _) = synthetic(400, 1.6, 3);
        let (pg, pb) = (good.mapv(|s| s >= 0.5), bad.mapv(|s| s >= 0.5));
        let a = EvalData {
            scores: good.view(),
            targets: targets.view(),
            predictions: pg.view(),
        };
        let b = EvalData {
            scores: bad.view(),
            targets: targets.view(),
            predictions: pb.view(),
        };
        let options = BootstrapOptions {
            resamples: 300,
            ..Default::default()
        };
        let cmp = paired_bootstrap(&a, &b, &Headline::AucMacro, &options).unwrap();
        assert!(cmp.delta > 0.0 && cmp.lower > 0.0 && cmp.p_value < 0.01, "{cmp:?}");
        let same = paired_bootstrap(&a, &a, &Headline::F1Micro, &options).unwrap();
        assert_eq!((same.delta, same.p_value), (0.0, 1.0));
    }

    #[test]
    fn a_group_compares_the_mean_of_its_members() {
        let (good, targets) = synthetic(300, 0.6, 5);
        let (other, _) = synthetic(300, 1.0, 6);
        let (bad, _) = synthetic(300, 1.6, 7);
        let predicted: Vec<_> = [&good, &other, &bad].map(|s| s.mapv(|v| v >= 0.5)).into();
        fn data<'a>(scores: &'a Array2<f64>, targets: &'a Array2<bool>, predicted: &'a Array2<bool>) -> EvalData<'a> {
            EvalData {
                scores: scores.view(),
                targets: targets.view(),
                predictions: predicted.view(),
            }
        }
        let g = data(&good, &targets, &predicted[0]);
        let o = data(&other, &targets, &predicted[1]);
        let b = data(&bad, &targets, &predicted[2]);
        let options = BootstrapOptions {
            resamples: 200,
            ..Default::default()
        };
        let metric = Headline::AucMicro;
        let single = paired_bootstrap(&g, &b, &metric, &options).unwrap();
        let group_of_one = paired_bootstrap_groups(&[g], &[b], &metric, &options).unwrap();
        assert_eq!(single, group_of_one);
        let group = paired_bootstrap_groups(&[g, o], &[b], &metric, &options).unwrap();
        let mean = (metric.compute(&g).unwrap() + metric.compute(&o).unwrap()) / 2.0;
        assert!(
            (group.delta - (mean - metric.compute(&b).unwrap())).abs() < 1e-12,
            "{group:?}"
        );
        assert!(group.lower <= group.delta && group.delta <= group.upper);
        assert!(paired_bootstrap_groups(&[], &[b], &metric, &options).is_err());
    }

    #[test]
    fn weighted_resamples_equal_drawn_rows() {
        // Scores rounded to two decimals: many ties, within and across classes.
        let (scores, targets) = synthetic(300, 1.2, 4);
        let scores = scores.mapv(|s| (s * 20.0).round() / 20.0);
        let predictions = scores.mapv(|s| s >= 0.5);
        let data = EvalData {
            scores: scores.view(),
            targets: targets.view(),
            predictions: predictions.view(),
        };
        for metric in [
            Headline::AucMicro,
            Headline::AucMacro,
            Headline::F1Micro,
            Headline::F1Macro,
        ] {
            let fast = metric.prepare(&data).expect("a fast path");
            for i in 0..20 {
                let rows = resample_rows(300, 9, i);
                let drawn = metric.compute(&Resample::draw(&data, &rows).view());
                let weighted = fast.compute(&multiplicities(300, &rows));
                match (drawn, weighted) {
                    (Some(x), Some(y)) => assert!((x - y).abs() < 1e-12, "{metric}: {x} against {y}"),
                    other => panic!("{metric}: {other:?}"),
                }
            }
        }
        // A resample without any positive of a class leaves that class out of macro AUC.
        let only_negatives: Vec<usize> = (0..300).filter(|&r| !targets[[r, 0]]).collect();
        let drawn = Headline::AucMacro.compute(&Resample::draw(&data, &only_negatives).view());
        let weighted = Headline::AucMacro
            .prepare(&data)
            .unwrap()
            .compute(&multiplicities(300, &only_negatives));
        assert!((drawn.unwrap() - weighted.unwrap()).abs() < 1e-12);
    }
}
