//! The files of a finished run in `runs/<name>/`: predictions, per-class metrics, the
//! per-emotion F1 chart, training curves (PNG and TensorBoard) and the performance report. Every
//! file but the TensorBoard events (appended as training goes) is written atomically.

use std::path::Path;

use goemo_metrics::MetricReport;
use goemo_report::{
    bar_chart, stacked_line_charts, write_atomic, write_csv_atomic, BarChart, EventWriter, LegendPosition, LineChart,
    Series,
};
use goemo_train::{StepLog, TrainOutcome};

use crate::{Result, RunOutcome};

/// Appends the run's evaluations to its TensorBoard events: every dev evaluation during training
/// (`dev/…`, at a global threshold of 0.5, at its step) and the final test metrics with the
/// thresholds fitted on dev (`test/…`, at the last step).
pub fn write_evaluation_events(events: &mut EventWriter, outcome: &RunOutcome) -> Result<()> {
    let metrics = |prefix: &str, report: &MetricReport, loss: Option<f64>| -> Vec<(String, f64)> {
        let mut values = vec![
            (format!("{prefix}/auc_micro"), report.auc_micro.unwrap_or(f64::NAN)),
            (format!("{prefix}/auc_macro"), report.auc_macro.unwrap_or(f64::NAN)),
            (format!("{prefix}/f1_micro"), report.f1_micro),
            (format!("{prefix}/f1_macro"), report.f1_macro),
        ];
        values.extend(loss.map(|l| (format!("{prefix}/loss"), l)));
        values
    };
    let training = &outcome.training;
    let mut evaluations: Vec<(u64, Vec<(String, f64)>)> = training
        .dev_evaluations()
        .into_iter()
        .map(|(step, loss, dev)| (step, metrics("dev", dev, Some(loss))))
        .collect();
    evaluations.push((training.steps, metrics("test", &outcome.test, None)));
    for (step, values) in &evaluations {
        let values: Vec<(&str, f64)> = values.iter().map(|(t, v)| (t.as_str(), *v)).collect();
        events.scalars(*step, &values)?;
    }
    Ok(events.flush()?)
}

/// The steps of `train_log.jsonl` in step order. Lines that do not parse (a line cut by a kill
/// before a resume) are left out; a step logged twice (by a killed run after its last saved
/// state, then by its resumption) keeps the later line. No file: no steps.
fn read_step_log(path: &Path) -> Vec<StepLog> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return vec![];
    };
    let by_step: std::collections::BTreeMap<u64, StepLog> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<StepLog>(l).ok())
        .map(|s| (s.step, s))
        .collect();
    by_step.into_values().collect()
}

/// The training curves against the optimiser step, in three panels: the training loss of every
/// step (`train_log.jsonl`, the mean over the epoch so far) with each dev evaluation's loss, the
/// learning rate, and each dev evaluation's micro and macro ROC AUC.
pub fn write_training_curves(path: &Path, log: &Path, training: &TrainOutcome) -> Result<()> {
    let steps = read_step_log(log);
    /// A dev evaluation: step, loss, micro and macro AUC.
    struct Evaluated(f64, f64, Option<f64>, Option<f64>);
    let evaluations: Vec<Evaluated> = training
        .dev_evaluations()
        .into_iter()
        .map(|(step, loss, dev)| Evaluated(step as f64, loss, dev.auc_micro, dev.auc_macro))
        .collect();
    let last = steps
        .iter()
        .map(|s| s.step as f64)
        .chain(evaluations.iter().map(|e| e.0))
        .fold(1.0f64, f64::max);
    let line = |name: &str, points: Vec<(f64, f64)>, color: (u8, u8, u8), markers: bool| Series {
        name: name.into(),
        points,
        color,
        dashed: false,
        markers,
    };
    let (blue, orange, green) = ((70, 110, 190), (220, 130, 40), (60, 150, 80));
    let losses = [
        line(
            "training loss (mean over the epoch so far)",
            steps.iter().map(|s| (s.step as f64, s.loss)).collect(),
            blue,
            false,
        ),
        line(
            "dev loss",
            evaluations.iter().map(|e| (e.0, e.1)).collect(),
            orange,
            true,
        ),
    ];
    let lr = [line(
        "learning rate",
        steps.iter().map(|s| (s.step as f64, s.lr)).collect(),
        blue,
        false,
    )];
    let auc = |pick: fn(&Evaluated) -> Option<f64>| -> Vec<(f64, f64)> {
        evaluations.iter().filter_map(|e| Some((e.0, pick(e)?))).collect()
    };
    let aucs = [
        line("dev micro AUC", auc(|e| e.2), blue, true),
        line("dev macro AUC", auc(|e| e.3), green, true),
    ];
    let (low, high) = aucs
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let auc_range = if low.is_finite() {
        let pad = ((high - low) * 0.15).max(0.005);
        ((low - pad).max(0.0), (high + pad).min(1.0))
    } else {
        (0.0, 1.0)
    };
    let panel = |title, y_label, series, y_range, legend| LineChart {
        title,
        x_label: "optimiser step",
        y_label,
        series,
        x_range: (0.0, last),
        y_range,
        legend,
    };
    Ok(stacked_line_charts(
        path,
        "Training curves",
        &[
            panel("loss", "loss", &losses, None, LegendPosition::UpperRight),
            panel("learning rate", "learning rate", &lr, None, LegendPosition::UpperRight),
            panel(
                "dev ROC AUC at each evaluation",
                "AUC",
                &aucs,
                Some(auc_range),
                LegendPosition::LowerRight,
            ),
        ],
    )?)
}

/// `label,f1,precision,recall,auc,ap,support,tp,fp,fn,tn,threshold`.
pub fn write_per_class(path: &Path, report: &MetricReport) -> Result<()> {
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let header = [
        "label",
        "f1",
        "precision",
        "recall",
        "auc",
        "ap",
        "support",
        "tp",
        "fp",
        "fn",
        "tn",
        "threshold",
    ];
    let rows = report.per_class.iter().map(|m| {
        vec![
            m.label.clone(),
            m.f1.to_string(),
            m.precision.to_string(),
            m.recall.to_string(),
            opt(m.auc),
            opt(m.ap),
            m.support.to_string(),
            m.tp.to_string(),
            m.fp.to_string(),
            m.fn_.to_string(),
            m.tn.to_string(),
            opt(m.threshold),
        ]
    });
    Ok(write_csv_atomic(path, &header, rows)?)
}

/// Horizontal bars of per-emotion F1, best first, coloured by band.
pub fn write_f1_chart(path: &Path, report: &MetricReport, title: &str) -> Result<()> {
    let mut classes: Vec<_> = report.per_class.iter().collect();
    classes.sort_by(|a, b| b.f1.total_cmp(&a.f1));
    let labels: Vec<String> = classes.iter().map(|m| m.label.clone()).collect();
    let values: Vec<f64> = classes.iter().map(|m| m.f1).collect();
    let colors = values
        .iter()
        .map(|&f| match f {
            f if f >= 0.6 => (46, 139, 87),
            f if f >= 0.4 => (70, 130, 180),
            f if f >= 0.2 => (230, 160, 40),
            _ => (200, 60, 60),
        })
        .collect();
    Ok(bar_chart(
        path,
        &BarChart {
            title,
            x_label: "F1 (green >= 0.6, blue >= 0.4, orange >= 0.2, red below)",
            labels: &labels,
            values: &values,
            colors: Some(colors),
            value_format: |v| format!("{v:.2}"),
            marker: Some((0.5, "F1 0.5")),
            whiskers: None,
            x_max: None,
        },
    )?)
}

/// One line of the headline comparison in `report.md`.
pub struct ReportRow<'a> {
    /// Row name.
    pub name: &'a str,
    /// The metrics.
    pub report: &'a MetricReport,
}

/// The run's performance document: configuration, headline metrics for each thresholding, best
/// and worst emotions.
pub fn write_report_md(
    path: &Path,
    title: &str,
    configuration: &str,
    rows: &[ReportRow<'_>],
    main: &MetricReport,
) -> Result<()> {
    let opt = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.4}"));
    let mut md = format!("# {title}\n\n## Configuration\n\n```\n{configuration}\n```\n\n## Test metrics\n\n");
    md += "| thresholds | micro AUC | macro AUC | micro F1 | macro F1 | micro P | micro R | labels never predicted |\n";
    md += "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
    for row in rows {
        let r = row.report;
        md += &format!(
            "| {} | {} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {} |\n",
            row.name,
            opt(r.auc_micro),
            opt(r.auc_macro),
            r.f1_micro,
            r.f1_macro,
            r.precision_micro,
            r.recall_micro,
            r.never_predicted().len()
        );
    }
    let mut classes: Vec<_> = main.per_class.iter().collect();
    classes.sort_by(|a, b| b.f1.total_cmp(&a.f1));
    let line = |m: &&goemo_metrics::ClassMetrics| {
        format!(
            "| {} | {:.3} | {:.3} | {:.3} | {} | {} |\n",
            m.label,
            m.f1,
            m.precision,
            m.recall,
            opt(m.auc),
            m.support
        )
    };
    md += "\n## Best emotions (test F1, first thresholding)\n\n| label | F1 | precision | recall | AUC | support |\n| --- | ---: | ---: | ---: | ---: | ---: |\n";
    md += &classes.iter().take(5).map(line).collect::<String>();
    md += "\n## Worst emotions\n\n| label | F1 | precision | recall | AUC | support |\n| --- | ---: | ---: | ---: | ---: | ---: |\n";
    md += &classes.iter().rev().take(5).map(line).collect::<String>();
    md += "\n![per-emotion F1](per_emotion_f1.png)\n";
    Ok(write_atomic(path, |w| w.write_all(md.as_bytes()))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_log_keeps_each_step_once_the_later_line_winning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train_log.jsonl");
        let line = |step: u64, loss: f64| {
            serde_json::to_string(&StepLog {
                epoch: 0,
                step,
                loss,
                lr: 1e-4,
                examples_per_s: 100.0,
            })
            .unwrap()
        };
        // Steps 1-3 by a run killed after saving at step 2, a cut line, then the resumption.
        let text = [
            line(1, 0.9),
            line(2, 0.8),
            line(3, 0.7),
            "{\"epoch\": 0, \"st".into(),
            line(3, 0.6),
            line(4, 0.5),
        ];
        std::fs::write(&path, text.join("\n")).unwrap();
        let steps = read_step_log(&path);
        let got: Vec<(u64, f64)> = steps.iter().map(|s| (s.step, s.loss)).collect();
        assert_eq!(got, [(1, 0.9), (2, 0.8), (3, 0.6), (4, 0.5)]);
        assert!(read_step_log(&dir.path().join("missing.jsonl")).is_empty());
    }
}
