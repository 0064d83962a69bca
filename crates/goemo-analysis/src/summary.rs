//! A model's summary from its runs' records: configuration, dev curves, hardware, efficiency
//! and test metrics (the seeds' mean for several runs).

use std::collections::BTreeMap;

use goemo_metrics::MetricReport;
use serde_json::Value;

use crate::compare::{EpochPoint, ModelKind, ModelSummary, SeedStats, TestMetrics, METRICS};
use crate::{Result, RunFolder};

/// The configuration keys the document shows, in its order.
const CONFIGURATION: [&str; 18] = [
    "model",
    "head",
    "max_seq_length",
    "epochs",
    "batch_size",
    "lr",
    "schedule",
    "warmup_ratio",
    "weight_decay",
    "dropout",
    "loss",
    "asl_gamma_neg",
    "class_weights",
    "prior_bias",
    "threshold_strategy",
    "calibration",
    "precision",
    "seed",
];

pub(crate) fn summary(name: &str, runs: &[RunFolder], reports: &[MetricReport]) -> Result<ModelSummary> {
    let first = &runs[0];
    let (seeds, seed_values) = seed_statistics(reports);
    let test = mean_metrics(reports, &seeds);
    let members = ensemble_members(first);
    let kind = match (runs.len(), members.is_empty()) {
        (1, true) => ModelKind::Run,
        (1, false) => ModelKind::Ensemble,
        _ => ModelKind::SeedMean,
    };
    let trained = trained_records(kind, runs);
    let number = |v: &Value, pointer: &str| v.pointer(pointer).and_then(Value::as_f64);
    let best_epochs: Vec<u64> = trained
        .iter()
        .filter_map(|(_, r)| number(r, "/best_epoch").map(|e| e as u64 + 1))
        .collect();
    let select_by = first.text("/configuration/select_by");
    let best_dev = mean(trained.iter().map(|(_, r)| {
        let (epoch, key) = (number(r, "/best_epoch")?, select_by.as_deref()?);
        number(r, &format!("/history/{epoch}/dev/{key}"))
    }));
    let rates = runs.iter().map(RunFolder::inference_rate).collect::<Result<Vec<_>>>()?;
    let inference = mean(rates.into_iter().map(|r| r.map(|(rate, _)| rate)));
    let never_predicted = never_predicted(reports);
    Ok(ModelSummary {
        name: name.into(),
        kind,
        runs: runs.iter().map(|r| r.dir.display().to_string()).collect(),
        parameters: first.number("/parameters"),
        train_seconds: mean(runs.iter().map(|r| r.number("/train_seconds"))),
        best_epoch: best_epochs
            .first()
            .copied()
            .filter(|e| best_epochs.iter().all(|x| x == e)),
        best_epochs,
        epochs: first.number("/configuration/epochs").map(|e| e as u64),
        best_dev,
        select_by,
        configuration: configuration(runs, &trained, kind),
        history: trained.iter().map(|(run, r)| (run.clone(), history(r))).collect(),
        examples_per_second: mean(trained.iter().map(|(_, r)| history_rate(r))),
        inference_texts_per_second: inference,
        device: first.text("/device"),
        precision: first.text("/precision"),
        threads: first.number("/configuration/threads"),
        libtorch: first.text("/versions/libtorch"),
        cpu: trained
            .first()
            .and_then(|(_, r)| Some(r.pointer("/run/host/cpu")?.as_str()?.to_string())),
        logical_cores: trained.first().and_then(|(_, r)| number(r, "/run/host/logical_cores")),
        gpu: first.record.as_ref().and_then(run_gpu),
        os: trained
            .first()
            .and_then(|(_, r)| Some(r.pointer("/run/host/os")?.as_str()?.to_string())),
        peak_resident_mib: trained
            .iter()
            .filter_map(|(_, r)| number(r, "/run/peak_resident_mib"))
            .reduce(f64::max),
        labels: first.test.labels.clone(),
        test_examples: first.test.ids.len(),
        test,
        seeds,
        seed_values,
        never_predicted,
        artifacts: first.artifacts(),
        ensemble_members: members,
    })
}

/// The records of the runs that trained: the runs' own, or an ensemble's members' (it trained
/// nothing itself), each with its run's name.
fn trained_records(kind: ModelKind, runs: &[RunFolder]) -> Vec<(String, &Value)> {
    match kind {
        ModelKind::Ensemble => runs[0]
            .record
            .as_ref()
            .and_then(|r| r.pointer("/members_training")?.as_array())
            .map(|m| {
                m.iter()
                    .map(|v| (v["member"].as_str().unwrap_or("member").to_string(), v))
                    .collect()
            })
            .unwrap_or_default(),
        _ => runs
            .iter()
            .filter_map(|r| Some((r.dir.display().to_string(), r.record.as_ref()?)))
            .collect(),
    }
}

/// The mean of values that are all there; `None` when any is missing or there are none.
fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let values: Vec<f64> = values.collect::<Option<_>>()?;
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Each metric's seed statistics and values (empty for one run).
fn seed_statistics(reports: &[MetricReport]) -> (BTreeMap<String, SeedStats>, BTreeMap<String, Vec<f64>>) {
    let (mut seeds, mut seed_values) = (BTreeMap::new(), BTreeMap::new());
    if reports.len() > 1 {
        let metrics: Vec<TestMetrics> = reports.iter().map(TestMetrics::of).collect();
        for metric in METRICS {
            let values: Vec<f64> = metrics.iter().filter_map(|m| m.get(metric)).collect();
            if values.len() == reports.len() {
                seeds.insert(metric.to_string(), seed_stats(&values));
                seed_values.insert(metric.to_string(), values);
            }
        }
    }
    (seeds, seed_values)
}

/// The test metrics of one run, or the seeds' means.
fn mean_metrics(reports: &[MetricReport], seeds: &BTreeMap<String, SeedStats>) -> TestMetrics {
    if reports.len() == 1 {
        return TestMetrics::of(&reports[0]);
    }
    let mean = |metric: &str| seeds.get(metric).map(|s| s.mean);
    let rate = |metric: &str| mean(metric).unwrap_or(f64::NAN);
    TestMetrics {
        auc_micro: mean("auc_micro"),
        auc_macro: mean("auc_macro"),
        f1_micro: rate("f1_micro"),
        f1_macro: rate("f1_macro"),
        precision_micro: rate("precision_micro"),
        precision_macro: rate("precision_macro"),
        recall_micro: rate("recall_micro"),
        recall_macro: rate("recall_macro"),
    }
}

/// Mean, sample standard deviation and extremes of values.
pub(crate) fn seed_stats(values: &[f64]) -> SeedStats {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64;
    SeedStats {
        mean,
        std: var.sqrt(),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        n,
    }
}

/// Labels that no run predicted on test.
fn never_predicted(reports: &[MetricReport]) -> Vec<String> {
    reports[0]
        .per_class
        .iter()
        .enumerate()
        .filter(|(j, _)| reports.iter().all(|r| r.per_class[*j].tp + r.per_class[*j].fp == 0))
        .map(|(_, c)| c.label.clone())
        .collect()
}

fn ensemble_members(run: &RunFolder) -> Vec<String> {
    run.record
        .as_ref()
        .and_then(|r| r.pointer("/ensemble/members")?.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.as_str().map(String::from))
        .collect()
}

/// The configuration keys of [`CONFIGURATION`] the runs recorded; values that differ between
/// seeds are listed in run order.
fn configuration(runs: &[RunFolder], trained: &[(String, &Value)], kind: ModelKind) -> Vec<(String, String)> {
    let mut rows = vec![];
    // An ensemble's seeds are its members'.
    let member_seeds: Vec<String> = trained
        .iter()
        .filter_map(|(_, r)| Some(r.get("seed").filter(|s| !s.is_null())?.to_string()))
        .collect();
    for key in CONFIGURATION {
        let mut values: Vec<String> = runs
            .iter()
            .filter_map(|r| r.text(&format!("/configuration/{key}")))
            .collect();
        if values.is_empty() {
            continue;
        }
        if key == "seed" && kind == ModelKind::Ensemble && !member_seeds.is_empty() {
            values.clone_from(&member_seeds);
        }
        if values.iter().all(|v| *v == values[0]) {
            values.truncate(1);
        }
        rows.push((key.to_string(), values.join(", ")));
    }
    rows
}

/// A run's epochs from its record's `history`.
fn history(record: &Value) -> Vec<EpochPoint> {
    let Some(epochs) = record.pointer("/history").and_then(Value::as_array) else {
        return vec![];
    };
    epochs
        .iter()
        .map(|e| EpochPoint {
            epoch: e["epoch"].as_u64().unwrap_or(0) + 1,
            train_loss: e["train_loss"].as_f64(),
            dev_loss: e["dev_loss"].as_f64(),
            dev_auc_micro: e.pointer("/dev/auc_micro").and_then(Value::as_f64),
            dev_f1_micro: e.pointer("/dev/f1_micro").and_then(Value::as_f64),
            dev_f1_macro: e.pointer("/dev/f1_macro").and_then(Value::as_f64),
        })
        .collect()
}

/// The mean training rate over a run's epochs, examples per second.
fn history_rate(record: &Value) -> Option<f64> {
    let h = record.get("history")?.as_array()?;
    let rates: Vec<f64> = h.iter().filter_map(|e| e.get("examples_per_s")?.as_f64()).collect();
    (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64)
}

/// The GPU of a run on CUDA (`device` "Cuda(N)" in metrics.json) from its host record: name
/// and memory of GPU N.
fn run_gpu(record: &Value) -> Option<String> {
    let device = record.pointer("/device")?.as_str()?;
    let index: usize = device.strip_prefix("Cuda(")?.strip_suffix(')')?.parse().ok()?;
    let gpus = record.pointer("/run/host/gpus")?.as_array()?;
    let gpu = gpus.iter().find(|g| g["index"].as_u64() == Some(index as u64))?;
    let name = gpu["name"].as_str()?;
    Some(match gpu["memory_mib"].as_f64() {
        Some(mib) => format!("{name}, {mib:.0} MiB"),
        None => name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::run_gpu;
    use serde_json::json;

    #[test]
    fn a_cuda_run_names_its_gpu() {
        let gpus = json!([
            {"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_mib": 81559.0},
            {"index": 1, "name": "NVIDIA H200", "memory_mib": null}
        ]);
        let record = |device: &str| json!({"device": device, "run": {"host": {"gpus": gpus.clone()}}});
        assert_eq!(
            run_gpu(&record("Cuda(0)")).as_deref(),
            Some("NVIDIA H100 80GB HBM3, 81559 MiB")
        );
        assert_eq!(run_gpu(&record("Cuda(1)")).as_deref(), Some("NVIDIA H200"));
        assert_eq!(run_gpu(&record("Cpu")), None);
        assert_eq!(run_gpu(&record("Cuda(2)")), None);
    }
}
