//! The `evaluate` example end to end: CSV in, scikit-learn's numbers out; fitting rules; errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn evaluate_binary() -> PathBuf {
    // `cargo test` builds the examples next to the test executables' folder.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("examples").join("evaluate");
    assert!(bin.exists(), "{} is missing: run through `cargo test`", bin.display());
    bin
}

fn fixture_case(name: &str) -> Value {
    let text = include_str!("../crates/goemo-metrics/tests/fixtures/sklearn_cases.json");
    let doc: Value = serde_json::from_str(text).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
        .clone()
}

fn write_matrix(path: &Path, header: bool, rows: &Value) {
    let rows = rows.as_array().unwrap();
    let width = rows[0].as_array().unwrap().len();
    let mut out = String::new();
    if header {
        out += &(0..width).map(|i| format!("l{i}")).collect::<Vec<_>>().join(",");
        out.push('\n');
    }
    for row in rows {
        let cells: Vec<String> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|v| format!("{}", v.as_f64().unwrap()))
            .collect();
        out += &cells.join(",");
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(evaluate_binary()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn json_report_equals_scikit_learn() {
    let dir = tempfile::tempdir().unwrap();
    let case = fixture_case("tied_2_decimals");
    let (s, t) = (dir.path().join("s.csv"), dir.path().join("t.csv"));
    write_matrix(&s, true, &case["scores"]);
    write_matrix(&t, false, &case["targets"]);
    let (ok, stdout, stderr) = run(&[
        "--scores",
        s.to_str().unwrap(),
        "--targets",
        t.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    for key in [
        "auc_micro",
        "auc_macro",
        "f1_micro",
        "f1_macro",
        "hamming_loss",
        "ap_micro",
    ] {
        let (got, want) = (report[key].as_f64().unwrap(), case["expected"][key].as_f64().unwrap());
        assert!((got - want).abs() < 1e-9, "{key}: {got} vs {want}");
    }
    assert_eq!(report["per_class"][0]["label"], "l0");
    assert_eq!(report["per_class"][0]["threshold"], 0.5);
}

#[test]
fn fitting_needs_a_separate_set_and_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let (dev, test) = (fixture_case("random"), fixture_case("tied_1_decimal"));
    let p = |n: &str| dir.path().join(n);
    write_matrix(&p("ds.csv"), false, &dev["scores"]);
    write_matrix(&p("dt.csv"), false, &dev["targets"]);
    write_matrix(&p("ts.csv"), false, &test["scores"]);
    write_matrix(&p("tt.csv"), false, &test["targets"]);
    let path = |n: &str| p(n).to_str().unwrap().to_string();
    let (ok, _, stderr) = run(&[
        "--scores",
        &path("ts.csv"),
        "--targets",
        &path("tt.csv"),
        "--threshold-strategy",
        "per-class",
    ]);
    assert!(!ok);
    assert!(stderr.contains("never fitted on the evaluated set"), "{stderr}");

    let sweep = path("sweep.csv");
    let (ok, stdout, stderr) = run(&[
        "--scores",
        &path("ts.csv"),
        "--targets",
        &path("tt.csv"),
        "--threshold-strategy",
        "per-class",
        "--fit-scores",
        &path("ds.csv"),
        "--fit-targets",
        &path("dt.csv"),
        "--json",
        "--sweep",
        &sweep,
    ]);
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let thresholds: Vec<f64> = report["per_class"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["threshold"].as_f64().unwrap())
        .collect();
    assert!(
        thresholds.iter().any(|&t| (t - 0.5).abs() > 1e-6),
        "thresholds were fitted: {thresholds:?}"
    );
    let rows = std::fs::read_to_string(&sweep).unwrap();
    assert_eq!(rows.lines().count(), 100, "header + 99 thresholds");
    assert!(rows.starts_with("threshold,f1_micro,f1_macro"));
}

#[test]
fn prediction_files_and_table_output() {
    let dir = tempfile::tempdir().unwrap();
    let preds = dir.path().join("predictions_test.csv");
    std::fs::write(
        &preds,
        "id,text,true_labels,pred_labels,joy,anger\n\
         a,\"so happy, really\",joy,joy,0.9,0.1\n\
         b,grr,anger,,0.2,0.45\n\
         c,fine,,,0.3,0.2\n\
         d,\"both!\",\"joy,anger\",joy,0.8,0.7\n",
    )
    .unwrap();
    let p = preds.to_str().unwrap();
    let (ok, stdout, stderr) = run(&[
        "--scores",
        p,
        "--threshold-strategy",
        "top-k",
        "--top-k",
        "1",
        "--min-score",
        "0.4",
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("thresholds: top-1 (min score 0.4)"), "{stdout}");
    assert!(stdout.contains("auc_micro"));
    let (ok, stdout, _) = run(&[
        "--scores",
        p,
        "--threshold-strategy",
        "per-class",
        "--fit-scores",
        p,
        "--json",
    ]);
    assert!(ok);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["f1_macro"], 1.0,
        "thresholds fitted on the same file separate it perfectly"
    );
}

#[test]
fn bad_input_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let (s, t) = (dir.path().join("s.csv"), dir.path().join("t.csv"));
    std::fs::write(&s, "0.1,0.2\n0.3,nan\n").unwrap();
    std::fs::write(&t, "1,0\n0,1\n").unwrap();
    let (ok, _, stderr) = run(&["--scores", s.to_str().unwrap(), "--targets", t.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("s.csv:2: column 2") && stderr.contains("not finite"),
        "{stderr}"
    );
    std::fs::write(&s, "0.1,0.2\n0.3,0.4\n").unwrap();
    std::fs::write(&t, "1,0\n0,2\n").unwrap();
    let (ok, _, stderr) = run(&["--scores", s.to_str().unwrap(), "--targets", t.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("targets must be 0 or 1"), "{stderr}");
    std::fs::write(&t, "1,0,1\n0,1,0\n").unwrap();
    let (ok, _, stderr) = run(&["--scores", s.to_str().unwrap(), "--targets", t.to_str().unwrap()]);
    assert!(!ok && stderr.contains("does not match"), "{stderr}");
}
