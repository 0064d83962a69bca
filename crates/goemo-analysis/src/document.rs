//! The "Model Performance" document and its files: `model_performance.md`, `comparison.json`,
//! CSV tables and charts, each written atomically into the output folder.

use std::fmt::Write as _;
use std::path::Path;

use goemo_report::{bar_chart, write_csv_atomic as write_csv, BarChart};

use crate::compare::{Comparison, METRICS};
use crate::Result;

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.digits$}"))
}

fn f1_colour(f1: f64) -> (u8, u8, u8) {
    if f1 > 0.5 {
        (60, 150, 80)
    } else if f1 >= 0.1 {
        (220, 170, 40)
    } else {
        (200, 60, 50)
    }
}

/// Writes every file of the report into `out` (created if needed).
pub fn write_report(c: &Comparison, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|source| goemo_fs::FsError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    goemo_fs::write_json_atomic(out.join("comparison.json"), c)?;
    for (model, rows) in &c.per_emotion {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.rank.to_string(),
                    r.label.clone(),
                    format!("{:.6}", r.f1),
                    format!("{:.6}", r.precision),
                    format!("{:.6}", r.recall),
                    opt(r.auc, 6),
                    r.support.to_string(),
                    r.predicted.to_string(),
                ]
            })
            .collect();
        write_csv(
            out.join(format!("per_emotion_{model}.csv")),
            &[
                "rank",
                "label",
                "f1",
                "precision",
                "recall",
                "auc",
                "support",
                "predicted",
            ],
            &table,
        )?;
        let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
        let values: Vec<f64> = rows.iter().map(|r| r.f1).collect();
        bar_chart(
            out.join(format!("per_emotion_f1_{model}.png")),
            &BarChart {
                title: &format!("{model}: test F1 per emotion (green > 0.5, yellow 0.1-0.5, red < 0.1)"),
                x_label: "F1 at the run's thresholds",
                labels: &labels,
                values: &values,
                colors: Some(values.iter().map(|&f| f1_colour(f)).collect()),
                value_format: |v| format!("{v:.3}"),
            },
        )?;
    }
    let mut thresholds = vec![];
    for (model, rows) in &c.thresholds {
        for r in rows {
            thresholds.push(vec![
                model.clone(),
                r.strategy.clone(),
                format!("{:.6}", r.f1_micro),
                format!("{:.6}", r.f1_macro),
                format!("{:.6}", r.precision_micro),
                format!("{:.6}", r.precision_macro),
                format!("{:.6}", r.recall_micro),
                format!("{:.6}", r.recall_macro),
                r.never_predicted.to_string(),
            ]);
        }
    }
    write_csv(
        out.join("thresholds.csv"),
        &[
            "model",
            "strategy",
            "f1_micro",
            "f1_macro",
            "precision_micro",
            "precision_macro",
            "recall_micro",
            "recall_macro",
            "never_predicted",
        ],
        &thresholds,
    )?;
    let mut calibration = vec![];
    for (model, s) in &c.calibration {
        for k in &s.per_class {
            calibration.push(vec![
                model.clone(),
                k.label.clone(),
                format!("{:.6}", k.brier),
                format!("{:.6}", k.ece),
                k.support.to_string(),
            ]);
        }
    }
    write_csv(
        out.join("calibration.csv"),
        &["model", "label", "brier", "ece", "support"],
        &calibration,
    )?;
    let mut combos = vec![];
    for (model, rows) in &c.combos {
        for r in rows {
            combos.push(vec![
                model.clone(),
                r.labels.clone(),
                r.count.to_string(),
                format!("{:.6}", r.exact_match),
                format!("{:.6}", r.partial_match),
                format!("{:.6}", r.mean_jaccard),
            ]);
        }
    }
    write_csv(
        out.join("combinations.csv"),
        &[
            "model",
            "labels",
            "count",
            "exact_match",
            "partial_match",
            "mean_jaccard",
        ],
        &combos,
    )?;
    let mut pairs = vec![];
    for (model, rows) in &c.cooccurrence {
        for r in rows {
            pairs.push(vec![
                model.clone(),
                r.a.clone(),
                r.b.clone(),
                r.count_true.to_string(),
                r.count_predicted.to_string(),
                format!("{:.6}", r.p_b_given_a),
                format!("{:.6}", r.lift),
                format!("{:.6}", r.pmi),
            ]);
        }
    }
    write_csv(
        out.join("cooccurrence_pairs.csv"),
        &[
            "model",
            "a",
            "b",
            "count_true",
            "count_predicted",
            "p_b_given_a",
            "lift",
            "pmi",
        ],
        &pairs,
    )?;
    // Metric comparison: one bar per model and headline metric.
    // One colour per model, the same under every metric.
    const PALETTE: [(u8, u8, u8); 6] = [
        (70, 110, 190),
        (220, 130, 40),
        (60, 150, 80),
        (170, 70, 160),
        (200, 60, 50),
        (110, 110, 110),
    ];
    let (mut labels, mut values, mut colors) = (vec![], vec![], vec![]);
    for metric in ["auc_micro", "auc_macro", "f1_micro", "f1_macro"] {
        for (i, m) in c.models.iter().enumerate() {
            labels.push(format!("{metric} · {}", m.name));
            values.push(m.test.get(metric).unwrap_or(f64::NAN));
            colors.push(PALETTE[i % PALETTE.len()]);
        }
    }
    bar_chart(
        out.join("metric_comparison.png"),
        &BarChart {
            title: "Test metrics by model",
            x_label: "value",
            labels: &labels,
            values: &values,
            colors: Some(colors),
            value_format: |v| format!("{v:.4}"),
        },
    )?;
    goemo_fs::write_bytes_atomic(out.join("model_performance.md"), markdown(c).as_bytes())?;
    Ok(())
}

/// The document's text.
pub fn markdown(c: &Comparison) -> String {
    let mut s = String::new();
    let baseline = &c.models[0];
    let _ = writeln!(s, "# Model Performance\n");
    let _ = writeln!(s, "## Overview\n");
    let _ = writeln!(
        s,
        "Primary metric: test micro ROC AUC; secondary: macro ROC AUC and micro F1; tertiary: macro F1, macro and micro precision and recall, per-emotion F1. Every number below is computed from the run folders by `report`; F1, precision and recall use each run's own thresholds (fitted on dev). Baseline: **{}**.\n",
        baseline.name
    );
    let _ = writeln!(s, "| model | runs | micro AUC | macro AUC | micro F1 | macro F1 | never predicted |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for m in &c.models {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.4} | {:.4} | {} |",
            m.name,
            m.runs.len(),
            opt(m.test.auc_micro, 4),
            opt(m.test.auc_macro, 4),
            m.test.f1_micro,
            m.test.f1_macro,
            m.never_predicted.len()
        );
    }
    for note in &c.notes {
        let _ = writeln!(s, "\n> {note}");
    }
    for m in &c.models {
        let _ = writeln!(s, "\n## {}\n", m.name);
        let _ = writeln!(s, "- runs: {}", m.runs.join(", "));
        let _ = writeln!(
            s,
            "- device {}, precision {}, threads {}, libtorch {}",
            m.device.as_deref().unwrap_or("n/a"),
            m.precision.as_deref().unwrap_or("n/a"),
            opt(m.threads, 0),
            m.libtorch.as_deref().unwrap_or("n/a")
        );
        let _ = writeln!(
            s,
            "- {} labels, {} test examples; training {} s at {} examples/s; best dev {} {} at epoch {}",
            m.labels.len(),
            m.test_examples,
            opt(m.train_seconds, 0),
            opt(m.examples_per_second, 1),
            m.select_by.as_deref().unwrap_or("metric"),
            opt(m.best_dev, 4),
            m.best_epoch.map_or("n/a".into(), |e| e.to_string())
        );
        let _ = writeln!(s, "\n| metric | test |\n| --- | ---: |");
        for metric in METRICS {
            let _ = writeln!(s, "| {metric} | {} |", opt(m.test.get(metric), 4));
        }
        if !m.seeds.is_empty() {
            let _ = writeln!(
                s,
                "\nOver {} seeds:\n\n| metric | mean ± std | min | max | n |\n| --- | ---: | ---: | ---: | ---: |",
                m.runs.len()
            );
            for (metric, st) in &m.seeds {
                let _ = writeln!(
                    s,
                    "| {metric} | {:.4} ± {:.4} | {:.4} | {:.4} | {} |",
                    st.mean, st.std, st.min, st.max, st.n
                );
            }
        }
    }
    if c.models.len() > 1 {
        let _ = writeln!(s, "\n## Model Comparison\n\n| metric | model | baseline | value | Δ | % |\n| --- | --- | ---: | ---: | ---: | ---: |");
        for r in &c.comparison {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                r.metric,
                r.model,
                opt(r.baseline_value, 4),
                opt(r.value, 4),
                opt(r.delta, 4),
                opt(r.percent_change, 2)
            );
        }
        let _ = writeln!(
            s,
            "\n| model | parameters | training s | best epoch | examples/s |\n| --- | ---: | ---: | ---: | ---: |"
        );
        for m in &c.models {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                m.name,
                opt(m.parameters, 0),
                opt(m.train_seconds, 0),
                m.best_epoch.map_or("n/a".into(), |e| e.to_string()),
                opt(m.examples_per_second, 1)
            );
        }
    }
    let _ = writeln!(s, "\n## Per-Emotion Performance");
    for (model, rows) in &c.per_emotion {
        let _ = writeln!(s, "\n### {model}\n\n| rank | emotion | F1 | precision | recall | AUC | support | predicted |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        let shown: Vec<_> = if rows.len() > 10 {
            rows[..5].iter().chain(&rows[rows.len() - 5..]).collect()
        } else {
            rows.iter().collect()
        };
        for r in shown {
            let _ = writeln!(
                s,
                "| {} | {} | {:.4} | {:.4} | {:.4} | {} | {} | {} |",
                r.rank,
                r.label,
                r.f1,
                r.precision,
                r.recall,
                opt(r.auc, 4),
                r.support,
                r.predicted
            );
        }
        let never: Vec<&str> = rows
            .iter()
            .filter(|r| r.predicted == 0)
            .map(|r| r.label.as_str())
            .collect();
        let _ =
            writeln!(
            s,
            "\nNever predicted: {}. Chart: `per_emotion_f1_{model}.png`; every emotion in `per_emotion_{model}.csv`.",
            if never.is_empty() { "none".to_string() } else { never.join(", ") }
        );
    }
    let _ = writeln!(s, "\n## Threshold Selection\n\nFitted on dev, scored on test.\n\n| model | strategy | micro F1 | macro F1 | micro P | macro P | micro R | macro R | never predicted |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (model, rows) in &c.thresholds {
        for r in rows {
            let _ = writeln!(
                s,
                "| {model} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {} |",
                r.strategy,
                r.f1_micro,
                r.f1_macro,
                r.precision_micro,
                r.precision_macro,
                r.recall_micro,
                r.recall_macro,
                r.never_predicted
            );
        }
    }
    let _ = writeln!(
        s,
        "\n## Calibration\n\n| model | Brier micro | Brier macro | ECE macro (10 bins) |\n| --- | ---: | ---: | ---: |"
    );
    for (model, k) in &c.calibration {
        let _ = writeln!(
            s,
            "| {model} | {:.5} | {:.5} | {:.5} |",
            k.brier_micro, k.brier_macro, k.ece_macro
        );
    }
    let _ = writeln!(s, "\nPer emotion: `calibration.csv`.");
    let _ = writeln!(s, "\n## Significance\n");
    if c.paired_bootstrap.is_empty() && c.seed_tests.is_empty() {
        let _ = writeln!(s, "No paired comparisons (one model, or none comparable).");
    }
    if !c.paired_bootstrap.is_empty() {
        let _ = writeln!(s, "Paired bootstrap over test examples (model − baseline):\n\n| model | metric | Δ | 95 % interval | p (two-sided) | resamples |\n| --- | --- | ---: | --- | ---: | ---: |");
        for r in &c.paired_bootstrap {
            let _ = writeln!(
                s,
                "| {} | {} | {:+.4} | [{:+.4}, {:+.4}] | {:.4} | {} |",
                r.model, r.metric, r.delta, r.ci_low, r.ci_high, r.p_value, r.resamples
            );
        }
    }
    if !c.seed_tests.is_empty() {
        let _ = writeln!(
            s,
            "\nWelch's t-test across seeds:\n\n| model | metric | t | dof | p |\n| --- | --- | ---: | ---: | ---: |"
        );
        for t in &c.seed_tests {
            let _ = writeln!(
                s,
                "| {} | {} | {:.3} | {:.2} | {:.4} |",
                t.model, t.metric, t.statistic, t.dof, t.p_value
            );
        }
    }
    let _ = writeln!(s, "\n## Errors\n\nThe most frequent true label combinations on test and how the predictions matched them (two empty sets count 1 in the Jaccard mean); label-pair co-occurrence with lift and PMI in `cooccurrence_pairs.csv`.");
    for (model, rows) in &c.combos {
        let _ = writeln!(s, "\n### {model}\n\n| labels | count | exact match | partial match | mean Jaccard |\n| --- | ---: | ---: | ---: | ---: |");
        for r in rows {
            let name = if r.labels.is_empty() {
                "(none)"
            } else {
                r.labels.as_str()
            };
            let _ = writeln!(
                s,
                "| {name} | {} | {:.3} | {:.3} | {:.3} |",
                r.count, r.exact_match, r.partial_match, r.mean_jaccard
            );
        }
    }
    let _ = writeln!(s, "\n## Model Artifacts");
    for m in &c.models {
        let _ = writeln!(s, "\n### {}\n\n| file | bytes |\n| --- | ---: |", m.name);
        for (file, size) in &m.artifacts {
            let _ = writeln!(s, "| {file} | {size} |");
        }
    }
    s
}
