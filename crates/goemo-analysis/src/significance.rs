//! Significance: paired bootstrap of every model against the baseline on the same test
//! examples (a model of several seeds as its seeds' mean), and t-tests across seeds, each family
//! Holm-adjusted.

use std::collections::HashMap;

use goemo_metrics::{paired_bootstrap_groups, BootstrapOptions, EvalData, Headline};
use goemo_stats::{one_sample_t_test, welch_t_test};
use ndarray::{Array2, ArrayView2, Axis};

use crate::compare::{holm, BootstrapRow, CompareOptions, ModelSummary, SeedTest};
use crate::{Result, RunFolder};

/// The metrics tested, as the headline table orders them.
const TESTED: [Headline; 4] = [
    Headline::AucMicro,
    Headline::AucMacro,
    Headline::F1Micro,
    Headline::F1Macro,
];

/// A run's test scores and predictions in another run's row order.
struct Aligned {
    scores: Array2<f64>,
    predicted: Array2<bool>,
}

/// Paired bootstrap rows of every model against the baseline (Holm-adjusted across them all),
/// and notes on the pairs that could not be compared.
pub(crate) fn paired_rows(
    models: &[(String, Vec<RunFolder>)],
    options: &CompareOptions,
) -> Result<(Vec<BootstrapRow>, Vec<String>)> {
    let (mut rows, mut notes) = (vec![], vec![]);
    if options.bootstrap == 0 {
        return Ok((rows, notes));
    }
    let (baseline_name, baseline_runs) = &models[0];
    let reference = &baseline_runs[0].test;
    let align = |runs: &[RunFolder]| -> std::result::Result<Vec<Aligned>, String> {
        runs.iter().map(|r| aligned(&baseline_runs[0], r)).collect()
    };
    let baseline = match align(baseline_runs) {
        Ok(b) => b,
        Err(why) => {
            notes.push(format!("{baseline_name}: no paired tests, its seeds {why}"));
            return Ok((rows, notes));
        }
    };
    let bootstrap = BootstrapOptions {
        resamples: options.bootstrap,
        confidence: 0.95,
        seed: options.seed,
    };
    for (name, runs) in &models[1..] {
        let model = match align(runs) {
            Ok(m) => m,
            Err(why) => {
                notes.push(format!("{name} against {baseline_name}: no paired tests, {why}"));
                continue;
            }
        };
        for metric in TESTED {
            let c = paired_bootstrap_groups(
                &view(&model, reference.targets.view()),
                &view(&baseline, reference.targets.view()),
                &metric,
                &bootstrap,
            )?;
            rows.push(BootstrapRow {
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
    let adjusted = holm(&rows.iter().map(|r| r.p_value).collect::<Vec<_>>());
    for (row, p) in rows.iter_mut().zip(adjusted) {
        row.p_holm = p;
    }
    Ok((rows, notes))
}

/// The aligned runs as the bootstrap's inputs, all with the baseline's targets.
fn view<'a>(runs: &'a [Aligned], targets: ArrayView2<'a, bool>) -> Vec<EvalData<'a>> {
    runs.iter()
        .map(|x| EvalData {
            scores: x.scores.view(),
            targets,
            predictions: x.predicted.view(),
        })
        .collect()
}

/// `model`'s test scores and predictions in `baseline`'s row order, matched by id; why not, when
/// the label sets, the test sets or the labels of an id differ.
fn aligned(baseline: &RunFolder, model: &RunFolder) -> std::result::Result<Aligned, String> {
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
    let rows = match rows {
        Some(rows) if rows.len() == m.ids.len() => rows,
        _ => {
            return Err(format!(
                "their test sets differ ({} against {} examples, matched by id)",
                m.ids.len(),
                b.ids.len()
            ))
        }
    };
    if m.targets.select(Axis(0), &rows) != b.targets {
        return Err("the same test ids carry different labels".into());
    }
    Ok(Aligned {
        scores: m.probabilities.select(Axis(0), &rows),
        predicted: m.predicted.select(Axis(0), &rows),
    })
}

/// t-tests across seeds between every two models where at least one has several seeds, the
/// earlier model as baseline: Welch's when both have several, one-sample (the seeds against the
/// single run's value) otherwise; Holm-adjusted across them all.
pub(crate) fn seed_tests(models: &[ModelSummary]) -> Vec<SeedTest> {
    let mut tests = vec![];
    for (i, baseline) in models.iter().enumerate() {
        for model in &models[i + 1..] {
            for metric in ["auc_micro", "auc_macro", "f1_micro", "f1_macro"] {
                tests.extend(seed_test(baseline, model, metric));
            }
        }
    }
    let adjusted = holm(&tests.iter().map(|t| t.p_value).collect::<Vec<_>>());
    for (t, p) in tests.iter_mut().zip(adjusted) {
        t.p_holm = p;
    }
    tests
}

fn seed_test(baseline: &ModelSummary, model: &ModelSummary, metric: &str) -> Option<SeedTest> {
    let values = |m: &ModelSummary| m.seed_values.get(metric).cloned();
    let (b, m) = (values(baseline), values(model));
    let (test, flip, t) = match (&b, &m) {
        (Some(b), Some(m)) => ("welch", 1.0, welch_t_test(m, b)?),
        (None, Some(m)) => ("one_sample", 1.0, one_sample_t_test(m, baseline.test.get(metric)?)?),
        (Some(b), None) => ("one_sample", -1.0, one_sample_t_test(b, model.test.get(metric)?)?),
        (None, None) => return None,
    };
    Some(SeedTest {
        metric: metric.into(),
        baseline: baseline.name.clone(),
        model: model.name.clone(),
        test: test.into(),
        delta: model.test.get(metric)? - baseline.test.get(metric)?,
        statistic: flip * t.statistic,
        dof: t.dof,
        p_value: t.p_value,
        p_holm: f64::NAN,
    })
}
