//! `dataset_stats` end to end on the real release and tokenizer: per-split statistics, split
//! consistency in `stats.json`, every table and chart in the output folder.

use std::path::{Path, PathBuf};
use std::process::Command;

fn binary() -> PathBuf {
    // `cargo test` builds the examples next to the test executables' folder.
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("dataset_stats");
    assert!(bin.exists(), "{} is missing: run through `cargo test`", bin.display());
    bin
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn writes_per_split_statistics_consistency_tables_and_charts() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(binary())
        .arg("--data")
        .arg(repo("data/goemotions"))
        .arg("--tokenizer")
        .arg(repo("data/models/all-MiniLM-L6-v2/tokenizer.json"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(table.contains("split consistency:") && table.contains("KS characters dev vs test"));
    for file in [
        "stats.json",
        "dataset.md",
        "label_distribution.csv",
        "labels_per_example.csv",
        "lengths.csv",
        "split_consistency.csv",
        "cooccurrence.csv",
        "label_distribution.png",
        "label_distribution_without_neutral.png",
        "cooccurrence.png",
        "char_lengths.png",
        "token_lengths.png",
    ] {
        assert!(out.path().join(file).is_file(), "{file} is missing");
    }
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("stats.json")).unwrap()).unwrap();
    let splits = stats["splits"].as_array().unwrap();
    assert_eq!(splits.len(), 3);
    for s in splits {
        let tokens = &s["token_lengths"];
        assert!(tokens["q99"].as_f64().unwrap() > tokens["q25"].as_f64().unwrap());
        let limits: Vec<u64> = tokens["truncation"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["max_length"].as_u64().unwrap())
            .collect();
        assert_eq!(limits, [128, 256, 512]);
    }
    let consistency = &stats["split_consistency"];
    assert_eq!(consistency["label_chi2"]["dof"], 54);
    assert_eq!(consistency["label_count_chi2"]["dof"], 4);
    assert_eq!(consistency["length_ks"].as_array().unwrap().len(), 3);
    let document = std::fs::read_to_string(out.path().join("dataset.md")).unwrap();
    for section in [
        "## Labels per split",
        "## Labels per example",
        "## Text lengths",
        "## Split consistency",
    ] {
        assert!(document.contains(section), "dataset.md lacks {section}");
    }
    assert!(document.contains("| χ², split × label | 52.824 | 54 | 0.5198 | no difference found |"));
    let lengths = std::fs::read_to_string(out.path().join("lengths.csv")).unwrap();
    assert_eq!(lengths.lines().count(), 1 + 6, "characters and tokens for three splits");
    assert!(lengths.starts_with("split,unit,count,min,max,mean,std,median,q25,q75,q90,q95,q99,over_128"));
}

#[test]
fn a_missing_split_file_is_named() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("train.tsv"), "hello\t0\tid1\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let result = Command::new(binary())
        .arg("--data")
        .arg(data.path())
        .arg("--out")
        .arg(out.path().join("stats"))
        .output()
        .unwrap();
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("error:") && stderr.contains("dev"), "{stderr}");
    assert!(!out.path().join("stats").exists(), "nothing written");
}
