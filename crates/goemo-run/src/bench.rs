//! Inference latency and throughput of a loaded classifier by batch size: consecutive texts,
//! each batch timed on its own, with tokenization included (`EmotionClassifier::probabilities`)
//! and excluded (the forward pass on ids tokenized beforehand). `bench_inference` writes the
//! rows as `bench.csv`, which `report` reads into its efficiency table.

use std::path::Path;
use std::time::Instant;

use goemo_data::Batcher;
use goemo_metrics::quantile;
use goemo_model::{EmotionClassifier, ModelError, TensorBatch, TrainableModel};
use tch::Device;

use crate::{Result, RunError};

/// The header of `bench.csv`.
pub const BENCH_HEADER: &str =
    "batch_size,batches,mean_ms,std_ms,p50_ms,p95_ms,p99_ms,texts_per_s,tokenization,peak_rss_mib";

/// What to time.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    /// Batch sizes to time.
    pub batch_sizes: Vec<usize>,
    /// Batches timed per batch size (fewer when the texts run out).
    pub batches: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            batch_sizes: vec![1, 8, 16, 32, 64],
            batches: 64,
        }
    }
}

/// The timings of one batch size and mode.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRow {
    /// Texts per batch.
    pub batch_size: usize,
    /// "included" or "excluded".
    pub tokenization: &'static str,
    /// Batches timed.
    pub batches: usize,
    /// Mean latency of a batch.
    pub mean_ms: f64,
    /// Sample standard deviation.
    pub std_ms: f64,
    /// Median latency of a batch.
    pub p50_ms: f64,
    /// 95th percentile latency of a batch.
    pub p95_ms: f64,
    /// 99th percentile latency of a batch.
    pub p99_ms: f64,
    /// Texts over the summed time of every timed batch (the last one may be short).
    pub texts_per_s: f64,
}

fn summarise(batch_size: usize, tokenization: &'static str, mut ms: Vec<f64>, texts: usize) -> BenchRow {
    ms.sort_by(f64::total_cmp);
    let n = ms.len() as f64;
    let total: f64 = ms.iter().sum();
    let mean = total / n;
    let std = (ms.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    BenchRow {
        batch_size,
        tokenization,
        batches: ms.len(),
        mean_ms: mean,
        std_ms: std,
        p50_ms: quantile(&ms, 0.5),
        p95_ms: quantile(&ms, 0.95),
        p99_ms: quantile(&ms, 0.99),
        texts_per_s: texts as f64 / (total / 1e3),
    }
}

/// Times `classifier` on `texts` (after one warm-up batch), two rows per batch size. The
/// excluded mode runs every member of an ensemble on ids its tokenizer made beforehand.
pub fn bench_inference(
    classifier: &EmotionClassifier,
    texts: &[&str],
    options: &BenchOptions,
) -> Result<Vec<BenchRow>> {
    if texts.is_empty() || options.batch_sizes.is_empty() || options.batch_sizes.contains(&0) || options.batches == 0 {
        return Err(RunError::Option(
            "an inference benchmark needs texts, batch sizes of at least 1 and at least one batch".into(),
        ));
    }
    let (model, tokenizer) = (classifier.model(), classifier.tokenizer());
    let device: Device = model.device();
    classifier.probabilities(&texts[..texts.len().min(64)])?; // warm-up
    let mut rows = Vec::new();
    for &size in &options.batch_sizes {
        let chunks: Vec<&[&str]> = texts.chunks(size).take(options.batches).collect();
        let count: usize = chunks.iter().map(|c| c.len()).sum();
        let mut included = Vec::with_capacity(chunks.len());
        for chunk in &chunks {
            let t = Instant::now();
            classifier.probabilities(chunk)?;
            included.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let mut excluded = Vec::with_capacity(chunks.len());
        for chunk in &chunks {
            let ids = tokenizer.encode_batch(chunk)?;
            let batcher = Batcher::new(&ids, tokenizer.pad_id()).with_token_type_ids(model.uses_token_types());
            let all: Vec<usize> = (0..ids.len()).collect();
            let batch = TensorBatch::new(&batcher.batch(&all), device)?;
            let t = Instant::now();
            for member in classifier.members() {
                let probabilities = tch::no_grad(|| member.forward_t(&batch, false))?.sigmoid();
                // Copying to the host waits for the device.
                let _on_host = probabilities.f_to_device(Device::Cpu).map_err(ModelError::from)?;
            }
            excluded.push(t.elapsed().as_secs_f64() * 1e3);
        }
        rows.push(summarise(size, "included", included, count));
        rows.push(summarise(size, "excluded", excluded, count));
    }
    Ok(rows)
}

/// Writes `rows` as `bench.csv` (atomically), with the process's peak resident memory.
pub fn write_bench_csv(path: &Path, rows: &[BenchRow], peak_rss_mib: f64) -> Result<()> {
    let mut csv = format!("{BENCH_HEADER}\n");
    for r in rows {
        csv += &format!(
            "{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.1},{},{peak_rss_mib:.1}\n",
            r.batch_size, r.batches, r.mean_ms, r.std_ms, r.p50_ms, r.p95_ms, r.p99_ms, r.texts_per_s, r.tokenization
        );
    }
    Ok(goemo_fs::write_bytes_atomic(path, csv.as_bytes())?)
}

/// The rows as a Markdown table.
pub fn bench_table(rows: &[BenchRow]) -> String {
    let mut out = String::from(
        "| batch size | tokenization | batches | mean ms | std ms | p50 ms | p95 ms | p99 ms | texts/s |\n\
         | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        out += &format!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} |\n",
            r.batch_size, r.tokenization, r.batches, r.mean_ms, r.std_ms, r.p50_ms, r.p95_ms, r.p99_ms, r.texts_per_s
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_summarise_their_batches() {
        let r = summarise(8, "included", vec![30.0, 10.0, 20.0], 20);
        assert_eq!((r.batches, r.mean_ms, r.p50_ms), (3, 20.0, 20.0));
        assert!((r.std_ms - 10.0).abs() < 1e-12);
        // 20 texts in 60 ms.
        assert!((r.texts_per_s - 20.0 / 0.06).abs() < 1e-9);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.csv");
        write_bench_csv(&path, &[r], 512.0).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(BENCH_HEADER));
        assert!(text.lines().nth(1).unwrap().ends_with(",included,512.0"), "{text}");
    }
}
