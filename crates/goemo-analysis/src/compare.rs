//! Everything the document says, computed from run folders: [`compare`] returns a
//! [`Comparison`], which is `comparison.json`.

use std::collections::BTreeMap;

use goemo_metrics::{MetricReport, ReliabilityBin};
use serde::Serialize;

use crate::stats::{Combo, PairStats};
use crate::{sections, significance, Result, RunFolder};

/// How to compare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    /// Paired bootstrap resamples (0: no bootstrap).
    pub bootstrap: usize,
    /// Seed of the paired bootstrap's resampling.
    pub seed: u64,
    /// Label combinations listed per model.
    pub top_combos: usize,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            bootstrap: 2000,
            seed: 0,
            top_combos: 20,
        }
    }
}

/// The test metrics of the headline table (AUCs `None` where undefined).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestMetrics {
    /// Micro-averaged ROC AUC; `None` when undefined.
    pub auc_micro: Option<f64>,
    /// Macro-averaged ROC AUC over the labels where it is defined.
    pub auc_macro: Option<f64>,
    /// Micro-averaged F1 at the run's thresholds.
    pub f1_micro: f64,
    /// Macro-averaged F1 at the run's thresholds.
    pub f1_macro: f64,
    /// Micro-averaged precision.
    pub precision_micro: f64,
    /// Macro-averaged precision.
    pub precision_macro: f64,
    /// Micro-averaged recall.
    pub recall_micro: f64,
    /// Macro-averaged recall.
    pub recall_macro: f64,
}

/// The metric names of [`TestMetrics`], in table order.
pub const METRICS: [&str; 8] = [
    "auc_micro",
    "auc_macro",
    "f1_micro",
    "f1_macro",
    "precision_micro",
    "precision_macro",
    "recall_micro",
    "recall_macro",
];

impl TestMetrics {
    pub(crate) fn of(r: &MetricReport) -> Self {
        TestMetrics {
            auc_micro: r.auc_micro,
            auc_macro: r.auc_macro,
            f1_micro: r.f1_micro,
            f1_macro: r.f1_macro,
            precision_micro: r.precision_micro,
            precision_macro: r.precision_macro,
            recall_micro: r.recall_micro,
            recall_macro: r.recall_macro,
        }
    }

    /// The metric named as in `metrics.json` (`auc_micro`, `f1_macro`, ...); `None` for an unknown name or an undefined value.
    pub fn get(&self, metric: &str) -> Option<f64> {
        match metric {
            "auc_micro" => self.auc_micro,
            "auc_macro" => self.auc_macro,
            "f1_micro" => Some(self.f1_micro),
            "f1_macro" => Some(self.f1_macro),
            "precision_micro" => Some(self.precision_micro),
            "precision_macro" => Some(self.precision_macro),
            "recall_micro" => Some(self.recall_micro),
            "recall_macro" => Some(self.recall_macro),
            _ => None,
        }
    }
}

/// Mean, sample standard deviation, extremes and count of one metric over seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedStats {
    /// Mean over the seeds.
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for one seed.
    pub std: f64,
    /// Smallest seed value.
    pub min: f64,
    /// Largest seed value.
    pub max: f64,
    /// Number of seeds.
    pub n: usize,
}

/// One epoch of a run's training record, as the dev curve shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochPoint {
    /// 1-based, as a person counts.
    pub epoch: u64,
    /// Mean training loss of the epoch.
    pub train_loss: Option<f64>,
    /// Loss on dev after the epoch.
    pub dev_loss: Option<f64>,
    /// Dev micro AUC after the epoch.
    pub dev_auc_micro: Option<f64>,
    /// Dev micro F1 after the epoch.
    pub dev_f1_micro: Option<f64>,
    /// Dev macro F1 after the epoch.
    pub dev_f1_macro: Option<f64>,
}

/// What a model's numbers are: one run, the mean of several seeds, or an ensemble's averaged
/// probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// One training run.
    Run,
    /// Several seeds of one recipe, each number their mean.
    SeedMean,
    /// The averaged probabilities of several runs.
    Ensemble,
}

/// One model (one run, or seeds of one recipe) as the document describes it. For several
/// seeds, every number is the seeds' mean (peak memory: the largest) unless its name says
/// otherwise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    /// The name the document gives the model.
    pub name: String,
    /// One run, a seed mean or an ensemble.
    pub kind: ModelKind,
    /// The run folders behind the numbers.
    pub runs: Vec<String>,
    /// Trainable parameters.
    pub parameters: Option<f64>,
    /// For an ensemble, its members' sum.
    pub train_seconds: Option<f64>,
    /// 1-based, as a person counts; `None` when seeds disagree (see `best_epochs`).
    pub best_epoch: Option<u64>,
    /// Each run's best epoch (an ensemble's: its members').
    pub best_epochs: Vec<u64>,
    /// Epochs each run trained.
    pub epochs: Option<u64>,
    /// The best dev value of the selection metric.
    pub best_dev: Option<f64>,
    /// The dev metric that chose the best epoch.
    pub select_by: Option<String>,
    /// The training configuration: a key per line, seeds' differing values joined.
    pub configuration: Vec<(String, String)>,
    /// Each run's dev curve (an ensemble's: its members'), by run name.
    pub history: Vec<(String, Vec<EpochPoint>)>,
    /// Training throughput, examples/s.
    pub examples_per_second: Option<f64>,
    /// The best inference rate of the run's `bench.csv` (tokenization included), texts/s.
    pub inference_texts_per_second: Option<f64>,
    /// The device the run trained on (`cpu`, `cuda:0`).
    pub device: Option<String>,
    /// Training precision (`fp32`, `bf16`).
    pub precision: Option<String>,
    /// libtorch intra-op threads.
    pub threads: Option<f64>,
    /// The libtorch version the run linked.
    pub libtorch: Option<String>,
    /// The machine `metrics.json` records under `run/host`: CPU, logical cores, OS.
    pub cpu: Option<String>,
    /// Logical CPU cores of the machine.
    pub logical_cores: Option<f64>,
    /// The GPU a CUDA run used ("NVIDIA H100 80GB HBM3, 81559 MiB"), from the run record.
    pub gpu: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// The training process's peak resident memory.
    pub peak_resident_mib: Option<f64>,
    /// Label names, in column order.
    pub labels: Vec<String>,
    /// Texts in the test split.
    pub test_examples: usize,
    /// The run's; the mean over runs for seeds.
    pub test: TestMetrics,
    /// Per metric, over the runs (empty for one run).
    pub seeds: BTreeMap<String, SeedStats>,
    /// Per metric, each run's value (empty for one run).
    pub seed_values: BTreeMap<String, Vec<f64>>,
    /// Labels no run of the model predicted on test.
    pub never_predicted: Vec<String>,
    /// The first run's files.
    pub artifacts: Vec<(String, u64)>,
    /// The member runs when the run is an ensemble (`ensemble` writes them into `metrics.json`).
    pub ensemble_members: Vec<String>,
}

impl ModelSummary {
    /// What the model's numbers are, in words: "one run", "mean of 3 seeds", "ensemble of 3".
    pub fn describe(&self) -> String {
        match self.kind {
            ModelKind::Run => "one run".into(),
            ModelKind::SeedMean => format!("mean of {} seeds", self.runs.len()),
            ModelKind::Ensemble => format!("ensemble of {}", self.ensemble_members.len()),
        }
    }
}

/// A metric of a model against the baseline's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonRow {
    /// Metric name, as in `metrics.json`.
    pub metric: String,
    /// The model compared against.
    pub baseline: String,
    /// The model compared.
    pub model: String,
    /// The baseline's value.
    pub baseline_value: Option<f64>,
    /// The model's value.
    pub value: Option<f64>,
    /// Model − baseline.
    pub delta: Option<f64>,
    /// The delta as a percentage of the baseline's value.
    pub percent_change: Option<f64>,
}

/// A paired bootstrap of a model against the baseline on the same test examples; a model of
/// several seeds enters as the mean of its seeds' metric on every resample, so `delta` is the
/// difference of the comparison table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapRow {
    /// Metric name, as in `metrics.json`.
    pub metric: String,
    /// The model compared against.
    pub baseline: String,
    /// The model compared.
    pub model: String,
    /// Model − baseline on the full test set.
    pub delta: f64,
    /// Lower end of the 95 % percentile interval of the delta.
    pub ci_low: f64,
    /// Upper end of the 95 % percentile interval of the delta.
    pub ci_high: f64,
    /// 0 when no resample crossed zero: the bootstrap can then only say p < 1/(B+1).
    pub p_value: f64,
    /// Holm's step-down adjustment across every paired test of the comparison.
    pub p_holm: f64,
    /// Resamples on which the metric was defined for both models.
    pub resamples: usize,
}

/// Holm's step-down adjustment of p-values (family-wise error), in their order.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// One emotion's test metrics under the run's own predictions; for several seeds, the seeds'
/// mean and sample standard deviation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmotionRow {
    /// 1 for the best F1.
    pub rank: usize,
    /// Emotion name.
    pub label: String,
    /// F1 at the model's thresholds.
    pub f1: f64,
    /// Precision at the model's thresholds.
    pub precision: f64,
    /// Recall at the model's thresholds.
    pub recall: f64,
    /// ROC AUC; `None` when the label has one class on test.
    pub auc: Option<f64>,
    /// Positive test texts.
    pub support: u64,
    /// Texts predicted to carry the emotion.
    pub predicted: f64,
    /// Standard deviations over seeds (`None` for one run).
    pub f1_std: Option<f64>,
    /// Standard deviation of the precision over seeds.
    pub precision_std: Option<f64>,
    /// Standard deviation of the recall over seeds.
    pub recall_std: Option<f64>,
    /// Standard deviation of the AUC over seeds.
    pub auc_std: Option<f64>,
}

/// A threshold strategy fitted on dev, scored on test (for several seeds, fitted on each seed's
/// dev and the seeds' mean shown).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyRow {
    /// The strategy's name (`per_class`, `optimal_global_micro`, ...).
    pub strategy: String,
    /// Test micro F1.
    pub f1_micro: f64,
    /// Test macro F1.
    pub f1_macro: f64,
    /// Test micro precision.
    pub precision_micro: f64,
    /// Test macro precision.
    pub precision_macro: f64,
    /// Test micro recall.
    pub recall_micro: f64,
    /// Test macro recall.
    pub recall_macro: f64,
    /// Labels never predicted on test.
    pub never_predicted: f64,
    /// One global threshold when the strategy has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Per-class thresholds when the strategy has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<f64>>,
}

/// Calibration of one label on test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassCalibration {
    /// Emotion name.
    pub label: String,
    /// Brier score of the label's probabilities.
    pub brier: f64,
    /// Brier score of predicting the label's training frequency for every text.
    pub baseline_brier: f64,
    /// Mean log loss (natural log).
    pub log_loss: f64,
    /// Expected calibration error over 10 equal-width bins.
    pub ece: f64,
    /// Expected calibration error over 10 equal-mass bins.
    pub ece_equal_mass: f64,
    /// Positive test texts.
    pub support: usize,
    /// The reliability diagram's 10 bins (for several seeds, of their pooled predictions).
    pub bins: Vec<ReliabilityBin>,
}

/// Test metrics at one global threshold (descriptive: thresholds are chosen on dev); for several
/// seeds, their mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    /// The global threshold.
    pub threshold: f64,
    /// Test micro F1.
    pub f1_micro: f64,
    /// Test macro F1.
    pub f1_macro: f64,
    /// `None` where no label is predicted (precision undefined).
    pub precision_micro: Option<f64>,
    /// Test macro precision.
    pub precision_macro: f64,
    /// Test micro recall.
    pub recall_micro: f64,
    /// Test macro recall.
    pub recall_macro: f64,
    /// Labels predicted at least once.
    pub labels_predicted: f64,
    /// Mean number of labels predicted per text.
    pub mean_labels_per_example: f64,
}

/// Calibration numbers of one set of test probabilities, all cells together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationNumbers {
    /// Every label has the same texts, so the Brier score of all cells is also the mean of the
    /// labels' Brier scores: one number.
    pub brier: f64,
    /// Mean log loss (natural log).
    pub log_loss: f64,
    /// ECE over 10 equal-width and 10 equal-mass bins of all cells.
    pub ece: f64,
    /// ECE over 10 equal-mass bins.
    pub ece_equal_mass: f64,
    /// Mean probability over all cells.
    pub mean_probability: f64,
    /// Labels whose Brier score is no worse than their training frequency's.
    pub labels_no_worse_than_baseline: f64,
}

impl CalibrationNumbers {
    /// The numbers of all cells' calibration, with the count of labels no worse than baseline.
    pub(crate) fn of(micro: &goemo_metrics::Calibration, labels_no_worse_than_baseline: usize) -> Self {
        CalibrationNumbers {
            brier: micro.brier,
            log_loss: micro.log_loss,
            ece: micro.ece,
            ece_equal_mass: micro.ece_equal_mass,
            mean_probability: micro.mean_probability,
            labels_no_worse_than_baseline: labels_no_worse_than_baseline as f64,
        }
    }
}

/// A model's test calibration: its probabilities as they are, beside the label-frequency
/// baseline and, when the run recorded them, the probabilities before its calibration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationSummary {
    /// The run's calibration (`metrics.json`), e.g. `auto (platt ×26, temperature ×2)`, or
    /// `none`.
    pub method: String,
    /// The probabilities the model gives (after its calibration, if any).
    pub after: CalibrationNumbers,
    /// The model's raw probabilities, when the run recorded them.
    pub before: Option<CalibrationNumbers>,
    /// Mean Brier score of the labels' training frequencies (dev frequencies for runs that did
    /// not record them).
    pub baseline_brier: f64,
    /// Fraction of positive cells.
    pub frequency: f64,
    /// The rule [`reads_as_probabilities`] applied.
    pub reads_as_probabilities: bool,
    /// Each label's numbers.
    pub per_class: Vec<ClassCalibration>,
}

/// Scores read as probabilities when all cells' ECE is at most 0.02, their mean is within 0.01
/// of the frequency of positives, and at least 90 % of the labels have a Brier score no worse
/// than their training frequency's.
pub fn reads_as_probabilities(numbers: &CalibrationNumbers, frequency: f64, labels: usize) -> bool {
    numbers.ece <= 0.02
        && (numbers.mean_probability - frequency).abs() <= 0.01
        && numbers.labels_no_worse_than_baseline >= 0.9 * labels as f64
}

/// A t-test across seeds of one model against an earlier one on one metric: Welch's when both
/// have several seeds, one-sample (the seeds against the other model's value) when one is a
/// single run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedTest {
    /// Metric name, as in `metrics.json`.
    pub metric: String,
    /// The model compared against.
    pub baseline: String,
    /// The model compared.
    pub model: String,
    /// `welch` or `one_sample`.
    pub test: String,
    /// Model − baseline, each the mean of its seeds.
    pub delta: f64,
    /// Signed as `delta`.
    pub statistic: f64,
    /// Degrees of freedom (Welch–Satterthwaite for Welch's test).
    pub dof: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Holm's adjustment across every seed test of the comparison.
    pub p_holm: f64,
}

/// Everything `comparison.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Every model compared, in the order given.
    pub models: Vec<ModelSummary>,
    /// Each headline metric of each model against the first.
    pub comparison: Vec<ComparisonRow>,
    /// Paired bootstrap of each delta on the test texts.
    pub paired_bootstrap: Vec<BootstrapRow>,
    /// t-tests across seeds, where a model has several.
    pub seed_tests: Vec<SeedTest>,
    /// Per model, each emotion's test numbers, best F1 first.
    pub per_emotion: BTreeMap<String, Vec<EmotionRow>>,
    /// Per model, each threshold strategy's test numbers.
    pub thresholds: BTreeMap<String, Vec<StrategyRow>>,
    /// Test metrics at global thresholds 0.01..0.99 (descriptive: thresholds are chosen on dev).
    pub sweep: BTreeMap<String, Vec<SweepPoint>>,
    /// Per model, its test calibration.
    pub calibration: BTreeMap<String, CalibrationSummary>,
    /// Per model, the most frequent predicted and true label combinations.
    pub combos: BTreeMap<String, Vec<Combo>>,
    /// Per model, label pairs that occur together, predicted and true.
    pub cooccurrence: BTreeMap<String, Vec<PairStats>>,
    /// Why some comparisons were not made (different labels or test sets).
    pub notes: Vec<String>,
}

/// Compares `models` (name, runs; several runs are seeds of one model); the first is the
/// baseline. Every section of a model of several seeds shows the seeds' mean.
pub fn compare(models: &[(String, Vec<RunFolder>)], options: &CompareOptions) -> Result<Comparison> {
    if models.is_empty() || models.iter().any(|(_, runs)| runs.is_empty()) {
        return Err(crate::AnalysisError::Input("every model needs at least one run".into()));
    }
    let mut out = Comparison {
        models: vec![],
        comparison: vec![],
        paired_bootstrap: vec![],
        seed_tests: vec![],
        per_emotion: BTreeMap::new(),
        thresholds: BTreeMap::new(),
        sweep: BTreeMap::new(),
        calibration: BTreeMap::new(),
        combos: BTreeMap::new(),
        cooccurrence: BTreeMap::new(),
        notes: vec![],
    };
    for (name, runs) in models {
        let reports = runs.iter().map(test_report).collect::<Result<Vec<_>>>()?;
        out.models.push(crate::summary::summary(name, runs, &reports)?);
        out.per_emotion.insert(name.clone(), sections::per_emotion(&reports));
        out.thresholds.insert(name.clone(), sections::strategies(runs)?);
        out.sweep.insert(name.clone(), sections::sweep(runs)?);
        out.calibration.insert(name.clone(), sections::calibration(runs)?);
        out.combos
            .insert(name.clone(), sections::combos(runs, options.top_combos));
        out.cooccurrence.insert(name.clone(), sections::cooccurrence(runs));
    }
    out.comparison = comparison_rows(&out.models);
    let (bootstrap, notes) = significance::paired_rows(models, options)?;
    out.paired_bootstrap = bootstrap;
    out.notes = notes;
    out.seed_tests = significance::seed_tests(&out.models);
    Ok(out)
}

/// Every metric of every model against the baseline's.
fn comparison_rows(models: &[ModelSummary]) -> Vec<ComparisonRow> {
    let baseline = &models[0];
    let mut rows = vec![];
    for model in &models[1..] {
        for metric in METRICS {
            let (b, v) = (baseline.test.get(metric), model.test.get(metric));
            let delta = b.zip(v).map(|(b, v)| v - b);
            rows.push(ComparisonRow {
                metric: metric.into(),
                baseline: baseline.name.clone(),
                model: model.name.clone(),
                baseline_value: b,
                value: v,
                delta,
                percent_change: delta.zip(b).filter(|(_, b)| *b != 0.0).map(|(d, b)| 100.0 * d / b),
            });
        }
    }
    rows
}

/// The test report of a run under its own predictions.
pub(crate) fn test_report(run: &RunFolder) -> Result<MetricReport> {
    let t = &run.test;
    Ok(MetricReport::compute(
        t.probabilities.view(),
        t.targets.mapv(u8::from).view(),
        t.predicted.view(),
        &t.labels,
        None,
    )?)
}
