//! The files of a data set's statistics: `stats.json`, CSV tables and PNG charts.

use std::path::Path;

use goemo_data::DatasetStats;
use goemo_fs::write_json_atomic;
use goemo_report::{bar_chart, heatmap, histogram, write_csv_atomic, BarChart, Heatmap, Histogram};

use crate::Result;

/// Writes `stats.json`, the label distribution, labels-per-example and co-occurrence tables, and
/// the label-distribution, co-occurrence and token-length charts into `out` (the token-length
/// chart when lengths are given, with a marker at `max_length`).
pub fn write_dataset_report(
    stats: &DatasetStats,
    token_lengths: Option<&[usize]>,
    max_length: usize,
    out: &Path,
) -> Result<()> {
    write_json_atomic(out.join("stats.json"), stats)?;
    write_tables(stats, out)?;
    write_charts(stats, token_lengths, max_length, out)
}

fn write_tables(stats: &DatasetStats, out: &Path) -> Result<()> {
    write_csv_atomic(
        out.join("label_distribution.csv"),
        &[
            "label",
            "train",
            "dev",
            "test",
            "train_fraction",
            "weight_inverse",
            "weight_sqrt_inverse",
            "weight_effective_samples",
        ],
        stats.label_counts.iter().enumerate().map(|(i, c)| {
            vec![
                c.label.clone(),
                c.train.to_string(),
                c.dev.to_string(),
                c.test.to_string(),
                c.train_fraction.to_string(),
                stats.class_weights_inverse[i].to_string(),
                stats.class_weights_sqrt_inverse[i].to_string(),
                stats.class_weights_effective_samples[i].to_string(),
            ]
        }),
    )?;
    write_csv_atomic(
        out.join("labels_per_example.csv"),
        &["labels", "examples"],
        stats
            .labels_per_example
            .iter()
            .enumerate()
            .map(|(k, n)| [k.to_string(), n.to_string()]),
    )?;
    let co = &stats.cooccurrence;
    let n = stats.labels.len();
    let fmt = |v: f64| if v.is_finite() { v.to_string() } else { String::new() };
    write_csv_atomic(
        out.join("cooccurrence.csv"),
        &["label_a", "label_b", "count", "p_b_given_a", "lift", "pmi"],
        (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| {
            [
                stats.labels[i].clone(),
                stats.labels[j].clone(),
                co.counts[[i, j]].to_string(),
                fmt(co.conditional[[i, j]]),
                fmt(co.lift[[i, j]]),
                fmt(co.pmi[[i, j]]),
            ]
        }),
    )?;
    Ok(())
}

fn write_charts(stats: &DatasetStats, token_lengths: Option<&[usize]>, max_length: usize, out: &Path) -> Result<()> {
    let co = &stats.cooccurrence;
    let n = stats.labels.len();
    // Most frequent label first.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(stats.label_counts[i].train));
    let names: Vec<String> = order.iter().map(|&i| stats.labels[i].clone()).collect();
    let counts: Vec<f64> = order.iter().map(|&i| stats.label_counts[i].train as f64).collect();
    bar_chart(
        out.join("label_distribution.png"),
        &BarChart {
            title: "Training examples per label",
            x_label: "training examples carrying the label",
            labels: &names,
            values: &counts,
            colors: None,
            value_format: |v| format!("{v:.0}"),
            marker: None,
            whiskers: None,
        },
    )?;
    // Conditional probabilities without the trivial diagonal, in frequency order.
    let values: Vec<Vec<f64>> = order
        .iter()
        .map(|&i| {
            order
                .iter()
                .map(|&j| if i == j { f64::NAN } else { co.conditional[[i, j]] })
                .collect()
        })
        .collect();
    heatmap(
        out.join("cooccurrence.png"),
        &Heatmap {
            title: "Label co-occurrence in train: P(column | row)",
            labels: &names,
            values: &values,
            max: 0.3,
        },
    )?;
    if let Some(lengths) = token_lengths {
        histogram(
            out.join("token_lengths.png"),
            &Histogram {
                title: "Training text lengths in tokens (special tokens included)",
                x_label: "tokens",
                values: lengths,
                bin_width: 2,
                marker: Some((max_length, "max length")),
            },
        )?;
    }
    Ok(())
}
