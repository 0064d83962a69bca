//! The document's charts, each drawn from the comparison: test metrics by model, dev curves,
//! F1 per emotion, threshold sweeps and fitted thresholds, reliability and per-emotion
//! calibration, and label co-occurrence (true, predicted and their difference).

use std::path::Path;

use goemo_report::{
    bar_chart, heatmap, interval_chart, line_chart, stacked_line_charts, BarChart, Heatmap, IntervalChart, IntervalRow,
    LegendPosition, LineChart, Series,
};

use crate::compare::{ClassCalibration, Comparison, ModelKind, ModelSummary};
use crate::Result;

const BLUE: (u8, u8, u8) = (70, 110, 190);
const GREEN: (u8, u8, u8) = (60, 150, 80);
const RED: (u8, u8, u8) = (200, 60, 50);
const GREY: (u8, u8, u8) = (120, 120, 120);
const ORANGE: (u8, u8, u8) = (220, 130, 40);
/// Six distinguishable colours: runs in a dev curve, emotions in the reliability diagram.
pub(crate) const PALETTE: [(u8, u8, u8); 6] = [BLUE, ORANGE, GREEN, (170, 70, 160), RED, (40, 170, 180)];

/// Draws every chart of the document into `out`.
pub(crate) fn draw_all(c: &Comparison, out: &Path) -> Result<()> {
    metric_comparison(c, out)?;
    for m in &c.models {
        dev_curve(m, out)?;
        per_emotion_f1(c, m, out)?;
        threshold_sweep(c, m, out)?;
        per_class_thresholds(c, m, out)?;
    }
    calibration(c, out)?;
    cooccurrence(c, out)
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

/// The headline metrics, one panel each with its own zoomed axis: every model's value (each
/// seed a dot, the mean a red tick, ± one standard deviation a black bar).
fn metric_comparison(c: &Comparison, out: &Path) -> Result<()> {
    let panels: Vec<(String, Vec<IntervalRow>)> = ["auc_micro", "auc_macro", "f1_micro", "f1_macro"]
        .iter()
        .map(|&metric| {
            let rows = c
                .models
                .iter()
                .filter_map(|m| {
                    let mean = m.test.get(metric)?;
                    let (low, high, values) = match (m.seeds.get(metric), m.seed_values.get(metric)) {
                        (Some(s), Some(v)) => (s.mean - s.std, s.mean + s.std, v.clone()),
                        _ => (mean, mean, vec![mean]),
                    };
                    let label = match m.runs.len() {
                        1 => m.name.clone(),
                        n => format!("{} ({n} seeds)", m.name),
                    };
                    Some(IntervalRow {
                        label,
                        mean,
                        low,
                        high,
                        values,
                    })
                })
                .collect();
            (format!("test {metric}"), rows)
        })
        .collect();
    Ok(interval_chart(
        out.join("metric_comparison.png"),
        &IntervalChart {
            title: "Test metrics by model: runs (dots), mean (red), ± one std over seeds (black)",
            panels: &panels,
        },
    )?)
}

/// Each run's dev metrics and losses by epoch.
fn dev_curve(m: &ModelSummary, out: &Path) -> Result<()> {
    let curves: Vec<_> = m.history.iter().filter(|(_, h)| !h.is_empty()).collect();
    let Some(epochs) = curves.iter().map(|(_, h)| h.len()).max() else {
        return Ok(());
    };
    let (mut metrics, mut losses) = (vec![], vec![]);
    for ((run, history), color) in curves.iter().zip(PALETTE.iter().cycle()) {
        let run = Path::new(run)
            .file_name()
            .map_or(run.clone(), |f| f.to_string_lossy().into_owned());
        let line = |f: fn(&crate::EpochPoint) -> Option<f64>| -> Vec<(f64, f64)> {
            history.iter().filter_map(|e| Some((e.epoch as f64, f(e)?))).collect()
        };
        let marked = |s: Series| Series { markers: true, ..s };
        metrics.push(marked(series(
            &format!("{run} micro AUC"),
            line(|e| e.dev_auc_micro),
            *color,
            false,
        )));
        metrics.push(marked(series(
            &format!("{run} micro F1"),
            line(|e| e.dev_f1_micro),
            *color,
            true,
        )));
        losses.push(marked(series(
            &format!("{run} train"),
            line(|e| e.train_loss),
            *color,
            false,
        )));
        losses.push(marked(series(
            &format!("{run} dev"),
            line(|e| e.dev_loss),
            *color,
            true,
        )));
    }
    let x_range = (0.75, epochs as f64 + 0.25);
    Ok(stacked_line_charts(
        out.join(format!("dev_curve_{}.png", m.name)),
        &format!("{}: dev set by epoch", m.name),
        &[
            LineChart {
                title: "dev micro AUC (solid) and micro F1 at the run's thresholds (dashed)",
                x_label: "epoch",
                y_label: "value",
                series: &metrics,
                x_range,
                y_range: Some((0.4, 1.0)),
                legend: LegendPosition::MiddleRight,
            },
            LineChart {
                title: "loss: training (solid, the epoch's mean) and dev (dashed)",
                x_label: "epoch",
                y_label: "loss",
                series: &losses,
                x_range,
                y_range: None,
                legend: LegendPosition::LowerLeft,
            },
        ],
    )?)
}

/// Test F1 per emotion, best first, coloured by band, with the seeds' spread as whiskers.
fn per_emotion_f1(c: &Comparison, m: &ModelSummary, out: &Path) -> Result<()> {
    let Some(rows) = c.per_emotion.get(&m.name) else {
        return Ok(());
    };
    let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    let values: Vec<f64> = rows.iter().map(|r| r.f1).collect();
    let whiskers: Option<Vec<(f64, f64)>> = rows
        .iter()
        .map(|r| r.f1_std.map(|s| ((r.f1 - s).max(0.0), r.f1 + s)))
        .collect();
    let colour = |f1: f64| match f1 {
        f if f > 0.5 => GREEN,
        f if f >= 0.1 => (220, 170, 40),
        _ => RED,
    };
    let spread = if m.kind == ModelKind::SeedMean { " ± std" } else { "" };
    let what = format!("{}{spread}", m.describe());
    Ok(bar_chart(
        out.join(format!("per_emotion_f1_{}.png", m.name)),
        &BarChart {
            title: &format!("{}: test F1 per emotion ({what})", m.name),
            x_label: "F1 at the run's thresholds: green > 0.5, yellow 0.1 to 0.5, red < 0.1",
            labels: &labels,
            values: &values,
            colors: Some(values.iter().map(|&f| colour(f)).collect()),
            value_format: |v| format!("{v:.3}"),
            marker: Some((0.5, "F1 = 0.5")),
            whiskers,
            x_max: Some(1.0),
        },
    )?)
}

/// Test metrics at one global threshold, with 0.5 and the threshold fitted on dev marked, and
/// the labels predicted at each threshold.
fn threshold_sweep(c: &Comparison, m: &ModelSummary, out: &Path) -> Result<()> {
    let Some(rows) = c.sweep.get(&m.name) else {
        return Ok(());
    };
    let line = |f: fn(&crate::SweepPoint) -> Option<f64>| -> Vec<(f64, f64)> {
        rows.iter().filter_map(|r| Some((r.threshold, f(r)?))).collect()
    };
    let fitted = c
        .thresholds
        .get(&m.name)
        .and_then(|s| s.iter().find(|r| r.strategy == "optimal-global-micro")?.threshold);
    let mut lines = vec![
        series("micro F1", line(|r| Some(r.f1_micro)), BLUE, false),
        series("macro F1", line(|r| Some(r.f1_macro)), BLUE, true),
        series("micro precision", line(|r| r.precision_micro), GREEN, false),
        series("macro precision", line(|r| Some(r.precision_macro)), GREEN, true),
        series("micro recall", line(|r| Some(r.recall_micro)), RED, false),
        series("macro recall", line(|r| Some(r.recall_macro)), RED, true),
        series("threshold 0.5", vec![(0.5, 0.0), (0.5, 1.0)], GREY, true),
    ];
    if let Some(t) = fitted {
        lines.push(series(
            &format!("best micro F1 on dev ({t:.2})"),
            vec![(t, 0.0), (t, 1.0)],
            ORANGE,
            false,
        ));
    }
    let what = if m.kind == ModelKind::SeedMean {
        format!(", {}", m.describe())
    } else {
        String::new()
    };
    line_chart(
        out.join(format!("threshold_sweep_{}.png", m.name)),
        &LineChart {
            title: &format!("{}: test metrics at one global threshold{what}", m.name),
            x_label: "threshold (micro precision is undefined where nothing is predicted)",
            y_label: "value",
            series: &lines,
            x_range: (0.0, 1.0),
            y_range: Some((0.0, 1.0)),
            legend: LegendPosition::UpperMiddle,
        },
    )?;
    let labels = m.labels.len();
    Ok(line_chart(
        out.join(format!("labels_predicted_{}.png", m.name)),
        &LineChart {
            title: &format!(
                "{}: labels predicted at least once on test ({labels} labels{what})",
                m.name
            ),
            x_label: "global threshold",
            y_label: "labels predicted",
            series: &[series(
                "labels predicted",
                rows.iter().map(|r| (r.threshold, r.labels_predicted)).collect(),
                BLUE,
                false,
            )],
            x_range: (0.0, 1.0),
            y_range: Some((0.0, labels as f64 + 1.0)),
            legend: LegendPosition::LowerLeft,
        },
    )?)
}

/// The per-class thresholds fitted on dev, highest first.
fn per_class_thresholds(c: &Comparison, m: &ModelSummary, out: &Path) -> Result<()> {
    let Some(fitted) = crate::tables::fitted_thresholds(c, &m.name) else {
        return Ok(());
    };
    let mut order: Vec<usize> = (0..fitted.len()).collect();
    order.sort_by(|&a, &b| fitted[b].total_cmp(&fitted[a]));
    let labels: Vec<String> = order.iter().map(|&i| m.labels[i].clone()).collect();
    let values: Vec<f64> = order.iter().map(|&i| fitted[i]).collect();
    let what = if m.kind == ModelKind::SeedMean {
        format!(", {}", m.describe())
    } else {
        String::new()
    };
    Ok(bar_chart(
        out.join(format!("per_class_thresholds_{}.png", m.name)),
        &BarChart {
            title: &format!(
                "{}: per-class thresholds fitted on dev (best F1 per emotion{what})",
                m.name
            ),
            x_label: "threshold on the calibrated probability",
            labels: &labels,
            values: &values,
            colors: None,
            value_format: |v| format!("{v:.3}"),
            marker: Some((0.5, "0.5")),
            whiskers: None,
            x_max: Some(1.0),
        },
    )?)
}

/// Per model: the reliability diagram with its bins' counts, ECE per emotion and Brier per
/// emotion against its label-frequency baseline, on one scale across models.
fn calibration(c: &Comparison, out: &Path) -> Result<()> {
    let top = |f: fn(&ClassCalibration) -> f64| {
        c.calibration
            .values()
            .flat_map(|k| k.per_class.iter().map(f))
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max)
            * 1.15
    };
    let (ece_max, ratio_max) = (top(|k| k.ece), top(brier_ratio).max(1.2));
    for (model, k) in &c.calibration {
        let mut by_support: Vec<&ClassCalibration> = k.per_class.iter().collect();
        by_support.sort_by(|a, b| b.support.cmp(&a.support).then_with(|| a.label.cmp(&b.label)));
        if let Some(m) = c.models.iter().find(|m| &m.name == model) {
            crate::document::reliability_chart(out, m, &by_support)?;
        }
        for (file, what, value, max, marker) in [
            (
                "ece",
                "ECE, 10 equal-width bins",
                (|k: &ClassCalibration| k.ece) as fn(&_) -> f64,
                ece_max,
                None,
            ),
            (
                "brier",
                "Brier score / Brier of the label's training frequency",
                brier_ratio,
                ratio_max,
                Some((1.0, "1 = no better than the label frequency")),
            ),
        ] {
            let mut rows: Vec<&ClassCalibration> = k.per_class.iter().collect();
            rows.sort_by(|a, b| value(b).total_cmp(&value(a)));
            bar_chart(
                out.join(format!("calibration_{file}_{model}.png")),
                &BarChart {
                    title: &format!("{model}: {what}, per emotion on test (lower is better)"),
                    x_label: what,
                    labels: &rows.iter().map(|r| r.label.clone()).collect::<Vec<_>>(),
                    values: &rows.iter().map(|r| value(r)).collect::<Vec<_>>(),
                    colors: None,
                    value_format: |v| format!("{v:.3}"),
                    marker,
                    whiskers: None,
                    x_max: Some(max),
                },
            )?;
        }
    }
    Ok(())
}

fn brier_ratio(k: &ClassCalibration) -> f64 {
    k.brier / k.baseline_brier
}

/// A model's labels, most frequent on test first.
fn by_frequency(c: &Comparison, m: &ModelSummary) -> Vec<String> {
    let support = |label: &str| {
        c.per_emotion
            .get(&m.name)
            .and_then(|rows| rows.iter().find(|r| r.label == label))
            .map_or(0, |r| r.support)
    };
    let mut labels = m.labels.clone();
    labels.sort_by_key(|l| std::cmp::Reverse(support(l)));
    labels
}

/// A label × label grid of `value` over pairs (0 where a pair never occurs; the diagonal NaN).
fn pair_matrix(labels: &[String], pairs: &[crate::PairStats], value: fn(&crate::PairStats) -> f64) -> Vec<Vec<f64>> {
    let mut grid = vec![vec![0.0; labels.len()]; labels.len()];
    for (i, row) in grid.iter_mut().enumerate() {
        row[i] = f64::NAN;
    }
    let at = |l: &str| labels.iter().position(|x| x == l);
    for p in pairs {
        if let (Some(a), Some(b)) = (at(&p.a), at(&p.b)) {
            grid[a][b] = value(p);
        }
    }
    grid
}

/// Label pairs on test, labels by frequency: the true counts once, and per model its predicted
/// counts and predicted − true, each matrix with one colour scale for every model.
fn cooccurrence(c: &Comparison, out: &Path) -> Result<()> {
    let Some((first, first_pairs)) = c.cooccurrence.iter().next() else {
        return Ok(());
    };
    let Some(m) = c.models.iter().find(|m| &m.name == first) else {
        return Ok(());
    };
    let labels = by_frequency(c, m);
    let matrix = |pairs: &[crate::PairStats], value: fn(&crate::PairStats) -> f64| pair_matrix(&labels, pairs, value);
    let truth = matrix(first_pairs, |p| p.count_true as f64);
    let finite_max = |g: &[Vec<f64>]| {
        g.iter()
            .flatten()
            .filter(|v| v.is_finite())
            .fold(1.0f64, |a, v| a.max(v.abs()))
    };
    let predicted: Vec<(&String, Vec<Vec<f64>>)> = c
        .cooccurrence
        .iter()
        .map(|(model, pairs)| (model, matrix(pairs, |p| p.count_predicted)))
        .collect();
    let count_max = predicted
        .iter()
        .map(|(_, g)| finite_max(g))
        .fold(finite_max(&truth), f64::max);
    let draw = |file: String, title: &str, values: &[Vec<f64>], max: f64, diverging: bool| {
        heatmap(
            out.join(file),
            &Heatmap {
                title,
                labels: &labels,
                values,
                max,
                diverging,
            },
        )
    };
    draw(
        "cooccurrence_true.png".into(),
        "Test texts whose true labels hold both (diagonal grey)",
        &truth,
        count_max,
        false,
    )?;
    let differences: Vec<(&String, Vec<Vec<f64>>)> = predicted
        .iter()
        .map(|(model, g)| {
            let d = g
                .iter()
                .zip(&truth)
                .map(|(p, t)| p.iter().zip(t).map(|(p, t)| p - t).collect())
                .collect();
            (*model, d)
        })
        .collect();
    let difference_max = differences.iter().map(|(_, g)| finite_max(g)).fold(1.0, f64::max);
    for ((model, p), (_, d)) in predicted.iter().zip(&differences) {
        draw(
            format!("cooccurrence_predicted_{model}.png"),
            &format!("{model}: test texts whose predicted labels hold both"),
            p,
            count_max,
            false,
        )?;
        draw(
            format!("cooccurrence_difference_{model}.png"),
            &format!("{model}: predicted − true pairs (blue: predicted more often)"),
            d,
            difference_max,
            true,
        )?;
    }
    Ok(())
}
