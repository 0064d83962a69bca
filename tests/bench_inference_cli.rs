//! The `bench_inference` example on the tiny checkpoint: one CSV row per batch size and
//! tokenization mode with the documented columns, in fp32, int8 and auto mode, each saying which
//! mode it ran; bad input is an error.

use std::path::PathBuf;
use std::process::Command;

fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("bench_inference")
}

#[test]
fn writes_one_row_per_batch_size_and_mode() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    for mode in ["fp32", "int8", "auto"] {
        let out = dir.path().join(format!("{mode}.csv"));
        let output = Command::new(binary())
            .args([
                "--model",
                &format!("{root}/crates/goemo-model/tests/fixtures/tiny-bert"),
            ])
            .args(["--texts", &format!("{root}/data/goemotions/dev.tsv")])
            .args([
                "--batch-sizes",
                "1,4",
                "--batches",
                "5",
                "--threads",
                "1",
                "--mode",
                mode,
            ])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let said = if mode == "auto" {
            "(auto: ".to_string()
        } else {
            format!("inference: {mode} on cpu")
        };
        assert!(stdout.lines().next().unwrap().contains(&said), "{stdout}");
        let mut reader = csv::Reader::from_path(&out).unwrap();
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(
            header,
            [
                "batch_size",
                "batches",
                "mean_ms",
                "std_ms",
                "p50_ms",
                "p95_ms",
                "p99_ms",
                "texts_per_s",
                "tokenization",
                "peak_rss_mib"
            ]
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let keys: Vec<(String, String)> = rows.iter().map(|r| (r[0].to_string(), r[8].to_string())).collect();
        let want = [
            ("1", "included"),
            ("1", "excluded"),
            ("4", "included"),
            ("4", "excluded"),
        ];
        assert_eq!(keys, want.map(|(a, b)| (a.to_string(), b.to_string())));
        for row in &rows {
            assert_eq!(&row[1], "5");
            let p50: f64 = row[4].parse().unwrap();
            let p99: f64 = row[6].parse().unwrap();
            assert!(p50 > 0.0 && p99 >= p50, "{row:?}");
            assert!(row[7].parse::<f64>().unwrap() > 0.0);
        }
    }
    let output = Command::new(binary())
        .args([
            "--model",
            &format!("{root}/crates/goemo-model/tests/fixtures/tiny-bert"),
        ])
        .args(["--texts", "/nonexistent/texts.txt", "--out"])
        .arg(dir.path().join("x.csv"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/texts.txt"));
}
