//! The per-model sections of the comparison: per-emotion metrics, threshold strategies, the
//! global-threshold sweep, calibration, label combinations and co-occurrence. Each is computed
//! on every run of a model and, for several seeds, summarised as the seeds' mean.

use goemo_metrics::MetricReport;
use goemo_threshold::{threshold_sweep, F1Average, Global, OptimalGlobal, PerClass, ThresholdStrategy, TopK};
use ndarray::{concatenate, Axis};

use crate::compare::{CalibrationNumbers, CalibrationSummary, ClassCalibration, EmotionRow, StrategyRow, SweepPoint};
use crate::stats::{Combo, PairStats};
use crate::summary::seed_stats;
use crate::{Result, RunFolder};

/// The mean of `f` over items.
fn mean_by<T>(items: &[T], f: impl Fn(&T) -> f64) -> f64 {
    items.iter().map(f).sum::<f64>() / items.len() as f64
}

/// The sample standard deviation of `f` over items, for more than one.
fn std_by<T>(items: &[T], f: impl Fn(&T) -> f64) -> Option<f64> {
    (items.len() > 1).then(|| seed_stats(&items.iter().map(f).collect::<Vec<_>>()).std)
}

/// Per emotion, the runs' F1, precision, recall and AUC (mean and spread over seeds), ranked by
/// F1.
pub(crate) fn per_emotion(reports: &[MetricReport]) -> Vec<EmotionRow> {
    let mut rows: Vec<EmotionRow> = reports[0]
        .per_class
        .iter()
        .enumerate()
        .map(|(j, first)| {
            let classes: Vec<_> = reports.iter().map(|r| &r.per_class[j]).collect();
            let aucs: Option<Vec<f64>> = classes.iter().map(|c| c.auc).collect();
            EmotionRow {
                rank: 0,
                label: first.label.clone(),
                f1: mean_by(&classes, |c| c.f1),
                precision: mean_by(&classes, |c| c.precision),
                recall: mean_by(&classes, |c| c.recall),
                auc: aucs.as_ref().map(|a| mean_by(a, |&v| v)),
                support: first.support,
                predicted: mean_by(&classes, |c| (c.tp + c.fp) as f64),
                f1_std: std_by(&classes, |c| c.f1),
                precision_std: std_by(&classes, |c| c.precision),
                recall_std: std_by(&classes, |c| c.recall),
                auc_std: aucs.as_ref().and_then(|a| std_by(a, |&v| v)),
            }
        })
        .collect();
    rows.sort_by(|a, b| b.f1.total_cmp(&a.f1).then_with(|| a.label.cmp(&b.label)));
    for (i, row) in rows.iter_mut().enumerate() {
        row.rank = i + 1;
    }
    rows
}

/// The five strategies, each fitted on a run's dev set and applied to its test set; the seeds'
/// mean for several runs.
pub(crate) fn strategies(runs: &[RunFolder]) -> Result<Vec<StrategyRow>> {
    let per_run = runs.iter().map(run_strategies).collect::<Result<Vec<_>>>()?;
    Ok((0..per_run[0].len())
        .map(|i| {
            let rows: Vec<&StrategyRow> = per_run.iter().map(|r| &r[i]).collect();
            let thresholds: Option<Vec<Vec<f64>>> = rows.iter().map(|r| r.thresholds.clone()).collect();
            let thresholds = thresholds.map(|t| (0..t[0].len()).map(|j| mean_by(&t, |v| v[j])).collect());
            let threshold: Option<Vec<f64>> = rows.iter().map(|r| r.threshold).collect();
            StrategyRow {
                strategy: rows[0].strategy.clone(),
                f1_micro: mean_by(&rows, |r| r.f1_micro),
                f1_macro: mean_by(&rows, |r| r.f1_macro),
                precision_micro: mean_by(&rows, |r| r.precision_micro),
                precision_macro: mean_by(&rows, |r| r.precision_macro),
                recall_micro: mean_by(&rows, |r| r.recall_micro),
                recall_macro: mean_by(&rows, |r| r.recall_macro),
                never_predicted: mean_by(&rows, |r| r.never_predicted),
                threshold: threshold.map(|t| mean_by(&t, |&v| v)),
                thresholds,
            }
        })
        .collect())
}

fn run_strategies(run: &RunFolder) -> Result<Vec<StrategyRow>> {
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
            never_predicted: r.never_predicted().len() as f64,
            threshold: match &fitted {
                goemo_threshold::Thresholds::Global { threshold } => Some(*threshold),
                _ => None,
            },
            thresholds: fitted.per_class(test.labels.len()).filter(|_| name == "per-class"),
        });
    }
    Ok(rows)
}

/// Test metrics at global thresholds 0.01..0.99; the seeds' mean for several runs.
pub(crate) fn sweep(runs: &[RunFolder]) -> Result<Vec<SweepPoint>> {
    let per_run = runs
        .iter()
        .map(|r| threshold_sweep(r.test.probabilities.view(), r.test.targets.view()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((0..per_run[0].len())
        .map(|i| {
            let rows: Vec<_> = per_run.iter().map(|r| &r[i]).collect();
            // Micro precision is undefined where no run predicts any label.
            let precision: Option<Vec<f64>> = rows
                .iter()
                .map(|r| (r.labels_predicted > 0).then_some(r.precision_micro))
                .collect();
            SweepPoint {
                threshold: rows[0].threshold,
                f1_micro: mean_by(&rows, |r| r.f1_micro),
                f1_macro: mean_by(&rows, |r| r.f1_macro),
                precision_micro: precision.map(|p| mean_by(&p, |&v| v)),
                precision_macro: mean_by(&rows, |r| r.precision_macro),
                recall_micro: mean_by(&rows, |r| r.recall_micro),
                recall_macro: mean_by(&rows, |r| r.recall_macro),
                labels_predicted: mean_by(&rows, |r| r.labels_predicted as f64),
                mean_labels_per_example: mean_by(&rows, |r| r.mean_labels_per_example),
            }
        })
        .collect())
}

/// Calibration of a model's test probabilities against each label's training frequency; for
/// several seeds every number is the seeds' mean and the reliability bins are of their pooled
/// predictions.
pub(crate) fn calibration(runs: &[RunFolder]) -> Result<CalibrationSummary> {
    let per_run = runs.iter().map(run_calibration).collect::<Result<Vec<_>>>()?;
    if per_run.len() == 1 {
        return Ok(per_run.into_iter().next().expect("one run"));
    }
    let first = &per_run[0];
    let numbers = |all: &[&CalibrationNumbers]| CalibrationNumbers {
        brier: mean_by(all, |x| x.brier),
        log_loss: mean_by(all, |x| x.log_loss),
        ece: mean_by(all, |x| x.ece),
        ece_equal_mass: mean_by(all, |x| x.ece_equal_mass),
        mean_probability: mean_by(all, |x| x.mean_probability),
        labels_no_worse_than_baseline: mean_by(all, |x| x.labels_no_worse_than_baseline),
    };
    let after = numbers(&per_run.iter().map(|k| &k.after).collect::<Vec<_>>());
    let before: Option<Vec<&CalibrationNumbers>> = per_run.iter().map(|k| k.before.as_ref()).collect();
    let pooled_bins = pooled_bins(runs)?;
    let per_class = (0..first.per_class.len())
        .map(|j| {
            let all: Vec<&ClassCalibration> = per_run.iter().map(|k| &k.per_class[j]).collect();
            ClassCalibration {
                label: all[0].label.clone(),
                brier: mean_by(&all, |c| c.brier),
                baseline_brier: mean_by(&all, |c| c.baseline_brier),
                log_loss: mean_by(&all, |c| c.log_loss),
                ece: mean_by(&all, |c| c.ece),
                ece_equal_mass: mean_by(&all, |c| c.ece_equal_mass),
                support: all[0].support,
                bins: pooled_bins[j].clone(),
            }
        })
        .collect::<Vec<_>>();
    let mut methods: Vec<&str> = per_run.iter().map(|k| k.method.as_str()).collect();
    methods.dedup();
    Ok(CalibrationSummary {
        method: methods.join("; "),
        reads_as_probabilities: crate::reads_as_probabilities(&after, first.frequency, per_class.len()),
        after,
        before: before.map(|b| numbers(&b)),
        baseline_brier: mean_by(&per_run, |k| k.baseline_brier),
        frequency: first.frequency,
        per_class,
    })
}

/// Each label's reliability bins over every run's test predictions stacked.
fn pooled_bins(runs: &[RunFolder]) -> Result<Vec<Vec<goemo_metrics::ReliabilityBin>>> {
    let probabilities: Vec<_> = runs.iter().map(|r| r.test.probabilities.view()).collect();
    let targets: Vec<_> = runs.iter().map(|r| r.test.targets.view()).collect();
    let shape_error = |e: ndarray::ShapeError| crate::AnalysisError::Input(format!("seeds' test sets differ: {e}"));
    let (p, t) = (
        concatenate(Axis(0), &probabilities).map_err(shape_error)?,
        concatenate(Axis(0), &targets).map_err(shape_error)?,
    );
    let (classes, _) = goemo_metrics::calibration(p.view(), t.view())?;
    Ok(classes.into_iter().map(|c| c.bins).collect())
}

fn run_calibration(run: &RunFolder) -> Result<CalibrationSummary> {
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
    let no_worse = per_class.iter().filter(|c| c.brier <= c.baseline_brier).count();
    let after = CalibrationNumbers::of(&micro, no_worse);
    let before = run
        .record
        .as_ref()
        .and_then(|r| r.pointer("/calibration/test/before"))
        .and_then(|v| serde_json::from_value::<goemo_metrics::CalibrationState>(v.clone()).ok())
        .map(|state| CalibrationNumbers::of(&state.micro, state.labels_no_worse_than_baseline));
    Ok(CalibrationSummary {
        method: run
            .text("/calibration/per_label")
            .unwrap_or_else(|| "none (not recorded)".into()),
        reads_as_probabilities: crate::reads_as_probabilities(&after, micro.frequency, per_class.len()),
        baseline_brier: mean_by(&per_class, |c| c.baseline_brier),
        frequency: micro.frequency,
        after,
        before,
        per_class,
    })
}

/// The most frequent true label combinations and their match rates (the seeds' mean).
pub(crate) fn combos(runs: &[RunFolder], top: usize) -> Vec<Combo> {
    let per_run: Vec<Vec<Combo>> = runs
        .iter()
        .map(|r| crate::stats::combos(r.test.targets.view(), r.test.predicted.view(), &r.test.labels, top))
        .collect();
    per_run[0]
        .iter()
        .map(|c| {
            let same: Vec<&Combo> = per_run
                .iter()
                .filter_map(|r| r.iter().find(|x| x.labels == c.labels))
                .collect();
            Combo {
                labels: c.labels.clone(),
                count: c.count,
                exact_match: mean_by(&same, |x| x.exact_match),
                partial_match: mean_by(&same, |x| x.partial_match),
                mean_jaccard: mean_by(&same, |x| x.mean_jaccard),
            }
        })
        .collect()
}

/// Label pairs' true and predicted co-occurrence (predicted: the seeds' mean).
pub(crate) fn cooccurrence(runs: &[RunFolder]) -> Vec<PairStats> {
    let per_run: Vec<Vec<PairStats>> = runs
        .iter()
        .map(|r| crate::stats::cooccurrence_pairs(r.test.targets.view(), r.test.predicted.view(), &r.test.labels))
        .collect();
    let mut pairs: Vec<PairStats> = per_run.iter().flatten().cloned().collect();
    pairs.sort_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
    pairs.dedup_by(|x, y| x.a == y.a && x.b == y.b);
    for pair in &mut pairs {
        pair.count_predicted = per_run
            .iter()
            .map(|r| {
                r.iter()
                    .find(|x| x.a == pair.a && x.b == pair.b)
                    .map_or(0.0, |x| x.count_predicted)
            })
            .sum::<f64>()
            / per_run.len() as f64;
    }
    pairs
}
