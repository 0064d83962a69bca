//! `compare` and `write_report` on small run folders: test examples matched by id (rows in
//! another order), runs with other labels shown with a note and refused paired tests, seeds
//! aggregated, the same seed giving the same file, and every file written.

use std::path::Path;

use goemo_analysis::{compare, write_report, CompareOptions, RunFolder};
use goemo_metrics::MetricReport;

fn report(run: &RunFolder) -> MetricReport {
    let t = &run.test;
    MetricReport::compute(
        t.probabilities.view(),
        t.targets.mapv(u8::from).view(),
        t.predicted.view(),
        &t.labels,
        None,
    )
    .unwrap()
}

/// A run folder with `rows` (id, true labels, predicted labels, probabilities) for dev and test.
fn run(dir: &Path, labels: &[&str], rows: &[(&str, &str, &str, Vec<f64>)], reverse_test: bool) -> RunFolder {
    std::fs::create_dir_all(dir).unwrap();
    let header = format!("id,text,true_labels,pred_labels,{}\n", labels.join(","));
    let line = |(id, t, p, probs): &(&str, &str, &str, Vec<f64>)| {
        let probs: Vec<String> = probs.iter().map(std::string::ToString::to_string).collect();
        format!("{id},text {id},\"{t}\",\"{p}\",{}\n", probs.join(","))
    };
    let dev: String = rows.iter().map(line).collect();
    let mut test_rows: Vec<_> = rows.iter().collect();
    if reverse_test {
        test_rows.reverse();
    }
    let test: String = test_rows.into_iter().map(line).collect();
    std::fs::write(dir.join("predictions_dev.csv"), format!("{header}{dev}")).unwrap();
    std::fs::write(dir.join("predictions_test.csv"), format!("{header}{test}")).unwrap();
    RunFolder::read(dir).unwrap()
}

fn rows(shift: f64) -> Vec<(&'static str, &'static str, &'static str, Vec<f64>)> {
    let ids = ["a", "b", "c", "d", "e", "f", "g", "h"];
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let joy = i % 2 == 0;
            let anger = i % 3 == 0;
            let t = match (joy, anger) {
                (true, true) => "joy,anger",
                (true, false) => "joy",
                (false, true) => "anger",
                _ => "",
            };
            let pj = if joy {
                0.8 - shift * i as f64
            } else {
                0.2 + shift * i as f64
            };
            let pa = if anger { 0.7 } else { 0.3 + shift };
            let p = match (pj >= 0.5, pa >= 0.5) {
                (true, true) => "joy,anger",
                (true, false) => "joy",
                (false, true) => "anger",
                _ => "",
            };
            (*id, t, p, vec![pj.clamp(0.0, 1.0), pa.clamp(0.0, 1.0)])
        })
        .collect()
}

#[test]
fn compares_matches_by_id_and_notes_what_cannot_be_paired() {
    let dir = tempfile::tempdir().unwrap();
    let base = run(&dir.path().join("base"), &["joy", "anger"], &rows(0.0), false);
    let other = run(&dir.path().join("other"), &["joy", "anger"], &rows(0.05), true);
    let seeds = vec![
        run(&dir.path().join("s1"), &["joy", "anger"], &rows(0.06), false),
        run(&dir.path().join("s2"), &["joy", "anger"], &rows(0.09), false),
    ];
    let fewer = run(
        &dir.path().join("fewer"),
        &["joy"],
        &rows(0.0)
            .into_iter()
            .map(|(i, t, p, v)| {
                (
                    i,
                    if t.contains("joy") { "joy" } else { "" },
                    if p.contains("joy") { "joy" } else { "" },
                    vec![v[0]],
                )
            })
            .collect::<Vec<_>>(),
        false,
    );
    let models = vec![
        ("base".to_string(), vec![base.clone()]),
        ("other".to_string(), vec![other]),
        ("seeds".to_string(), seeds),
        ("fewer".to_string(), vec![fewer]),
    ];
    let options = CompareOptions {
        bootstrap: 200,
        seed: 3,
        top_combos: 5,
    };
    let c = compare(&models, &options).unwrap();
    // Rows in reverse order, matched by id: the paired deltas exist and are the metric
    // differences.
    let auc = |name: &str| {
        c.models
            .iter()
            .find(|m| m.name == name)
            .unwrap()
            .test
            .auc_micro
            .unwrap()
    };
    let boot = c
        .paired_bootstrap
        .iter()
        .find(|r| r.model == "other" && r.metric == "auc_micro")
        .unwrap();
    assert!((boot.delta - (auc("other") - auc("base"))).abs() < 1e-12);
    assert!(boot.ci_low <= boot.delta && boot.delta <= boot.ci_high);
    // Other labels: side by side, no paired test, a note saying why.
    assert!(c.paired_bootstrap.iter().all(|r| r.model != "fewer"));
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("fewer") && n.contains("labels differ")),
        "{:?}",
        c.notes
    );
    let seeds = c.models.iter().find(|m| m.name == "seeds").unwrap();
    assert_eq!(seeds.seeds["f1_micro"].n, 2);
    // A seed group's per-emotion rows, thresholds and bootstrap are the mean of its seeds.
    let reports: Vec<MetricReport> = models[2].1.iter().map(report).collect();
    for row in &c.per_emotion["seeds"] {
        let j = reports[0].per_class.iter().position(|k| k.label == row.label).unwrap();
        let mean =
            |f: fn(&goemo_metrics::ClassMetrics) -> f64| reports.iter().map(|r| f(&r.per_class[j])).sum::<f64>() / 2.0;
        assert!((row.f1 - mean(|k| k.f1)).abs() < 1e-12, "{}", row.label);
        assert!((row.recall - mean(|k| k.recall)).abs() < 1e-12, "{}", row.label);
        assert!(row.f1_std.is_some());
    }
    let mean_auc = reports.iter().map(|r| r.auc_micro.unwrap()).sum::<f64>() / 2.0;
    let boot = c
        .paired_bootstrap
        .iter()
        .find(|r| r.model == "seeds" && r.metric == "auc_micro")
        .unwrap();
    assert!((boot.delta - (mean_auc - auc("base"))).abs() < 1e-12, "{boot:?}");
    // A seed group against single runs: one-sample t-tests, Holm-adjusted.
    assert!(!c.seed_tests.is_empty(), "{:?}", seeds.seed_values);
    for t in &c.seed_tests {
        assert_eq!(t.test, "one_sample");
        assert!(t.p_holm >= t.p_value);
    }
    let comparison_row = c
        .comparison
        .iter()
        .find(|r| r.model == "other" && r.metric == "f1_micro")
        .unwrap();
    let d = comparison_row.delta.unwrap();
    assert!((comparison_row.percent_change.unwrap() - 100.0 * d / comparison_row.baseline_value.unwrap()).abs() < 1e-9);
    assert_eq!(
        c.thresholds["base"]
            .iter()
            .map(|r| r.strategy.as_str())
            .collect::<Vec<_>>(),
        [
            "global-0.5",
            "optimal-global-micro",
            "optimal-global-macro",
            "per-class",
            "top-1"
        ]
    );

    let out = dir.path().join("report");
    write_report(&c, &out).unwrap();
    for file in [
        "model_performance.md",
        "comparison.json",
        "thresholds.csv",
        "calibration.csv",
        "combinations.csv",
        "cooccurrence_pairs.csv",
        "metric_comparison.png",
        "per_emotion_base.csv",
        "per_emotion_f1_base.png",
        "threshold_sweep.csv",
        "per_class_thresholds.csv",
        "threshold_sweep_base.png",
        "labels_predicted_base.png",
        "per_class_thresholds_base.png",
        "reliability_base.png",
        "calibration_ece_base.png",
        "calibration_brier_base.png",
        "cooccurrence_true.png",
        "cooccurrence_predicted_base.png",
        "cooccurrence_difference_base.png",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // Every figure the document shows exists.
    let md = std::fs::read_to_string(out.join("model_performance.md")).unwrap();
    for link in md.split("![").skip(1).filter_map(|l| l.split_once("](").map(|p| p.1)) {
        let file = &link[..link.find(')').unwrap()];
        assert!(out.join(file).is_file(), "{file} is shown but not written");
    }
    let sweep = std::fs::read_to_string(out.join("threshold_sweep.csv")).unwrap();
    assert_eq!(sweep.lines().count(), 1 + 99 * c.models.len());
    for section in [
        "## Contents",
        "## Overview",
        "## Recommendation",
        "Key observations",
        "## Model Comparison",
        "## Per-Emotion Performance",
        "## Threshold Selection",
        "## Calibration",
        "## Significance",
        "## Errors",
        "## Model Artifacts",
    ] {
        assert!(md.contains(section), "{section}");
    }
    // The same seed gives the same file.
    let again = compare(&models, &options).unwrap();
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
}
