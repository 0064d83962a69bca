//! The `train` example end to end on a tiny checkpoint and a subset of GoEmotions: every artifact
//! with its schema, and a run killed with SIGKILL then resumed ends with the same metrics.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn train_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples").join("train")
}

fn args(out: &Path, name: &str) -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    [
        "--model",
        &format!("{root}/crates/goemo-model/tests/fixtures/tiny-bert"),
        "--data",
        &format!("{root}/data/goemotions"),
        "--max-train-samples",
        "600",
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--lr",
        "1e-3",
        "--save-every",
        "7",
        "--eval-every",
        "30",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--output-dir",
        out.to_str().unwrap(),
        "--run-name",
        name,
    ]
    .iter()
    .map(std::string::ToString::to_string)
    .collect()
}

fn metrics(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap()
}

#[test]
fn artifacts_and_kill_resume() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(train_binary())
        .args(args(out.path(), "whole"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let run = out.path().join("whole");
    for file in [
        "checkpoint/model.safetensors",
        "checkpoint/config.json",
        "checkpoint/tokenizer.json",
        "checkpoint/thresholds.json",
        "checkpoint/calibration.json",
        "metrics.json",
        "predictions_dev.csv",
        "predictions_test.csv",
        "per_class_test.csv",
        "train_log.jsonl",
        "report.md",
        "per_emotion_f1.png",
        "training_curves.png",
    ] {
        assert!(run.join(file).is_file(), "missing {file}");
    }
    let m = metrics(&run);
    for key in [
        "configuration",
        "history",
        "best_epoch",
        "thresholds",
        "dev",
        "test",
        "test_global_0_5",
        "test_top_1",
        "train_seconds",
        "parameters",
        "versions",
        "run",
    ] {
        assert!(!m[key].is_null(), "metrics.json lacks {key}");
    }
    let record = &m["run"];
    assert!(record["started"].as_str().unwrap() <= record["finished"].as_str().unwrap());
    assert!(record["finished"].as_str().unwrap().ends_with('Z'));
    assert!(record["host"]["logical_cores"].as_u64().unwrap() >= 1);
    if cfg!(target_os = "linux") {
        assert!(record["peak_resident_mib"].as_f64().unwrap() > 10.0, "{record}");
    }
    assert_eq!(m["history"].as_array().unwrap().len(), 3);
    // 75 steps per epoch: dev also evaluated at steps 30, 60, 90, 120, 180 and 210.
    let evaluated: Vec<u64> = m["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["step"].as_u64().unwrap())
        .collect();
    assert_eq!(evaluated, [30, 60, 90, 120, 180, 210]);
    assert_eq!(m["thresholds"]["strategy"], "per_class");
    let per_class = std::fs::read_to_string(run.join("per_class_test.csv")).unwrap();
    assert!(per_class.starts_with("label,f1,precision,recall,auc,ap,support,tp,fp,fn,tn,threshold\n"));
    assert_eq!(per_class.lines().count(), 29);
    let log: Vec<Value> = std::fs::read_to_string(run.join("train_log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(log.len() as u64, m["steps"].as_u64().unwrap());
    check_tensorboard(&run.join("tensorboard"), &m);
    let predictions = goemo::data::read_prediction_csv(run.join("predictions_test.csv")).unwrap();
    assert_eq!(predictions.ids.len(), 5_427);
    assert_eq!(predictions.labels.len(), 28);

    // Killed mid-run, then resumed: the same metrics as the uninterrupted run.
    let mut child = Command::new(train_binary())
        .args(args(out.path(), "killed"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let progress = out.path().join("killed/state/progress.json");
    let start = Instant::now();
    while !progress.exists() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut resume = args(out.path(), "killed");
    resume.push("--resume".into());
    let status = Command::new(train_binary())
        .args(resume)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let resumed = metrics(&out.path().join("killed"));
    for key in [
        "dev",
        "test",
        "evaluations",
        "best_epoch",
        "best_step",
        "steps",
        "thresholds",
    ] {
        assert_eq!(resumed[key], m[key], "{key} differs after kill and resume");
    }
    // Two event files, read as one run: every step once (the restart marker drops the steps the
    // killed run logged after its last saved state).
    let files = std::fs::read_dir(out.path().join("killed/tensorboard"))
        .unwrap()
        .count();
    assert_eq!(files, 2);
    check_tensorboard(&out.path().join("killed/tensorboard"), &resumed);
}

/// The run's TensorBoard events as the `tensorboard` Python package reads them: a loss and a
/// learning rate per step, every dev evaluation at its step, the test metrics at the last.
fn check_tensorboard(dir: &Path, m: &Value) {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let script = r#"
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
events = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
events.Reload()
print(json.dumps({t: [[e.step, e.value] for e in events.Scalars(t)] for t in events.Tags()["scalars"]}))
"#;
    let output = Command::new(python).arg("-c").arg(script).arg(dir).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let scalars: Value = serde_json::from_slice(&output.stdout).unwrap();
    let steps = |tag: &str| -> Vec<u64> {
        let series = scalars[tag]
            .as_array()
            .unwrap_or_else(|| panic!("no {tag} in {scalars}"));
        series.iter().map(|p| p[0].as_u64().unwrap()).collect()
    };
    let n = m["steps"].as_u64().unwrap();
    assert_eq!(steps("train/loss"), (1..=n).collect::<Vec<_>>());
    assert_eq!(steps("train/learning_rate").len() as u64, n);
    // Epoch ends (75, 150, 225) and the evaluations every 30 steps.
    assert_eq!(steps("dev/auc_micro"), [30, 60, 75, 90, 120, 150, 180, 210, 225]);
    assert_eq!(steps("dev/loss").len(), 9);
    assert_eq!(steps("test/f1_macro"), [n]);
    let test_f1 = scalars["test/f1_macro"][0][1].as_f64().unwrap();
    assert!(
        (test_f1 - m["test"]["f1_macro"].as_f64().unwrap()).abs() < 1e-6,
        "{test_f1}"
    );
}

/// `--bench` times the saved checkpoint into `bench.csv`, which the report's efficiency table
/// reads (`RunFolder::inference_rate`).
#[test]
fn bench_flag_writes_bench_csv() {
    let out = tempfile::tempdir().unwrap();
    let mut args = args(out.path(), "bench");
    args.extend(["--max-steps", "2", "--bench"].map(String::from));
    let output = Command::new(train_binary()).args(args).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("inference: "));
    let run = out.path().join("bench");
    let bench = std::fs::read_to_string(run.join("bench.csv")).unwrap();
    let mut lines = bench.lines();
    assert_eq!(lines.next(), Some(goemo::run::BENCH_HEADER));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 10, "5 batch sizes, tokenization included and excluded");
    let sizes: Vec<&str> = rows.iter().step_by(2).map(|r| r[0]).collect();
    assert_eq!(sizes, ["1", "8", "16", "32", "64"]);
    assert!(rows.iter().all(|r| r[7].parse::<f64>().unwrap() > 0.0), "{bench}");
    let folder = goemo::analysis::RunFolder::read(&run).unwrap();
    let (rate, batch) = folder.inference_rate().unwrap().unwrap();
    assert!(rate > 0.0 && [1, 8, 16, 32, 64].contains(&batch));
}

/// Every shipped config is valid: each trains one step (on the tiny checkpoint and the CPU, so
/// that only the config's own options are tested) and writes its metrics.
#[test]
fn every_config_runs() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = tempfile::tempdir().unwrap();
    let mut configs: Vec<PathBuf> = std::fs::read_dir(Path::new(root).join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    configs.sort();
    assert!(configs.len() >= 4, "{configs:?}");
    for config in configs {
        let name = config.file_stem().unwrap().to_str().unwrap().to_string();
        let output = Command::new(train_binary())
            .args(["--config", config.to_str().unwrap()])
            .args([
                "--model",
                &format!("{root}/crates/goemo-model/tests/fixtures/tiny-bert"),
            ])
            .args(["--data", &format!("{root}/data/goemotions")])
            .args([
                "--max-train-samples",
                "64",
                "--max-steps",
                "1",
                "--device",
                "cpu",
                "--threads",
                "1",
            ])
            .args(["--output-dir", out.path().to_str().unwrap(), "--run-name", &name])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(out.path().join(&name).join("metrics.json").is_file(), "{name}");
    }
}

/// The same command twice gives the same run: every logged loss and learning rate, every metric
/// and threshold. The checkpoint's head is new (RoBERTa weights under a mean-pooling head), so
/// its weights are drawn at load: they must come from the seed too.
#[test]
fn same_seed_same_run() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let output = Command::new(train_binary())
            .args([
                "--model",
                &format!("{root}/crates/goemo-model/tests/fixtures/tiny-roberta"),
            ])
            .args(["--head", "mean_pooling", "--data", &format!("{root}/data/goemotions")])
            .args(["--max-train-samples", "200", "--epochs", "2", "--batch-size", "16"])
            .args(["--lr", "1e-3", "--seed", "7", "--device", "cpu", "--threads", "1"])
            .args([
                "--output-dir",
                out.path().join(name).to_str().unwrap(),
                "--run-name",
                "run",
            ])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let dir = out.path().join(name).join("run");
        // Timings and the output folder are the only things allowed to differ.
        let log: Vec<Value> = std::fs::read_to_string(dir.join("train_log.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("examples_per_s");
                v
            })
            .collect();
        let mut m = metrics(&dir);
        let m_obj = m.as_object_mut().unwrap();
        m_obj.remove("train_seconds");
        // Its id, times, memory and machine.
        m_obj.remove("run");
        m_obj["configuration"].as_object_mut().unwrap().remove("output_dir");
        for epoch in m_obj["history"].as_array_mut().unwrap() {
            let e = epoch.as_object_mut().unwrap();
            e.remove("seconds");
            e.remove("examples_per_s");
        }
        (log, m)
    };
    let (log_a, metrics_a) = run("a");
    let (log_b, metrics_b) = run("b");
    assert_eq!(log_a.len(), 26);
    assert_eq!(log_a, log_b, "train_log.jsonl differs between two runs of one command");
    assert_eq!(
        metrics_a, metrics_b,
        "metrics.json differs between two runs of one command"
    );
}

/// Ctrl-C (SIGINT) or SIGTERM mid-run: the state is saved at the next step, the resume command
/// is printed, and that command finishes the run.
#[test]
fn a_signal_saves_the_state_and_prints_the_resume_command() {
    let out = tempfile::tempdir().unwrap();
    let mut args = args(out.path(), "signalled");
    let at = args.iter().position(|a| a == "--save-every").unwrap();
    args[at + 1] = "100000".into();
    let child = Command::new(train_binary())
        .args(&args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = out.path().join("signalled/train_log.jsonl");
    let start = Instant::now();
    while std::fs::read_to_string(&log).map_or(0, |l| l.lines().count()) < 5
        && start.elapsed() < Duration::from_secs(120)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("the state is saved"), "{stderr}");
    let resume = stderr.lines().last().unwrap().trim().to_string();
    assert!(
        resume.ends_with("--resume") && resume.contains("--run-name signalled"),
        "{resume}"
    );
    assert!(out.path().join("signalled/state/progress.json").is_file());
    let mut words = resume.split_whitespace();
    let status = Command::new(words.next().unwrap())
        .args(words)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(metrics(&out.path().join("signalled"))["steps"], 225);
}

/// `--cuda-graphs` reaches the loop: on the CPU every static-shape step runs eagerly, and
/// metrics.json says how the steps ran.
#[test]
fn cuda_graphs_flag_runs_static_steps() {
    let out = tempfile::tempdir().unwrap();
    let mut args = args(out.path(), "graphs");
    args.extend(["--max-steps", "4", "--cuda-graphs"].map(String::from));
    let output = Command::new(train_binary()).args(args).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let m = metrics(&out.path().join("graphs"));
    assert_eq!(
        m["cuda_graphs"],
        serde_json::json!({"eager": 4, "recorded": 0, "replayed": 0})
    );
    assert_eq!(m["train_config"]["cuda_graphs"], true);
    // Gradient accumulation cannot be recorded: refused before anything loads.
    let mut args = self::args(out.path(), "accumulating");
    args.extend(["--cuda-graphs", "--grad-accumulation", "2"].map(String::from));
    let output = Command::new(train_binary()).args(args).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("accumulation"));
}
