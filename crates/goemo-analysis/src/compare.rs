//! Everything the document says, computed from run folders: [`compare`] returns a
//! [`Comparison`], which is `comparison.json`.

use std::collections::{BTreeMap, HashMap};

use goemo_metrics::{paired_bootstrap, BootstrapOptions, EvalData, Headline, MetricReport, ReliabilityBin};
use goemo_threshold::{threshold_sweep, F1Average, Global, OptimalGlobal, PerClass, SweepRow, ThresholdStrategy, TopK};
use ndarray::Axis;
use serde::Serialize;

use crate::stats::{combos, cooccurrence_pairs, Combo, PairStats};
use crate::{Result, RunFolder};
use goemo_stats::welch_t_test;

/// How to compare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    /// Paired bootstrap resamples (0: no bootstrap).
    pub bootstrap: usize,
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
    pub auc_micro: Option<f64>,
    pub auc_macro: Option<f64>,
    pub f1_micro: f64,
    pub f1_macro: f64,
    pub precision_micro: f64,
    pub precision_macro: f64,
    pub recall_micro: f64,
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
    fn of(r: &MetricReport) -> Self {
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
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

/// One model (one run, or seeds of one recipe) as the document describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    pub name: String,
    pub runs: Vec<String>,
    pub parameters: Option<f64>,
    pub train_seconds: Option<f64>,
    /// 1-based, as a person counts.
    pub best_epoch: Option<u64>,
    pub best_dev: Option<f64>,
    pub select_by: Option<String>,
    pub examples_per_second: Option<f64>,
    /// The best inference rate of the run's `bench.csv` (tokenization included), texts/s.
    pub inference_texts_per_second: Option<f64>,
    pub device: Option<String>,
    pub precision: Option<String>,
    pub threads: Option<f64>,
    pub libtorch: Option<String>,
    /// The machine `metrics.json` records under `run/host`: CPU, logical cores, OS.
    pub cpu: Option<String>,
    pub logical_cores: Option<f64>,
    /// The GPU a CUDA run used ("NVIDIA H100 80GB HBM3, 81559 MiB"), from the run record.
    pub gpu: Option<String>,
    pub os: Option<String>,
    /// The training process's peak resident memory.
    pub peak_resident_mib: Option<f64>,
    pub labels: Vec<String>,
    pub test_examples: usize,
    /// Of the first run; the mean over runs for seeds.
    pub test: TestMetrics,
    /// Per metric, over the runs (empty for one run).
    pub seeds: BTreeMap<String, SeedStats>,
    /// Per metric, each run's value (empty for one run).
    pub seed_values: BTreeMap<String, Vec<f64>>,
    pub never_predicted: Vec<String>,
    pub artifacts: Vec<(String, u64)>,
    /// The member runs when the run is an ensemble (`ensemble` writes them into `metrics.json`).
    pub ensemble_members: Vec<String>,
}

/// A metric of a model against the baseline's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonRow {
    pub metric: String,
    pub baseline: String,
    pub model: String,
    pub baseline_value: Option<f64>,
    pub value: Option<f64>,
    pub delta: Option<f64>,
    pub percent_change: Option<f64>,
}

/// A paired bootstrap of a model against the baseline on the same test examples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapRow {
    pub metric: String,
    pub baseline: String,
    pub model: String,
    pub delta: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// 0 when no resample crossed zero: the bootstrap can then only say p < 1/(B+1).
    pub p_value: f64,
    /// Holm's step-down adjustment across every paired test of the comparison.
    pub p_holm: f64,
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

/// One emotion's test metrics under the run's own predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmotionRow {
    pub rank: usize,
    pub label: String,
    pub f1: f64,
    pub precision: f64,
    pub recall: f64,
    pub auc: Option<f64>,
    pub support: u64,
    pub predicted: u64,
}

/// A threshold strategy fitted on dev, scored on test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyRow {
    pub strategy: String,
    pub f1_micro: f64,
    pub f1_macro: f64,
    pub precision_micro: f64,
    pub precision_macro: f64,
    pub recall_micro: f64,
    pub recall_macro: f64,
    pub never_predicted: usize,
    /// Per-class thresholds when the strategy has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<f64>>,
}

/// Calibration of one label on test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassCalibration {
    pub label: String,
    pub brier: f64,
    /// Brier score of predicting the label's training frequency for every text.
    pub baseline_brier: f64,
    pub log_loss: f64,
    pub ece: f64,
    pub ece_equal_mass: f64,
    pub support: usize,
    /// The reliability diagram's 10 bins.
    pub bins: Vec<ReliabilityBin>,
}

/// Calibration numbers of one set of test probabilities, all cells together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationNumbers {
    /// Every label has the same texts, so the Brier score of all cells is also the mean of the
    /// labels' Brier scores: one number.
    pub brier: f64,
    pub log_loss: f64,
    /// ECE over 10 equal-width and 10 equal-mass bins of all cells.
    pub ece: f64,
    pub ece_equal_mass: f64,
    pub mean_probability: f64,
    pub labels_no_worse_than_baseline: usize,
}

impl CalibrationNumbers {
    /// The numbers of all cells' calibration, with the count of labels no worse than baseline.
    fn of(micro: &goemo_metrics::Calibration, labels_no_worse_than_baseline: usize) -> Self {
        CalibrationNumbers {
            brier: micro.brier,
            log_loss: micro.log_loss,
            ece: micro.ece,
            ece_equal_mass: micro.ece_equal_mass,
            mean_probability: micro.mean_probability,
            labels_no_worse_than_baseline,
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
    pub per_class: Vec<ClassCalibration>,
}

/// Scores read as probabilities when all cells' ECE is at most 0.02, their mean is within 0.01
/// of the frequency of positives, and at least 90 % of the labels have a Brier score no worse
/// than their training frequency's.
pub fn reads_as_probabilities(numbers: &CalibrationNumbers, frequency: f64, labels: usize) -> bool {
    numbers.ece <= 0.02
        && (numbers.mean_probability - frequency).abs() <= 0.01
        && numbers.labels_no_worse_than_baseline as f64 >= 0.9 * labels as f64
}

/// Welch's t-test of a seeded model against the baseline's seeds on one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedTest {
    pub metric: String,
    pub baseline: String,
    pub model: String,
    pub statistic: f64,
    pub dof: f64,
    pub p_value: f64,
}

/// Everything `comparison.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub models: Vec<ModelSummary>,
    pub comparison: Vec<ComparisonRow>,
    pub paired_bootstrap: Vec<BootstrapRow>,
    pub seed_tests: Vec<SeedTest>,
    pub per_emotion: BTreeMap<String, Vec<EmotionRow>>,
    pub thresholds: BTreeMap<String, Vec<StrategyRow>>,
    /// Test metrics at global thresholds 0.01..0.99 (descriptive: thresholds are chosen on dev).
    pub sweep: BTreeMap<String, Vec<SweepRow>>,
    pub calibration: BTreeMap<String, CalibrationSummary>,
    pub combos: BTreeMap<String, Vec<Combo>>,
    pub cooccurrence: BTreeMap<String, Vec<PairStats>>,
    /// Why some comparisons were not made (different labels or test sets).
    pub notes: Vec<String>,
}

/// Compares `models` (name, runs; several runs are seeds of one model); the first is the
/// baseline.
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
    let mut reports: Vec<Vec<MetricReport>> = vec![];
    for (name, runs) in models {
        let run_reports = runs.iter().map(test_report).collect::<Result<Vec<_>>>()?;
        out.models.push(summary(name, runs, &run_reports)?);
        let first = &runs[0];
        out.per_emotion.insert(name.clone(), per_emotion(&run_reports[0]));
        out.thresholds.insert(name.clone(), strategies(first)?);
        out.sweep.insert(
            name.clone(),
            threshold_sweep(first.test.probabilities.view(), first.test.targets.view())?,
        );
        out.calibration.insert(name.clone(), calibration(first)?);
        let t = &first.test;
        out.combos.insert(
            name.clone(),
            combos(t.targets.view(), t.predicted.view(), &t.labels, options.top_combos),
        );
        out.cooccurrence.insert(
            name.clone(),
            cooccurrence_pairs(t.targets.view(), t.predicted.view(), &t.labels),
        );
        reports.push(run_reports);
    }
    let baseline = &out.models[0];
    for model in &out.models[1..] {
        for metric in METRICS {
            let (b, v) = (baseline.test.get(metric), model.test.get(metric));
            let delta = b.zip(v).map(|(b, v)| v - b);
            out.comparison.push(ComparisonRow {
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
    let (baseline_name, baseline_runs) = &models[0];
    for (name, runs) in &models[1..] {
        match paired(&baseline_runs[0], &runs[0]) {
            Err(why) => out
                .notes
                .push(format!("{name} against {baseline_name}: no paired tests, {why}")),
            Ok(rows) if options.bootstrap > 0 => {
                let (scores_b, targets, predicted_b) = (
                    &baseline_runs[0].test.probabilities,
                    &baseline_runs[0].test.targets,
                    &baseline_runs[0].test.predicted,
                );
                let (scores_m, predicted_m) = (
                    runs[0].test.probabilities.select(Axis(0), &rows),
                    runs[0].test.predicted.select(Axis(0), &rows),
                );
                let targets_m = runs[0].test.targets.select(Axis(0), &rows);
                if targets_m != *targets {
                    out.notes.push(format!(
                        "{name} against {baseline_name}: no paired tests, the same test ids carry different labels"
                    ));
                    continue;
                }
                let a = EvalData {
                    scores: scores_m.view(),
                    targets: targets.view(),
                    predictions: predicted_m.view(),
                };
                let b = EvalData {
                    scores: scores_b.view(),
                    targets: targets.view(),
                    predictions: predicted_b.view(),
                };
                let bootstrap = BootstrapOptions {
                    resamples: options.bootstrap,
                    confidence: 0.95,
                    seed: options.seed,
                };
                for metric in [
                    Headline::AucMicro,
                    Headline::AucMacro,
                    Headline::F1Micro,
                    Headline::F1Macro,
                ] {
                    let c = paired_bootstrap(&a, &b, &metric, &bootstrap)?;
                    out.paired_bootstrap.push(BootstrapRow {
                        metric: metric.key().into(),
                        baseline: baseline_name.clone(),
                        model: name.clone(),
                        delta: c.delta,
                        ci_low: c.lower,
                        ci_high: c.upper,
                        p_value: c.p_value,
                        p_holm: f64::NAN,
                        resamples: c.resamples_used,
                    });
                }
            }
            Ok(_) => {}
        }
    }
    // Welch's t between every two models with several seeds, the earlier one as baseline.
    let groups: Vec<usize> = (0..models.len()).filter(|&i| reports[i].len() > 1).collect();
    for (k, &a) in groups.iter().enumerate() {
        for &b in &groups[k + 1..] {
            for metric in ["auc_micro", "auc_macro", "f1_micro", "f1_macro"] {
                let values = |rs: &[MetricReport]| {
                    rs.iter()
                        .filter_map(|r| TestMetrics::of(r).get(metric))
                        .collect::<Vec<_>>()
                };
                if let Some(t) = welch_t_test(&values(&reports[b]), &values(&reports[a])) {
                    out.seed_tests.push(SeedTest {
                        metric: metric.into(),
                        baseline: models[a].0.clone(),
                        model: models[b].0.clone(),
                        statistic: t.statistic,
                        dof: t.dof,
                        p_value: t.p_value,
                    });
                }
            }
        }
    }
    let adjusted = holm(&out.paired_bootstrap.iter().map(|r| r.p_value).collect::<Vec<_>>());
    for (row, p) in out.paired_bootstrap.iter_mut().zip(adjusted) {
        row.p_holm = p;
    }
    Ok(out)
}

/// The test report of a run under its own predictions.
fn test_report(run: &RunFolder) -> Result<MetricReport> {
    let t = &run.test;
    Ok(MetricReport::compute(
        t.probabilities.view(),
        t.targets.mapv(u8::from).view(),
        t.predicted.view(),
        &t.labels,
        None,
    )?)
}

fn summary(name: &str, runs: &[RunFolder], reports: &[MetricReport]) -> Result<ModelSummary> {
    let first = &runs[0];
    let metrics: Vec<TestMetrics> = reports.iter().map(TestMetrics::of).collect();
    let (mut seeds, mut seed_values) = (BTreeMap::new(), BTreeMap::new());
    if runs.len() > 1 {
        for metric in METRICS {
            let values: Vec<f64> = metrics.iter().filter_map(|m| m.get(metric)).collect();
            if values.len() == runs.len() {
                seeds.insert(metric.to_string(), seed_stats(&values));
                seed_values.insert(metric.to_string(), values);
            }
        }
    }
    let mean = |metric: &str| seeds.get(metric).map(|s: &SeedStats| s.mean);
    let test = if runs.len() > 1 {
        TestMetrics {
            auc_micro: mean("auc_micro"),
            auc_macro: mean("auc_macro"),
            f1_micro: mean("f1_micro").unwrap_or(f64::NAN),
            f1_macro: mean("f1_macro").unwrap_or(f64::NAN),
            precision_micro: mean("precision_micro").unwrap_or(f64::NAN),
            precision_macro: mean("precision_macro").unwrap_or(f64::NAN),
            recall_micro: mean("recall_micro").unwrap_or(f64::NAN),
            recall_macro: mean("recall_macro").unwrap_or(f64::NAN),
        }
    } else {
        metrics[0].clone()
    };
    let history_rate = first.record.as_ref().and_then(|r| {
        let h = r.get("history")?.as_array()?;
        let rates: Vec<f64> = h.iter().filter_map(|e| e.get("examples_per_s")?.as_f64()).collect();
        (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64)
    });
    let inference = first.inference_rate()?;
    let select_by = first.text("/configuration/select_by");
    let best_epoch = first.number("/best_epoch").map(|e| e as u64 + 1);
    let best_dev = best_epoch
        .zip(select_by.clone())
        .and_then(|(e, key)| first.number(&format!("/history/{}/dev/{key}", e - 1)));
    Ok(ModelSummary {
        name: name.into(),
        runs: runs.iter().map(|r| r.dir.display().to_string()).collect(),
        parameters: first.number("/parameters"),
        train_seconds: first.number("/train_seconds"),
        best_epoch,
        best_dev,
        select_by,
        examples_per_second: history_rate,
        inference_texts_per_second: inference.map(|(rate, _)| rate),
        device: first.text("/device"),
        precision: first.text("/precision"),
        threads: first.number("/configuration/threads"),
        libtorch: first.text("/versions/libtorch"),
        cpu: first.text("/run/host/cpu"),
        logical_cores: first.number("/run/host/logical_cores"),
        gpu: first.record.as_ref().and_then(run_gpu),
        os: first.text("/run/host/os"),
        peak_resident_mib: first.number("/run/peak_resident_mib"),
        labels: first.test.labels.clone(),
        test_examples: first.test.ids.len(),
        test,
        seeds,
        seed_values,
        never_predicted: reports[0].never_predicted().into_iter().map(String::from).collect(),
        artifacts: first.artifacts(),
        ensemble_members: first
            .record
            .as_ref()
            .and_then(|r| r.pointer("/ensemble/members")?.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.as_str().map(String::from))
            .collect(),
    })
}

fn seed_stats(values: &[f64]) -> SeedStats {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64;
    SeedStats {
        mean,
        std: var.sqrt(),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        n,
    }
}

fn per_emotion(report: &MetricReport) -> Vec<EmotionRow> {
    let mut rows: Vec<EmotionRow> = report
        .per_class
        .iter()
        .map(|c| EmotionRow {
            rank: 0,
            label: c.label.clone(),
            f1: c.f1,
            precision: c.precision,
            recall: c.recall,
            auc: c.auc,
            support: c.support,
            predicted: c.tp + c.fp,
        })
        .collect();
    rows.sort_by(|a, b| b.f1.total_cmp(&a.f1).then_with(|| a.label.cmp(&b.label)));
    for (i, row) in rows.iter_mut().enumerate() {
        row.rank = i + 1;
    }
    rows
}

/// The five strategies, each fitted on dev and applied to test.
fn strategies(run: &RunFolder) -> Result<Vec<StrategyRow>> {
    let named: [(&str, Box<dyn ThresholdStrategy>); 5] = [
        ("global-0.5", Box::new(Global(0.5))),
        ("optimal-global-micro", Box::new(OptimalGlobal(F1Average::Micro))),
        ("optimal-global-macro", Box::new(OptimalGlobal(F1Average::Macro))),
        ("per-class", Box::new(PerClass)),
        ("top-1", Box::new(TopK { k: 1, min_score: None })),
    ];
    let (dev, test) = (&run.dev, &run.test);
    let mut rows = vec![];
    for (name, strategy) in named {
        let fitted = strategy.fit(dev.probabilities.view(), dev.targets.view())?;
        let predicted = fitted.apply(test.probabilities.view())?;
        let r = MetricReport::compute(
            test.probabilities.view(),
            test.targets.mapv(u8::from).view(),
            predicted.view(),
            &test.labels,
            None,
        )?;
        rows.push(StrategyRow {
            strategy: name.into(),
            f1_micro: r.f1_micro,
            f1_macro: r.f1_macro,
            precision_micro: r.precision_micro,
            precision_macro: r.precision_macro,
            recall_micro: r.recall_micro,
            recall_macro: r.recall_macro,
            never_predicted: r.never_predicted().len(),
            thresholds: fitted.per_class(test.labels.len()),
        });
    }
    Ok(rows)
}

/// Calibration of a run's test probabilities (goemo-metrics' `calibration`) against each
/// label's training frequency, and the run's record of its raw probabilities.
fn calibration(run: &RunFolder) -> Result<CalibrationSummary> {
    let t = &run.test;
    let (classes, micro) = goemo_metrics::calibration(t.probabilities.view(), t.targets.view())?;
    let base_rates = run.base_rates();
    let per_class: Vec<ClassCalibration> = t
        .labels
        .iter()
        .zip(classes)
        .enumerate()
        .map(|(j, (label, c))| ClassCalibration {
            label: label.clone(),
            brier: c.brier,
            baseline_brier: goemo_metrics::brier_of_constant(base_rates[j], t.targets.column(j).iter().copied()),
            log_loss: c.log_loss,
            ece: c.ece,
            ece_equal_mass: c.ece_equal_mass,
            support: t.targets.column(j).iter().filter(|&&v| v).count(),
            bins: c.bins,
        })
        .collect();
    let k = per_class.len().max(1) as f64;
    let no_worse = per_class.iter().filter(|c| c.brier <= c.baseline_brier).count();
    let after = CalibrationNumbers::of(&micro, no_worse);
    let before = run
        .record
        .as_ref()
        .and_then(|r| r.pointer("/calibration/test/before"))
        .and_then(|v| serde_json::from_value::<goemo_metrics::CalibrationState>(v.clone()).ok())
        .map(|state| CalibrationNumbers::of(&state.micro, state.labels_no_worse_than_baseline));
    let frequency = micro.frequency;
    Ok(CalibrationSummary {
        method: run
            .text("/calibration/per_label")
            .unwrap_or_else(|| "none (not recorded)".into()),
        reads_as_probabilities: reads_as_probabilities(&after, frequency, per_class.len()),
        baseline_brier: per_class.iter().map(|c| c.baseline_brier).sum::<f64>() / k,
        frequency,
        after,
        before,
        per_class,
    })
}

/// The rows of `model`'s test set in `baseline`'s order, matched by id; why not, when the
/// label sets or the test sets differ.
fn paired(baseline: &RunFolder, model: &RunFolder) -> std::result::Result<Vec<usize>, String> {
    let (b, m) = (&baseline.test, &model.test);
    if b.labels != m.labels {
        return Err(format!(
            "their labels differ ({} against {})",
            m.labels.len(),
            b.labels.len()
        ));
    }
    let index: HashMap<&str, usize> = m.ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    if index.len() != m.ids.len() {
        return Err("the model's test ids repeat".into());
    }
    let rows: Option<Vec<usize>> = b.ids.iter().map(|id| index.get(id.as_str()).copied()).collect();
    match rows {
        Some(rows) if rows.len() == m.ids.len() => Ok(rows),
        _ => Err(format!(
            "their test sets differ ({} against {} examples, matched by id)",
            m.ids.len(),
            b.ids.len()
        )),
    }
}

/// The GPU of a run on CUDA (`device` "Cuda(N)" in metrics.json) from its host record: name
/// and memory of GPU N.
fn run_gpu(record: &serde_json::Value) -> Option<String> {
    let device = record.pointer("/device")?.as_str()?;
    let index: usize = device.strip_prefix("Cuda(")?.strip_suffix(')')?.parse().ok()?;
    let gpus = record.pointer("/run/host/gpus")?.as_array()?;
    let gpu = gpus.iter().find(|g| g["index"].as_u64() == Some(index as u64))?;
    let name = gpu["name"].as_str()?;
    Some(match gpu["memory_mib"].as_f64() {
        Some(mib) => format!("{name}, {mib:.0} MiB"),
        None => name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::run_gpu;
    use serde_json::json;

    #[test]
    fn a_cuda_run_names_its_gpu() {
        let gpus = json!([
            {"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_mib": 81559.0},
            {"index": 1, "name": "NVIDIA H200", "memory_mib": null}
        ]);
        let record = |device: &str| json!({"device": device, "run": {"host": {"gpus": gpus.clone()}}});
        assert_eq!(
            run_gpu(&record("Cuda(0)")).as_deref(),
            Some("NVIDIA H100 80GB HBM3, 81559 MiB")
        );
        assert_eq!(run_gpu(&record("Cuda(1)")).as_deref(), Some("NVIDIA H200"));
        assert_eq!(run_gpu(&record("Cpu")), None);
        assert_eq!(run_gpu(&record("Cuda(2)")), None);
    }

    #[test]
    fn holm_steps_down_and_keeps_the_order() {
        // statsmodels' multipletests(method="holm") gives [0.03, 0.06, 0.06, 0.02].
        let adjusted = super::holm(&[0.01, 0.04, 0.03, 0.005]);
        for (a, want) in adjusted.iter().zip([0.03, 0.06, 0.06, 0.02]) {
            assert!((a - want).abs() < 1e-15, "{adjusted:?}");
        }
        assert_eq!(super::holm(&[0.6, 0.9]), vec![1.0, 1.0]);
    }
}
