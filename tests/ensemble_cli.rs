//! The `ensemble` example end to end: run folders in, an averaged run folder out (read back by
//! goemo-analysis, listing its members for `EmotionClassifier`); mismatched runs refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use goemo::analysis::RunFolder;

fn ensemble_binary() -> PathBuf {
    // `cargo test` builds the examples next to the test executables' folder.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("examples").join("ensemble");
    assert!(bin.exists(), "{} is missing: run through `cargo test`", bin.display());
    bin
}

/// A run folder with a checkpoint folder and dev and test predictions over the labels joy and
/// anger; `shift` moves every probability.
fn run(dir: &Path, name: &str, shift: f64, test_ids: &[&str]) -> PathBuf {
    let run = dir.join(name);
    std::fs::create_dir_all(run.join("checkpoint")).unwrap();
    let file = |ids: &[&str]| {
        let mut text = String::from("id,text,true_labels,pred_labels,joy,anger\n");
        for (i, id) in ids.iter().enumerate() {
            let (truth, p) = if i % 2 == 0 {
                ("joy", [0.8, 0.3])
            } else {
                ("anger", [0.35, 0.7])
            };
            text += &format!("{id},\"text, {id}\",{truth},,{},{}\n", p[0] - shift, p[1] + shift);
        }
        text
    };
    std::fs::write(run.join("predictions_dev.csv"), file(&["d1", "d2", "d3", "d4"])).unwrap();
    std::fs::write(run.join("predictions_test.csv"), file(test_ids)).unwrap();
    std::fs::write(
        run.join("metrics.json"),
        r#"{"parameters": 100, "train_seconds": 60.0}"#,
    )
    .unwrap();
    run
}

#[test]
fn averages_runs_into_a_run_folder_and_refuses_runs_that_do_not_match() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), "a", 0.0, &["t1", "t2"]);
    let b = run(dir.path(), "b", 0.1, &["t1", "t2"]);
    let out = dir.path().join("ab");
    let result = Command::new(ensemble_binary())
        .args([
            "--run",
            a.to_str().unwrap(),
            "--run",
            b.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--calibration",
            "none",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(
        stdout.contains("| test | 1.0000 | 1.0000 | 1.0000 | 1.0000 |"),
        "{stdout}"
    );
    let folder = RunFolder::read(&out).unwrap();
    assert!((folder.test.probabilities[[0, 0]] - 0.75).abs() < 1e-6);
    assert_eq!(folder.test.texts[0], "text, t1");
    assert_eq!(folder.number("/train_seconds"), Some(120.0));
    let listing = std::fs::read_to_string(out.join("checkpoint/ensemble.json")).unwrap();
    assert!(
        listing.contains("../../a/checkpoint") && listing.contains("../../b/checkpoint"),
        "{listing}"
    );

    assert!(!out.join("checkpoint/calibration.json").exists(), "--calibration none");

    // The default calibrates the averaged probabilities on averaged dev and stores the maps.
    let calibrated = dir.path().join("ab-calibrated");
    let result = Command::new(ensemble_binary())
        .args(["--run", a.to_str().unwrap(), "--run", b.to_str().unwrap(), "--out"])
        .arg(&calibrated)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        stdout.contains("calibration auto") && stdout.contains("test Brier"),
        "{stdout}"
    );
    let stored = std::fs::read_to_string(calibrated.join("checkpoint/calibration.json")).unwrap();
    assert!(
        stored.contains("\"label\": \"joy\"") && stored.contains("\"method\": \"auto\""),
        "{stored}"
    );
    let folder = RunFolder::read(&calibrated).unwrap();
    assert!(folder.number("/calibration/test/after/micro/brier").is_some());
    assert_eq!(
        folder.test.predicted, folder.test.targets,
        "calibration changes no decision"
    );

    // A member scored on other test examples: an error naming the file and the missing id.
    let other = run(dir.path(), "c", 0.0, &["t1", "t3"]);
    let result = Command::new(ensemble_binary())
        .args(["--run", a.to_str().unwrap(), "--run", other.to_str().unwrap(), "--out"])
        .arg(dir.path().join("ac"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success());
    assert!(
        stderr.contains("predictions_test.csv") && stderr.contains("\"t2\""),
        "{stderr}"
    );
    assert!(!dir.path().join("ac").join("predictions_test.csv").exists());
}
