//! The "Model Performance" document as data ([`build`]), rendered to `model_performance.md`
//! beside `comparison.json`, CSV tables and charts, each written atomically into the output
//! folder.

use std::path::Path;

use goemo_report::{stacked_line_charts, Column, Document, LegendPosition, LineChart, Series, Table};

use crate::compare::{ClassCalibration, Comparison, ModelKind, ModelSummary, METRICS};
use crate::tables::{self, count, num, with_spread};
use crate::{figures, observations, Result};

/// Writes every file of the report into `out` (created if needed).
pub fn write_report(c: &Comparison, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|source| goemo_fs::FsError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    goemo_fs::write_json_atomic(out.join("comparison.json"), c)?;
    for (model, rows) in &c.per_emotion {
        let rows: Vec<_> = rows.iter().collect();
        tables::per_emotion(&rows, true).write_csv(out.join(format!("per_emotion_{model}.csv")))?;
    }
    tables::strategies(&c.thresholds, true).write_csv(out.join("thresholds.csv"))?;
    tables::sweep(&c.sweep).write_csv(out.join("threshold_sweep.csv"))?;
    tables::per_class_thresholds(c).write_csv(out.join("per_class_thresholds.csv"))?;
    tables::calibration(c).write_csv(out.join("calibration.csv"))?;
    tables::with_model_column(
        c.combos
            .iter()
            .map(|(m, rows)| (m, tables::combos(rows, tables::CSV_DIGITS))),
    )
    .write_csv(out.join("combinations.csv"))?;
    tables::cooccurrence(&c.cooccurrence).write_csv(out.join("cooccurrence_pairs.csv"))?;
    figures::draw_all(c, out)?;
    goemo_fs::write_bytes_atomic(out.join("model_performance.md"), build(c).to_markdown(true).as_bytes())?;
    Ok(())
}

/// The document: every section, in the reference document's order.
pub fn build(c: &Comparison) -> Document {
    let mut d = Document::new("Model Performance");
    overview(&mut d, c);
    d.heading(2, "Models");
    for m in &c.models {
        model_section(&mut d, c, m);
    }
    if c.models.len() > 1 {
        comparison_section(&mut d, c);
    }
    per_emotion_section(&mut d, c);
    threshold_section(&mut d, c);
    calibration_section(&mut d, c);
    significance_section(&mut d, c);
    errors_section(&mut d, c);
    artifacts_section(&mut d, c);
    d.heading(2, "See also").list([
        "`comparison.json`: every number of this document, as `report` computed it.".to_string(),
        "`per_emotion_<model>.csv`, `thresholds.csv`, `threshold_sweep.csv`, `per_class_thresholds.csv`, `calibration.csv`, `combinations.csv`, `cooccurrence_pairs.csv`: the tables in full, six decimals.".into(),
        "[The data set document](../dataset/dataset.md): splits, label frequencies, text lengths and label co-occurrence of GoEmotions.".into(),
        "[Calibration](../calibration.md): how probabilities are fitted and served.".into(),
    ]);
    d
}

fn overview(d: &mut Document, c: &Comparison) {
    d.heading(2, "Overview").paragraph(format!(
        "Primary metric: test micro ROC AUC; secondary: macro ROC AUC and micro F1; tertiary: macro F1, macro and micro precision and recall, per-emotion F1. Every number below is computed from the run folders by `report`; F1, precision and recall use each run's own thresholds (fitted on dev). A model of several seeds shows the mean of its seeds in every section. Baseline: **{}**.",
        c.models[0].name
    ));
    let mut t = Table::with_text_columns(
        &[
            "model",
            "what",
            "micro AUC",
            "macro AUC",
            "micro F1",
            "macro F1",
            "never predicted",
        ],
        2,
    );
    for m in &c.models {
        t.row([
            m.name.clone(),
            m.describe(),
            num(m.test.auc_micro, 4),
            num(m.test.auc_macro, 4),
            num(Some(m.test.f1_micro), 4),
            num(Some(m.test.f1_macro), 4),
            m.never_predicted.len().to_string(),
        ]);
    }
    d.table(t);
    for note in &c.notes {
        d.note(note.clone());
    }
    d.figure("metric_comparison.png", "Test metrics by model");
    d.heading(2, "Recommendation")
        .paragraph(observations::recommendation(c));
    if c.models.len() > 1 {
        d.paragraph("Key observations of the comparison:")
            .list(observations::comparison(c));
    }
}

fn model_section(d: &mut Document, c: &Comparison, m: &ModelSummary) {
    d.heading(3, format!("{} ({})", m.name, m.describe()));
    let mut facts = vec![format!("runs: {}", m.runs.join(", "))];
    if !m.ensemble_members.is_empty() {
        facts.push(format!(
            "members {}: their calibrated probabilities averaged, calibrated again and thresholded on the averaged dev set; training time is the members' sum",
            m.ensemble_members.join(", ")
        ));
    }
    let gpu = m.gpu.as_ref().map(|g| format!("GPU {g}; ")).unwrap_or_default();
    facts.push(format!(
        "hardware: {gpu}{}, {} logical cores, {}; device {}, precision {}, {} threads, libtorch {}",
        m.cpu.as_deref().unwrap_or("CPU n/a"),
        num(m.logical_cores, 0),
        m.os.as_deref().unwrap_or("OS n/a"),
        m.device.as_deref().unwrap_or("n/a"),
        m.precision.as_deref().unwrap_or("n/a"),
        num(m.threads, 0),
        m.libtorch.as_deref().unwrap_or("n/a")
    ));
    facts.push(format!(
        "{} labels, {} test texts; {} parameters",
        m.labels.len(),
        m.test_examples,
        num(m.parameters, 0)
    ));
    d.list(facts);
    if !m.configuration.is_empty() {
        let mut t = Table::with_text_columns(&["setting", "value"], 2);
        for (key, value) in &m.configuration {
            t.row([key.clone(), value.clone()]);
        }
        d.paragraph("Configuration:").table(t);
    }
    d.paragraph(format!("Test metrics ({}):", m.describe()))
        .table(metrics_table(m));
    dev_curve(d, m);
    d.paragraph("Key observations:").list(observations::model(c, m));
}

/// The test metrics; with seeds, their mean ± std, extremes and count.
fn metrics_table(m: &ModelSummary) -> Table {
    let mut t = if m.seeds.is_empty() {
        Table::with_text_columns(&["metric", "test"], 1)
    } else {
        Table::with_text_columns(&["metric", "mean ± std", "min", "max", "seeds"], 1)
    };
    for metric in METRICS {
        match m.seeds.get(metric) {
            Some(s) => t.row([
                metric.to_string(),
                with_spread(Some(s.mean), Some(s.std), 4),
                num(Some(s.min), 4),
                num(Some(s.max), 4),
                s.n.to_string(),
            ]),
            None => t.row([metric.to_string(), num(m.test.get(metric), 4)]),
        };
    }
    t
}

fn dev_curve(d: &mut Document, m: &ModelSummary) {
    let runs: Vec<_> = m.history.iter().filter(|(_, h)| !h.is_empty()).collect();
    if runs.is_empty() {
        return;
    }
    let mut t = Table::new([
        Column::text("run"),
        Column::number("epoch"),
        Column::number("train loss"),
        Column::number("dev loss"),
        Column::number("dev micro AUC"),
        Column::number("dev micro F1"),
        Column::number("dev macro F1"),
    ]);
    for (run, history) in &runs {
        for e in history {
            t.row([
                run.clone(),
                e.epoch.to_string(),
                num(e.train_loss, 4),
                num(e.dev_loss, 4),
                num(e.dev_auc_micro, 4),
                num(e.dev_f1_micro, 4),
                num(e.dev_f1_macro, 4),
            ]);
        }
    }
    let who = if m.kind == ModelKind::Ensemble {
        " (its members')"
    } else {
        ""
    };
    d.paragraph(format!(
        "Dev curve{who}; the checkpoint kept is the epoch of best dev {}{}:",
        m.select_by.as_deref().unwrap_or("metric"),
        m.best_dev.map_or(String::new(), |v| {
            let over = if runs.len() > 1 { ", mean over runs" } else { "" };
            format!(" ({v:.4}{over})")
        })
    ))
    .table(t)
    .figure(format!("dev_curve_{}.png", m.name), format!("{}: dev curve", m.name));
}

fn comparison_section(d: &mut Document, c: &Comparison) {
    let baseline = &c.models[0];
    d.heading(2, "Model Comparison").paragraph(format!(
        "Every model against the baseline ({}); Δ = model − baseline, % = Δ / baseline.",
        baseline.name
    ));
    let mut t = Table::with_text_columns(&["metric", "model", "baseline", "value", "Δ", "%"], 2);
    for r in &c.comparison {
        t.row([
            r.metric.clone(),
            r.model.clone(),
            num(r.baseline_value, 4),
            num(r.value, 4),
            r.delta.map_or("n/a".into(), |v| format!("{v:+.4}")),
            r.percent_change.map_or("n/a".into(), |v| format!("{v:+.2}")),
        ]);
    }
    d.table(t).heading(3, "Efficiency").paragraph(
        "Training time and rate as each run recorded them (a seed group: the seeds' mean; an ensemble: the members' summed time and mean rate); inference: the best rate of the run's `bench.csv` (tokenization included). Δ and % against the baseline.",
    );
    let mut e = Table::with_text_columns(
        &[
            "model",
            "parameters",
            "training s",
            "Δ",
            "%",
            "training examples/s",
            "inference texts/s",
            "Δ",
            "%",
            "peak memory MiB",
        ],
        1,
    );
    let change = |v: Option<f64>, b: Option<f64>| match (v, b) {
        (Some(v), Some(b)) if b != 0.0 => (format!("{:+.0}", v - b), format!("{:+.1}", 100.0 * (v - b) / b)),
        _ => ("n/a".into(), "n/a".into()),
    };
    for m in &c.models {
        let (train_delta, train_percent) = change(m.train_seconds, baseline.train_seconds);
        let (rate_delta, rate_percent) = change(m.inference_texts_per_second, baseline.inference_texts_per_second);
        e.row([
            m.name.clone(),
            num(m.parameters, 0),
            num(m.train_seconds, 0),
            train_delta,
            train_percent,
            num(m.examples_per_second, 1),
            num(m.inference_texts_per_second, 0),
            rate_delta,
            rate_percent,
            num(m.peak_resident_mib, 0),
        ]);
    }
    d.table(e);
}

fn per_emotion_section(d: &mut Document, c: &Comparison) {
    d.heading(2, "Per-Emotion Performance").paragraph(
        "Test metrics per emotion at each run's thresholds, best F1 first: the five best and five worst (every emotion in `per_emotion_<model>.csv`). For several seeds: mean ± std over seeds.",
    );
    for m in &c.models {
        let Some(rows) = c.per_emotion.get(&m.name) else {
            continue;
        };
        let shown: Vec<_> = if rows.len() > 10 {
            rows[..5].iter().chain(&rows[rows.len() - 5..]).collect()
        } else {
            rows.iter().collect()
        };
        d.heading(3, format!("{} ({})", m.name, m.describe()))
            .table(tables::per_emotion(&shown, false))
            .paragraph(format!(
                "Never predicted on test: {}.",
                if m.never_predicted.is_empty() {
                    "none".to_string()
                } else {
                    m.never_predicted.join(", ")
                }
            ))
            .figure(
                format!("per_emotion_f1_{}.png", m.name),
                format!("{}: F1 per emotion", m.name),
            );
    }
}

fn threshold_section(d: &mut Document, c: &Comparison) {
    d.heading(2, "Threshold Selection").paragraph(
        "Each strategy is fitted on dev and scored on test (a seed group: on each seed, then the mean). The threshold column is the global threshold a strategy fitted; \"never predicted\" counts labels with no positive prediction on test. Every global threshold: `threshold_sweep.csv`; fitted per-class thresholds: `per_class_thresholds.csv`.",
    );
    d.table(tables::strategies(&c.thresholds, false));
    for m in &c.models {
        d.figure(
            format!("threshold_sweep_{}.png", m.name),
            format!("{}: threshold sweep", m.name),
        )
        .figure(
            format!("labels_predicted_{}.png", m.name),
            format!("{}: labels predicted", m.name),
        )
        .figure(
            format!("per_class_thresholds_{}.png", m.name),
            format!("{}: per-class thresholds", m.name),
        );
    }
}

/// The calibration table: each model's test probabilities (and its raw ones, when its run
/// recorded them) against the label-frequency baseline, with the verdict of the stated rule.
fn calibration_section(d: &mut Document, c: &Comparison) {
    let frequency = c.calibration.values().next().map_or(f64::NAN, |k| k.frequency);
    d.heading(2, "Calibration").paragraph(format!(
        "Calibration is fitted on dev per label (`calibration.json` in the checkpoint) and applied to every score goemo gives; \"before its calibration\" is a run's model output as trained (for an ensemble, the mean of its members' calibrated probabilities). The baseline predicts each label's training frequency for every text; mean probability is compared with the frequency of positives ({frequency:.4} on test). Brier is one number: every label has the same texts, so its mean over all cells equals the mean of the labels' Brier scores. A seed group shows its seeds' mean."
    ));
    let mut t = Table::with_text_columns(
        &[
            "model",
            "probabilities",
            "calibration",
            "Brier (baseline)",
            "log loss",
            "ECE, 10 equal-width bins",
            "ECE, 10 equal-mass bins",
            "mean probability",
            "labels no worse than baseline",
        ],
        3,
    );
    for (model, k) in &c.calibration {
        let n = k.per_class.len();
        let mut row = |which: &str, method: &str, x: &crate::CalibrationNumbers| {
            t.row([
                model.clone(),
                which.to_string(),
                method.to_string(),
                format!("{:.4} ({:.4})", x.brier, k.baseline_brier),
                format!("{:.4}", x.log_loss),
                format!("{:.4}", x.ece),
                format!("{:.4}", x.ece_equal_mass),
                format!("{:.4}", x.mean_probability),
                format!("{}/{n}", count(x.labels_no_worse_than_baseline)),
            ]);
        };
        if let Some(before) = &k.before {
            row("before its calibration", "none", before);
        }
        row("as served", &k.method, &k.after);
    }
    let list = |readable: bool| {
        let names: Vec<&str> = c
            .calibration
            .iter()
            .filter(|(_, k)| k.reads_as_probabilities == readable)
            .map(|(m, _)| m.as_str())
            .collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    d.table(t).paragraph(format!(
        "Rule: a model's scores read as probabilities when the ECE of all cells is at most 0.02, their mean is within 0.01 of the frequency of positives, and at least 90 % of the labels have a Brier score no worse than their baseline. Read as probabilities: {}. Not: {}. Per emotion (Brier beside its baseline, log loss, both ECEs): `calibration.csv`.",
        list(true),
        list(false)
    ));
    for model in c.calibration.keys() {
        d.figure(format!("reliability_{model}.png"), format!("{model}: reliability"))
            .figure(
                format!("calibration_ece_{model}.png"),
                format!("{model}: ECE per emotion"),
            )
            .figure(
                format!("calibration_brier_{model}.png"),
                format!("{model}: Brier per emotion against its baseline"),
            );
    }
}

fn significance_section(d: &mut Document, c: &Comparison) {
    d.heading(2, "Significance");
    if c.paired_bootstrap.is_empty() && c.seed_tests.is_empty() {
        d.paragraph("No paired comparisons (one model, or none comparable).");
    }
    if !c.paired_bootstrap.is_empty() {
        d.paragraph(format!(
            "Paired bootstrap over test texts (model − baseline; a seed group enters as the mean of its seeds on every resample, so Δ is the comparison table's). With B resamples the smallest p a bootstrap can give is 1/(B+1): a p below it is printed as \"< 1/(B+1)\", and a Holm-adjusted one below m/(B+1) as \"< m/(B+1)\". Holm's p adjusts for the m = {} tests of this table (family-wise error).",
            c.paired_bootstrap.len()
        ));
        let mut t = Table::with_text_columns(
            &[
                "model",
                "metric",
                "Δ",
                "95 % interval",
                "p (two-sided)",
                "p (Holm)",
                "resamples",
            ],
            2,
        );
        let tests = c.paired_bootstrap.len();
        for r in &c.paired_bootstrap {
            t.row([
                r.model.clone(),
                r.metric.clone(),
                format!("{:+.4}", r.delta),
                format!("[{:+.4}, {:+.4}]", r.ci_low, r.ci_high),
                tables::p_value(r.p_value, r.resamples, 1),
                tables::p_value(r.p_holm, r.resamples, tests),
                r.resamples.to_string(),
            ]);
        }
        d.table(t);
    }
    if !c.seed_tests.is_empty() {
        d.paragraph("t-tests across seeds, each model against an earlier one: Welch's when both have several seeds, one-sample (the seeds against the single run's value) when one is a single run; Holm's p adjusts across this table.");
        let mut t = Table::with_text_columns(
            &["model", "baseline", "metric", "test", "Δ", "t", "dof", "p", "p (Holm)"],
            4,
        );
        for s in &c.seed_tests {
            t.row([
                s.model.clone(),
                s.baseline.clone(),
                s.metric.clone(),
                s.test.replace('_', "-"),
                format!("{:+.4}", s.delta),
                format!("{:.3}", s.statistic),
                format!("{:.2}", s.dof),
                format!("{:.4}", s.p_value),
                format!("{:.4}", s.p_holm),
            ]);
        }
        d.table(t);
    }
}

fn errors_section(d: &mut Document, c: &Comparison) {
    d.heading(2, "Errors").paragraph("The most frequent true label combinations on test and how the predictions matched them (two empty sets count 1 in the Jaccard mean; a seed group: its seeds' mean). Label pairs with lift and PMI (in bits: log2 of the lift) in `cooccurrence_pairs.csv`.");
    for m in &c.models {
        if let Some(rows) = c.combos.get(&m.name) {
            d.heading(3, format!("{} ({}): label combinations", m.name, m.describe()))
                .table(tables::combos(rows, 3));
        }
    }
    d.paragraph("Label pairs on test, labels ordered by frequency (most frequent first): the true pairs once (every model has the same test set), then each model's predicted pairs and predicted − true on one scale for all models.")
        .figure("cooccurrence_true.png", "true label pairs");
    for model in c.cooccurrence.keys() {
        d.figure(
            format!("cooccurrence_predicted_{model}.png"),
            format!("{model}: predicted label pairs"),
        )
        .figure(
            format!("cooccurrence_difference_{model}.png"),
            format!("{model}: predicted − true label pairs"),
        );
    }
}

fn artifacts_section(d: &mut Document, c: &Comparison) {
    d.heading(2, "Model Artifacts")
        .paragraph("The files of each model's (first) run folder.");
    for m in &c.models {
        let mut t = Table::with_text_columns(&["file", "bytes"], 1);
        for (file, size) in &m.artifacts {
            t.row([file.clone(), size.to_string()]);
        }
        d.heading(3, format!("{}: files", m.name)).table(t);
    }
}

/// The reliability diagram over a second panel with each plotted bin's number of texts (log
/// scale), so that a bin of 3 texts is not read like one of 3,000.
pub(crate) fn reliability_chart(out: &Path, m: &ModelSummary, by_support: &[&ClassCalibration]) -> Result<()> {
    let model = &m.name;
    let pooled = match m.runs.len() {
        1 => String::new(),
        n => format!(", the {n} seeds' predictions pooled"),
    };
    let mut lines = vec![Series {
        name: "perfectly calibrated".into(),
        points: vec![(0.0, 0.0), (1.0, 1.0)],
        color: (120, 120, 120),
        dashed: true,
        markers: false,
    }];
    let mut counts = vec![];
    for (class, color) in by_support.iter().zip(crate::figures::PALETTE) {
        let bins = class.bins.iter().filter(|b| b.count > 0);
        lines.push(Series {
            name: format!("{} ({} positives)", class.label, class.support),
            points: bins.clone().map(|b| (b.mean_score, b.fraction_positive)).collect(),
            color,
            dashed: false,
            markers: true,
        });
        counts.push(Series {
            name: class.label.clone(),
            points: bins.map(|b| (b.mean_score, (b.count as f64).log10())).collect(),
            color,
            dashed: false,
            markers: true,
        });
    }
    let top = counts
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(1.0f64, f64::max);
    Ok(stacked_line_charts(
        out.join(format!("reliability_{model}.png")),
        &format!("{model}: reliability on test, the six emotions with most positives{pooled}"),
        &[
            LineChart {
                title: "observed rate against mean predicted probability (10 equal-width bins)",
                x_label: "mean predicted probability",
                y_label: "observed rate",
                series: &lines,
                x_range: (0.0, 1.0),
                y_range: Some((0.0, 1.0)),
                legend: LegendPosition::UpperLeft,
            },
            LineChart {
                title: "texts in each bin (log10: 1 = 10 texts, 3 = 1,000)",
                x_label: "mean predicted probability",
                y_label: "log10 texts",
                series: &counts,
                x_range: (0.0, 1.0),
                y_range: Some((0.0, top.ceil() + 0.2)),
                legend: LegendPosition::UpperRight,
            },
        ],
    )?)
}
