//! The `predict` example: JSON lines and CSV from a checkpoint, one text per input line.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn predict_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples").join("predict")
}

fn fixture(name: &str) -> String {
    format!(
        "{}/crates/goemo-model/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn run(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(predict_binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn jsonl_has_every_label_in_order_and_the_labels_over_threshold() {
    let (ok, stdout, stderr) = run(
        &["--model", &fixture("tiny-bert"), "--threshold", "0.5"],
        "I love this!\n\nwhy would you 😡\r\n",
    );
    assert!(ok, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "blank lines are skipped");
    assert_eq!(lines[1]["text"], "why would you 😡");
    assert_eq!(lines[0]["calibrated"], false, "the fixture has no calibration.json");
    assert!(
        stderr.contains("no calibration.json") && stderr.contains("raw"),
        "{stderr}"
    );
    let scores = lines[0]["scores"].as_object().unwrap();
    let names: Vec<&String> = scores.keys().collect();
    assert_eq!(names.len(), 28);
    assert_eq!((names[0].as_str(), names[27].as_str()), ("admiration", "neutral"));
    let over: Vec<&str> = scores
        .iter()
        .filter(|(_, p)| p.as_f64().unwrap() >= 0.5)
        .map(|(l, _)| l.as_str())
        .collect();
    let labels: Vec<&str> = lines[0]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(labels, over);
}

#[test]
fn csv_has_a_header_and_one_row_per_text() {
    let (ok, stdout, stderr) = run(
        &["--model", &fixture("tiny-roberta"), "--format", "csv"],
        "ok\n\"quoted\", text\n",
    );
    assert!(ok, "{stderr}");
    let mut reader = csv::Reader::from_reader(stdout.as_bytes());
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "text");
    assert_eq!(header.len(), 29);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[1][0], "\"quoted\", text");
    assert!(rows.iter().all(|r| r
        .iter()
        .skip(1)
        .all(|p| (0.0..=1.0).contains(&p.parse::<f64>().unwrap()))));
}

#[test]
fn workers_share_the_texts_and_answer_as_one_classifier() {
    let texts: String = (0..40)
        .map(|i| format!("text {i}{}\n", " and more".repeat(i % 9)))
        .collect();
    let model = fixture("tiny-bert");
    let csv = |extra: &[&str]| {
        let mut args = vec!["--model", model.as_str(), "--format", "csv", "--batch-size", "4"];
        args.extend_from_slice(extra);
        let (ok, stdout, stderr) = run(&args, &texts);
        assert!(ok, "{stderr}");
        let rows: Vec<Vec<String>> = csv::Reader::from_reader(stdout.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        (rows, stderr)
    };
    let (one, _) = csv(&["--threads", "2"]);
    let (two, stderr) = csv(&["--workers", "2", "--threads", "1"]);
    assert!(
        stderr.contains("inference: fp32 on cpu, 1 thread") && stderr.contains("; 2 workers"),
        "{stderr}"
    );
    // --cuda-graphs: static shapes (eager on the CPU), the same answers.
    let (graphs, _) = csv(&["--cuda-graphs"]);
    assert_eq!(one.len(), 40);
    for other in [&two, &graphs] {
        for (a, b) in one.iter().zip(other) {
            assert_eq!(a[0], b[0], "rows in input order");
            for (x, y) in a[1..].iter().zip(&b[1..]) {
                let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
                assert!((x - y).abs() < 1e-5, "{} : {x} against {y}", a[0]);
            }
        }
    }
}

#[test]
fn a_bad_model_is_an_error_not_a_panic() {
    let (ok, _, stderr) = run(&["--model", "/no/such/folder"], "hi\n");
    assert!(!ok);
    assert!(stderr.starts_with("error: /no/such/folder: no such folder"), "{stderr}");
}

#[test]
fn invalid_utf8_blank_lines_and_a_megabyte_text_are_handled() {
    let mut input = b"fine\n\n   \n".to_vec();
    input.extend_from_slice(&[0xff, 0xfe, b'o', b'k', b'\n']);
    input.extend(std::iter::repeat_n(b'x', 1 << 20));
    input.push(b'\n');
    let mut child = Command::new(predict_binary())
        .args(["--model", &fixture("tiny-bert"), "--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("-:4: not UTF-8"),
        "the warning names the line: {stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        4,
        "header, fine, the repaired line, the long text"
    );
    assert!(stdout.lines().nth(2).unwrap().starts_with("\u{fffd}\u{fffd}ok,"));
}

/// 100,000 lines through a pipe: every line answered, memory bounded by the chunk.
#[test]
fn a_long_stream_is_answered_line_by_line_in_bounded_memory() {
    let mut child = Command::new(predict_binary())
        .args(["--model", &fixture("tiny-bert"), "--format", "csv", "--threads", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..100_000 {
            writeln!(stdin, "line {i}: feelings about {} things, said at length", i % 97).unwrap();
        }
    });
    let reader = {
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || std::io::BufRead::lines(std::io::BufReader::new(stdout)).count())
    };
    let rss = || {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(String::from))
            .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
    };
    // The first 3 s (libtorch and the model loading, the first chunks) set the baseline.
    let started = std::time::Instant::now();
    let (mut baseline, mut peak) = (0, 0);
    while !writer.is_finished() || child.try_wait().unwrap().is_none() {
        if let Some(kib) = rss() {
            if started.elapsed() < std::time::Duration::from_secs(3) {
                baseline = baseline.max(kib);
            }
            peak = peak.max(kib);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(reader.join().unwrap(), 100_001, "a header and one row per line");
    assert!(
        peak < baseline + 100 * 1024,
        "resident memory grew from {baseline} to {peak} KiB"
    );
}

/// A GoEmotions folder with a few labelled examples per split.
fn goemotions_dir(dir: &std::path::Path) {
    std::fs::write(dir.join("labels.txt"), goemo::data::GOEMOTIONS_LABELS.join("\n")).unwrap();
    let rows = "I love this so much!\t18\tid1\nThis is awful\t2,11\tid2\nok then\t27\tid3\n";
    for split in ["train", "dev", "test"] {
        std::fs::write(dir.join(format!("{split}.tsv")), rows).unwrap();
    }
}

#[test]
fn a_split_is_rescored_into_a_prediction_file_with_labels_matched_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    goemotions_dir(&data);
    let rescore = |model: &str, out: &std::path::Path| {
        run(
            &[
                "--model",
                model,
                "--data",
                data.to_str().unwrap(),
                "--split",
                "test",
                "--out",
                out.to_str().unwrap(),
            ],
            "",
        )
    };
    let plain = dir.path().join("plain.csv");
    let (ok, _, stderr) = rescore(&fixture("tiny-distilbert"), &plain);
    assert!(ok, "{stderr}");
    let file = goemo::analysis::Predictions::read(&plain).unwrap();
    assert_eq!(file.ids, ["id1", "id2", "id3"]);
    assert_eq!(file.labels.len(), 28);
    assert!(file.targets[[1, 2]] && file.targets[[1, 11]] && file.targets[[0, 18]]);

    // The same checkpoint with anger (2) and joy (17) swapped in id2label: the columns follow
    // the data's labels, so the file names each probability by its label.
    let swapped = dir.path().join("swapped");
    std::fs::create_dir(&swapped).unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(format!("{}/{f}", fixture("tiny-distilbert")), swapped.join(f)).unwrap();
    }
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}/config.json", fixture("tiny-distilbert"))).unwrap())
            .unwrap();
    config["id2label"]["2"] = "joy".into();
    config["id2label"]["17"] = "anger".into();
    config.as_object_mut().unwrap().remove("label2id");
    std::fs::write(swapped.join("config.json"), config.to_string()).unwrap();
    let out = dir.path().join("swapped.csv");
    let (ok, _, stderr) = rescore(swapped.to_str().unwrap(), &out);
    assert!(ok, "{stderr}");
    let moved = goemo::analysis::Predictions::read(&out).unwrap();
    assert_eq!(moved.labels, file.labels);
    for row in 0..3 {
        assert_eq!(moved.probabilities[[row, 2]], file.probabilities[[row, 17]]);
        assert_eq!(moved.probabilities[[row, 17]], file.probabilities[[row, 2]]);
        assert_eq!(moved.probabilities[[row, 5]], file.probabilities[[row, 5]]);
    }

    // A checkpoint whose labels are not the data's: an error listing the difference.
    config["id2label"]["2"] = "rage".into();
    std::fs::write(swapped.join("config.json"), config.to_string()).unwrap();
    let (ok, _, stderr) = rescore(swapped.to_str().unwrap(), &dir.path().join("bad.csv"));
    assert!(!ok);
    assert!(
        stderr.contains("only in the checkpoint: [rage]") && stderr.contains("only in the data: [joy]"),
        "{stderr}"
    );
    assert!(!dir.path().join("bad.csv").exists());
}
