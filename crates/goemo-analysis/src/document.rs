//! The "Model Performance" document and its files: `model_performance.md`, `comparison.json`,
//! CSV tables and charts, each written atomically into the output folder.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use goemo_report::{
    bar_chart, heatmap, interval_chart, line_chart, stacked_line_charts, write_csv_atomic as write_csv, BarChart,
    Heatmap, IntervalChart, IntervalRow, LegendPosition, LineChart, Series,
};

use crate::compare::{CalibrationNumbers, ClassCalibration, Comparison, METRICS};
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
                marker: Some((0.5, "F1 0.5")),
                whiskers: None,
            },
        )?;
    }
    per_model_csv(
        &out.join("thresholds.csv"),
        &columns("strategy", &["never_predicted"]),
        slices(&c.thresholds),
        |r| {
            let mut cells = vec![r.strategy.clone()];
            cells.extend(rate_cells([
                r.f1_micro,
                r.f1_macro,
                r.precision_micro,
                r.precision_macro,
                r.recall_micro,
                r.recall_macro,
            ]));
            cells.push(r.never_predicted.to_string());
            cells
        },
    )?;
    per_model_csv(
        &out.join("calibration.csv"),
        &[
            "label",
            "brier",
            "baseline_brier",
            "log_loss",
            "ece",
            "ece_equal_mass",
            "support",
        ],
        c.calibration.iter().map(|(m, k)| (m, k.per_class.as_slice())),
        |k: &ClassCalibration| {
            vec![
                k.label.clone(),
                format!("{:.6}", k.brier),
                format!("{:.6}", k.baseline_brier),
                format!("{:.6}", k.log_loss),
                format!("{:.6}", k.ece),
                format!("{:.6}", k.ece_equal_mass),
                k.support.to_string(),
            ]
        },
    )?;
    per_model_csv(
        &out.join("combinations.csv"),
        &["labels", "count", "exact_match", "partial_match", "mean_jaccard"],
        slices(&c.combos),
        |r| {
            vec![
                r.labels.clone(),
                r.count.to_string(),
                format!("{:.6}", r.exact_match),
                format!("{:.6}", r.partial_match),
                format!("{:.6}", r.mean_jaccard),
            ]
        },
    )?;
    per_model_csv(
        &out.join("cooccurrence_pairs.csv"),
        &["a", "b", "count_true", "count_predicted", "p_b_given_a", "lift", "pmi"],
        slices(&c.cooccurrence),
        |r| {
            vec![
                r.a.clone(),
                r.b.clone(),
                r.count_true.to_string(),
                r.count_predicted.to_string(),
                format!("{:.6}", r.p_b_given_a),
                format!("{:.6}", r.lift),
                format!("{:.6}", r.pmi),
            ]
        },
    )?;
    // Metric comparison: one bar per model and headline metric; one colour per model, the same
    // under every metric.
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
            marker: None,
            whiskers: None,
        },
    )?;
    figures(c, out)?;
    goemo_fs::write_bytes_atomic(out.join("model_performance.md"), markdown(c).as_bytes())?;
    Ok(())
}

const BLUE: (u8, u8, u8) = (70, 110, 190);
const GREEN: (u8, u8, u8) = (60, 150, 80);
const RED: (u8, u8, u8) = (200, 60, 50);
const GREY: (u8, u8, u8) = (120, 120, 120);
/// Six distinguishable colours: models in the metric comparison, emotions in the reliability
/// diagram.
const PALETTE: [(u8, u8, u8); 6] = [
    (70, 110, 190),
    (220, 130, 40),
    (60, 150, 80),
    (170, 70, 160),
    (200, 60, 50),
    (40, 170, 180),
];

/// A map's entries as (model, rows) for [`per_model_csv`].
fn slices<R>(map: &BTreeMap<String, Vec<R>>) -> impl Iterator<Item = (&String, &[R])> {
    map.iter().map(|(m, rows)| (m, rows.as_slice()))
}

/// One CSV of every model's rows: a `model` column, then `header`'s columns from `cells`.
/// The header of a table of thresholded rates: `first`, then F1, precision and recall (micro,
/// macro: the order of [`METRICS`] after the AUCs), then `last`.
fn columns<'a>(first: &'a str, last: &[&'a str]) -> Vec<&'a str> {
    std::iter::once(first)
        .chain(METRICS[2..].iter().copied())
        .chain(last.iter().copied())
        .collect()
}

/// F1, precision and recall (micro, macro) as the cells of [`columns`].
fn rate_cells(rates: [f64; 6]) -> [String; 6] {
    rates.map(|v| format!("{v:.6}"))
}

fn per_model_csv<'a, R: 'a>(
    path: &Path,
    header: &[&str],
    rows: impl IntoIterator<Item = (&'a String, &'a [R])>,
    cells: impl Fn(&R) -> Vec<String>,
) -> Result<()> {
    let header: Vec<&str> = std::iter::once("model").chain(header.iter().copied()).collect();
    let table: Vec<Vec<String>> = rows
        .into_iter()
        .flat_map(|(model, rows)| {
            rows.iter().map(|r| {
                let mut row = vec![model.clone()];
                row.extend(cells(r));
                row
            })
        })
        .collect();
    Ok(write_csv(path, &header, &table)?)
}

/// The reliability diagram over a second panel with each plotted bin's number of texts (log
/// scale), so that a bin of 3 texts is not read like one of 3,000.
fn reliability_chart(path: &Path, model: &str, lines: &[Series], classes: &[&ClassCalibration]) -> Result<()> {
    let counts: Vec<Series> = classes
        .iter()
        .zip(PALETTE)
        .map(|(class, color)| Series {
            name: class.label.clone(),
            points: class
                .bins
                .iter()
                .filter(|b| b.count > 0)
                .map(|b| (b.mean_score, (b.count as f64).log10()))
                .collect(),
            color,
            dashed: false,
            markers: true,
        })
        .collect();
    let top = counts
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(1.0f64, f64::max);
    Ok(stacked_line_charts(
        path,
        &format!("{model}: reliability on test, the six emotions with most positives"),
        &[
            LineChart {
                title: "observed rate against mean predicted probability (10 equal-width bins)",
                x_label: "mean predicted probability",
                y_label: "observed rate",
                series: lines,
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

/// A line chart whose axes both run from 0 to 1 (rates against thresholds or probabilities).
fn unit_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    lines: &[Series],
    legend: LegendPosition,
) -> Result<()> {
    Ok(line_chart(
        path,
        &LineChart {
            title,
            x_label,
            y_label,
            series: lines,
            x_range: (0.0, 1.0),
            y_range: Some((0.0, 1.0)),
            legend,
        },
    )?)
}

fn series(name: &str, points: Vec<(f64, f64)>, color: (u8, u8, u8), dashed: bool) -> Series {
    Series {
        name: name.into(),
        points,
        color,
        dashed,
        markers: false,
    }
}

/// The sweep, per-class threshold, calibration, co-occurrence and seed figures, and the sweep
/// and per-class threshold tables.
fn figures(c: &Comparison, out: &Path) -> Result<()> {
    for (model, rows) in &c.sweep {
        let line = |f: fn(&goemo_threshold::SweepRow) -> f64| rows.iter().map(|r| (r.threshold, f(r))).collect();
        let lines = [
            series("micro F1", line(|r| r.f1_micro), BLUE, false),
            series("macro F1", line(|r| r.f1_macro), BLUE, true),
            series("micro precision", line(|r| r.precision_micro), GREEN, false),
            series("macro precision", line(|r| r.precision_macro), GREEN, true),
            series("micro recall", line(|r| r.recall_micro), RED, false),
            series("macro recall", line(|r| r.recall_macro), RED, true),
        ];
        unit_chart(
            &out.join(format!("threshold_sweep_{model}.png")),
            &format!("{model}: test metrics at one global threshold"),
            "threshold",
            "value",
            &lines,
            LegendPosition::MiddleLeft,
        )?;
        let labels = c.models.iter().find(|m| &m.name == model).map_or(0, |m| m.labels.len());
        line_chart(
            out.join(format!("labels_predicted_{model}.png")),
            &LineChart {
                title: &format!("{model}: labels predicted at least once on test ({labels} labels)"),
                x_label: "threshold",
                y_label: "labels predicted",
                series: &[series(
                    "labels predicted",
                    rows.iter().map(|r| (r.threshold, r.labels_predicted as f64)).collect(),
                    BLUE,
                    false,
                )],
                x_range: (0.0, 1.0),
                y_range: Some((0.0, labels as f64 + 1.0)),
                legend: LegendPosition::LowerLeft,
            },
        )?;
    }
    per_model_csv(
        &out.join("threshold_sweep.csv"),
        &columns("threshold", &["labels_predicted", "mean_labels_per_example"]),
        slices(&c.sweep),
        |r| {
            let mut cells = vec![format!("{:.2}", r.threshold)];
            cells.extend(rate_cells([
                r.f1_micro,
                r.f1_macro,
                r.precision_micro,
                r.precision_macro,
                r.recall_micro,
                r.recall_macro,
            ]));
            cells.push(r.labels_predicted.to_string());
            cells.push(format!("{:.6}", r.mean_labels_per_example));
            cells
        },
    )?;
    let mut fitted_rows = vec![];
    for m in &c.models {
        let Some(fitted) = c.thresholds.get(&m.name).and_then(|rows| {
            rows.iter()
                .find(|r| r.strategy == "per-class")
                .and_then(|r| r.thresholds.clone())
        }) else {
            continue;
        };
        let mut order: Vec<usize> = (0..fitted.len()).collect();
        order.sort_by(|&a, &b| fitted[b].total_cmp(&fitted[a]));
        let labels: Vec<String> = order.iter().map(|&i| m.labels[i].clone()).collect();
        let values: Vec<f64> = order.iter().map(|&i| fitted[i]).collect();
        bar_chart(
            out.join(format!("per_class_thresholds_{}.png", m.name)),
            &BarChart {
                title: &format!("{}: per-class thresholds fitted on dev (best F1 per emotion)", m.name),
                x_label: "threshold",
                labels: &labels,
                values: &values,
                colors: None,
                value_format: |v| format!("{v:.3}"),
                marker: None,
                whiskers: None,
            },
        )?;
        for (label, t) in m.labels.iter().zip(&fitted) {
            fitted_rows.push(vec![m.name.clone(), label.clone(), format!("{t:.6}")]);
        }
    }
    write_csv(
        out.join("per_class_thresholds.csv"),
        &["model", "label", "threshold"],
        &fitted_rows,
    )?;
    for (model, k) in &c.calibration {
        let mut by_support: Vec<&ClassCalibration> = k.per_class.iter().collect();
        by_support.sort_by(|a, b| b.support.cmp(&a.support).then_with(|| a.label.cmp(&b.label)));
        let mut lines = vec![Series {
            name: "perfectly calibrated".into(),
            points: vec![(0.0, 0.0), (1.0, 1.0)],
            color: GREY,
            dashed: true,
            markers: false,
        }];
        for (class, color) in by_support.iter().zip(PALETTE) {
            lines.push(Series {
                name: format!("{} ({} positives)", class.label, class.support),
                points: class
                    .bins
                    .iter()
                    .filter(|b| b.count > 0)
                    .map(|b| (b.mean_score, b.fraction_positive))
                    .collect(),
                color,
                dashed: false,
                markers: true,
            });
        }
        reliability_chart(
            &out.join(format!("reliability_{model}.png")),
            model,
            &lines,
            &by_support,
        )?;
        for (what, value, file) in [
            ("ECE (10 bins)", (|c: &ClassCalibration| c.ece) as fn(&_) -> f64, "ece"),
            ("Brier score", |c: &ClassCalibration| c.brier, "brier"),
        ] {
            let mut rows: Vec<&ClassCalibration> = k.per_class.iter().collect();
            rows.sort_by(|a, b| value(b).total_cmp(&value(a)));
            let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
            let values: Vec<f64> = rows.iter().map(|r| value(r)).collect();
            bar_chart(
                out.join(format!("calibration_{file}_{model}.png")),
                &BarChart {
                    title: &format!("{model}: {what} per emotion on test (lower is better)"),
                    x_label: what,
                    labels: &labels,
                    values: &values,
                    colors: None,
                    value_format: |v| format!("{v:.4}"),
                    marker: None,
                    whiskers: None,
                },
            )?;
        }
    }
    for (model, pairs) in &c.cooccurrence {
        let Some(m) = c.models.iter().find(|m| &m.name == model) else {
            continue;
        };
        let index = |l: &str| m.labels.iter().position(|x| x == l);
        let n = m.labels.len();
        let (mut truth, mut predicted) = (vec![vec![0.0; n]; n], vec![vec![0.0; n]; n]);
        for i in 0..n {
            truth[i][i] = f64::NAN;
            predicted[i][i] = f64::NAN;
        }
        for p in pairs {
            if let (Some(a), Some(b)) = (index(&p.a), index(&p.b)) {
                truth[a][b] = p.count_true as f64;
                predicted[a][b] = p.count_predicted as f64;
            }
        }
        // One scale for both, so that their colours compare.
        let max = truth
            .iter()
            .chain(&predicted)
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .fold(1.0f64, f64::max);
        for (which, values) in [("true", &truth), ("predicted", &predicted)] {
            heatmap(
                out.join(format!("cooccurrence_{which}_{model}.png")),
                &Heatmap {
                    title: &format!("{model}: test examples with both labels, {which} labels"),
                    labels: &m.labels,
                    values,
                    max,
                },
            )?;
        }
    }
    let seeded: Vec<&crate::compare::ModelSummary> = c.models.iter().filter(|m| !m.seeds.is_empty()).collect();
    if !seeded.is_empty() {
        let mut panels = vec![];
        for metric in ["auc_micro", "auc_macro", "f1_micro", "f1_macro"] {
            let rows: Vec<IntervalRow> = seeded
                .iter()
                .filter_map(|m| {
                    let st = m.seeds.get(metric)?;
                    Some(IntervalRow {
                        label: format!("{} (n={})", m.name, st.n),
                        mean: st.mean,
                        low: st.mean - st.std,
                        high: st.mean + st.std,
                        values: m.seed_values.get(metric).cloned().unwrap_or_default(),
                    })
                })
                .collect();
            panels.push((format!("test {metric}"), rows));
        }
        interval_chart(
            out.join("seed_intervals.png"),
            &IntervalChart {
                title: "Test metrics over seeds: each seed (dots), mean (red), ± one standard deviation (black)",
                panels: &panels,
            },
        )?;
    }
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
        if !m.ensemble_members.is_empty() {
            let _ = writeln!(
                s,
                "- an ensemble of {}: their probabilities averaged, thresholds fitted on the averaged dev set; training time is the members' sum",
                m.ensemble_members.join(", ")
            );
        }
        let _ = writeln!(
            s,
            "- device {}, precision {}, threads {}, libtorch {}",
            m.device.as_deref().unwrap_or("n/a"),
            m.precision.as_deref().unwrap_or("n/a"),
            opt(m.threads, 0),
            m.libtorch.as_deref().unwrap_or("n/a")
        );
        if let Some(cpu) = &m.cpu {
            let gpu = m.gpu.as_ref().map(|g| format!("GPU {g}; ")).unwrap_or_default();
            let _ = writeln!(
                s,
                "- hardware: {gpu}{cpu}, {} logical cores; {}; peak memory {} MiB",
                opt(m.logical_cores, 0),
                m.os.as_deref().unwrap_or("n/a"),
                opt(m.peak_resident_mib, 0)
            );
        }
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
            "\nEfficiency; Δ and % against the baseline ({}).\n\n| model | parameters | training s | Δ training s | % | best epoch | training examples/s | inference texts/s (bench.csv) | Δ inference | % | peak memory MiB |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            c.models.first().map_or("", |m| m.name.as_str())
        );
        let base = c.models.first();
        // Δ and % of a model's value against the baseline's, when both exist.
        let change =
            |value: Option<f64>, of: fn(&crate::compare::ModelSummary) -> Option<f64>| match (value, base.and_then(of))
            {
                (Some(v), Some(b)) if b != 0.0 => (format!("{:+.0}", v - b), format!("{:+.1}", 100.0 * (v - b) / b)),
                _ => ("n/a".to_string(), "n/a".to_string()),
            };
        for m in &c.models {
            let (train_delta, train_percent) = change(m.train_seconds, |b| b.train_seconds);
            let (inference_delta, inference_percent) =
                change(m.inference_texts_per_second, |b| b.inference_texts_per_second);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {train_delta} | {train_percent} | {} | {} | {} | {inference_delta} | {inference_percent} | {} |",
                m.name,
                opt(m.parameters, 0),
                opt(m.train_seconds, 0),
                m.best_epoch.map_or("n/a".into(), |e| e.to_string()),
                opt(m.examples_per_second, 1),
                opt(m.inference_texts_per_second, 0),
                opt(m.peak_resident_mib, 0)
            );
        }
    }
    let _ = writeln!(s, "\n![Test metrics by model](metric_comparison.png)");
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
            "\nNever predicted: {}. Every emotion in `per_emotion_{model}.csv`.\n\n![{model}: F1 per emotion](per_emotion_f1_{model}.png)",
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
    for model in c.sweep.keys() {
        let _ = writeln!(
            s,
            "\n![{model}: threshold sweep](threshold_sweep_{model}.png)\n![{model}: labels predicted](labels_predicted_{model}.png)\n![{model}: per-class thresholds](per_class_thresholds_{model}.png)"
        );
    }
    let _ = writeln!(
        s,
        "\nEvery global threshold: `threshold_sweep.csv`; fitted per-class thresholds: `per_class_thresholds.csv`."
    );
    calibration_section(&mut s, c);
    let _ = writeln!(
        s,
        "\nPer emotion (Brier beside its label-frequency baseline, log loss, both ECEs): `calibration.csv`."
    );
    for model in c.calibration.keys() {
        let _ = writeln!(
            s,
            "\n![{model}: reliability](reliability_{model}.png)\n![{model}: ECE per emotion](calibration_ece_{model}.png)\n![{model}: Brier per emotion](calibration_brier_{model}.png)"
        );
    }
    let _ = writeln!(s, "\n## Significance\n");
    if c.paired_bootstrap.is_empty() && c.seed_tests.is_empty() {
        let _ = writeln!(s, "No paired comparisons (one model, or none comparable).");
    }
    if !c.paired_bootstrap.is_empty() {
        let _ = writeln!(s, "Paired bootstrap over test examples (model − baseline). With B resamples a p-value of 0 means that no resample crossed zero, printed as < 1/(B+1); Holm's p adjusts for the {} tests of this table (family-wise error).\n\n| model | metric | Δ | 95 % interval | p (two-sided) | p (Holm) | resamples |\n| --- | --- | ---: | --- | ---: | ---: | ---: |", c.paired_bootstrap.len());
        let floor = |p: f64, resamples: usize, tests: usize| {
            if p > 0.0 {
                format!("{p:.4}")
            } else {
                format!("< {:.4}", (tests as f64 / (resamples as f64 + 1.0)).min(1.0))
            }
        };
        for r in &c.paired_bootstrap {
            let _ = writeln!(
                s,
                "| {} | {} | {:+.4} | [{:+.4}, {:+.4}] | {} | {} | {} |",
                r.model,
                r.metric,
                r.delta,
                r.ci_low,
                r.ci_high,
                floor(r.p_value, r.resamples, 1),
                floor(r.p_holm, r.resamples, c.paired_bootstrap.len()),
                r.resamples
            );
        }
    }
    if !c.seed_tests.is_empty() {
        let _ = writeln!(
            s,
            "\nWelch's t-test across seeds (model against baseline, each a group of seeds):\n\n| model | baseline | metric | t | dof | p |\n| --- | --- | --- | ---: | ---: | ---: |"
        );
        for t in &c.seed_tests {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.3} | {:.2} | {:.4} |",
                t.model, t.baseline, t.metric, t.statistic, t.dof, t.p_value
            );
        }
    }
    if c.models.iter().any(|m| !m.seeds.is_empty()) {
        let _ = writeln!(s, "\n![Seed intervals](seed_intervals.png)");
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
    for model in c.cooccurrence.keys() {
        let _ = writeln!(
            s,
            "\n![{model}: true label pairs](cooccurrence_true_{model}.png)\n![{model}: predicted label pairs](cooccurrence_predicted_{model}.png)"
        );
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

/// The calibration table: each model's test probabilities (and its raw ones, when its run
/// recorded them) against the label-frequency baseline, with the verdict of the stated rule.
fn calibration_section(s: &mut String, c: &Comparison) {
    let _ = writeln!(
        s,
        "\n## Calibration\n\nCalibration is fitted on dev per label (`calibration.json` in the checkpoint) and applied to every score goemo gives; \"before its calibration\" is a run's model output as trained (for an ensemble, the mean of its members' calibrated probabilities). The baseline predicts each label's training frequency for every text; mean probability is compared with the frequency of positives ({:.4} on test). Brier is one number: every label has the same texts, so its mean over all cells equals the mean of the labels' Brier scores.\n",
        c.calibration.values().next().map_or(f64::NAN, |k| k.frequency)
    );
    let _ = writeln!(
        s,
        "| model | probabilities | calibration | Brier (baseline) | log loss | ECE, 10 equal-width bins | ECE, 10 equal-mass bins | mean probability | labels no worse than baseline |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (model, k) in &c.calibration {
        let n = k.per_class.len();
        let row = |s: &mut String, name: &str, which: &str, method: &str, x: &CalibrationNumbers| {
            let _ = writeln!(
                s,
                "| {name} | {which} | {method} | {:.4} ({:.4}) | {:.4} | {:.4} | {:.4} | {:.4} | {}/{n} |",
                x.brier,
                k.baseline_brier,
                x.log_loss,
                x.ece,
                x.ece_equal_mass,
                x.mean_probability,
                x.labels_no_worse_than_baseline
            );
        };
        if let Some(before) = &k.before {
            row(s, model, "before its calibration", "none", before);
        }
        row(s, model, "as served", &k.method, &k.after);
    }
    let readable: Vec<&str> = c
        .calibration
        .iter()
        .filter(|(_, k)| k.reads_as_probabilities)
        .map(|(m, _)| m.as_str())
        .collect();
    let not_readable: Vec<&str> = c
        .calibration
        .iter()
        .filter(|(_, k)| !k.reads_as_probabilities)
        .map(|(m, _)| m.as_str())
        .collect();
    let list = |v: &[&str]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
    let _ = writeln!(
        s,
        "\nRule: a model's scores read as probabilities when the ECE of all cells is at most 0.02, their mean is within 0.01 of the frequency of positives, and at least 90 % of the labels have a Brier score no worse than their baseline. Read as probabilities: {}. Not: {}.",
        list(&readable),
        list(&not_readable)
    );
}
