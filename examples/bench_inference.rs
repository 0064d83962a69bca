//! Inference latency and throughput of a checkpoint by batch size: consecutive texts of a file
//! (one per line, or the first column of a GoEmotions TSV), each batch timed on its own, with
//! tokenization included (`EmotionClassifier::probabilities`) and excluded (the forward pass on
//! ids tokenized beforehand). Writes one CSV row per batch size and mode, and prints a table.
//!
//! ```text
//! cargo run --release --example bench_inference -- --model runs/minilm-cpu/checkpoint \
//!     --texts data/goemotions/test.tsv --batch-sizes 1,8,16,32,64 [--quantize int8] --out bench.csv
//! ```

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use goemo::data::{Batcher, HfTokenizer, Tokenize, DEFAULT_MAX_LENGTH};
use goemo::model::{
    parse_device, resolve_model, set_threads, EmotionClassifier, Precision, Quantization, TensorBatch, TrainableModel,
};

#[derive(Parser, Debug)]
#[command(about = "Latency and throughput of a checkpoint by batch size")]
struct Cli {
    #[arg(long)]
    model: String,
    /// Texts, one per line (a TSV's first column).
    #[arg(long)]
    texts: PathBuf,
    #[arg(long, default_value = "1,8,16,32,64", value_delimiter = ',')]
    batch_sizes: Vec<usize>,
    /// Batches timed per batch size (fewer when the file runs out).
    #[arg(long, default_value_t = 64)]
    batches: usize,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// libtorch threads (0: libtorch's default).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[arg(long, default_value = "fp32")]
    precision: Precision,
    /// none, or int8 (the encoder's Linear layers, fbgemm, CPU).
    #[arg(long, default_value = "none")]
    quantize: Quantization,
    /// The CSV to write.
    #[arg(long)]
    out: PathBuf,
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

struct Row {
    batch_size: usize,
    tokenization: &'static str,
    ms: Vec<f64>,
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    set_threads(cli.threads);
    let device = parse_device(&cli.device)?;
    let text = std::fs::read_to_string(&cli.texts).map_err(|e| format!("{}: {e}", cli.texts.display()))?;
    let texts: Vec<&str> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default())
        .filter(|l| !l.trim().is_empty())
        .collect();
    if texts.is_empty() || cli.batch_sizes.contains(&0) {
        return Err("need at least one text and batch sizes of at least 1".into());
    }
    let started = Instant::now();
    let classifier = EmotionClassifier::load_on(&cli.model, device)?
        .with_precision(cli.precision)?
        .with_quantization(cli.quantize)?;
    let load_s = started.elapsed().as_secs_f64();
    let model = classifier.model();
    let tokenizer = HfTokenizer::from_file(resolve_model(&cli.model)?.join("tokenizer.json"), DEFAULT_MAX_LENGTH)?
        .with_pad_id(model.config().pad_token_id as u32);
    classifier.probabilities(&texts[..texts.len().min(64)])?; // warm-up
    let mut rows = Vec::new();
    for &size in &cli.batch_sizes {
        let chunks: Vec<&[&str]> = texts.chunks(size).take(cli.batches).collect();
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
            let probabilities = tch::no_grad(|| model.forward_t(&batch, false))?.sigmoid();
            let _ = probabilities.f_to_device(tch::Device::Cpu)?; // waits for the device
            excluded.push(t.elapsed().as_secs_f64() * 1e3);
        }
        rows.push(Row {
            batch_size: size,
            tokenization: "included",
            ms: included,
        });
        rows.push(Row {
            batch_size: size,
            tokenization: "excluded",
            ms: excluded,
        });
    }
    let peak = goemo::run::peak_resident_mib().unwrap_or(f64::NAN);
    let mut csv =
        String::from("batch_size,batches,mean_ms,std_ms,p50_ms,p95_ms,p99_ms,texts_per_s,tokenization,peak_rss_mib\n");
    println!(
        "{}: {:?} {} {}, load {load_s:.2} s, peak resident memory {peak:.0} MiB\n",
        cli.model, device, cli.precision, cli.quantize
    );
    println!("| batch size | tokenization | batches | mean ms | std ms | p50 ms | p95 ms | p99 ms | texts/s |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in &mut rows {
        row.ms.sort_by(f64::total_cmp);
        let n = row.ms.len() as f64;
        let mean = row.ms.iter().sum::<f64>() / n;
        let std = (row.ms.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
        let (p50, p95, p99) = (
            goemo::metrics::quantile(&row.ms, 0.5),
            goemo::metrics::quantile(&row.ms, 0.95),
            goemo::metrics::quantile(&row.ms, 0.99),
        );
        // Texts per second over every timed batch (the last one may be short).
        let count: usize = texts.chunks(row.batch_size).take(cli.batches).map(<[&str]>::len).sum();
        let rate = count as f64 / (row.ms.iter().sum::<f64>() / 1e3);
        csv += &format!(
            "{},{},{mean:.3},{std:.3},{p50:.3},{p95:.3},{p99:.3},{rate:.1},{},{peak:.1}\n",
            row.batch_size,
            row.ms.len(),
            row.tokenization
        );
        println!(
            "| {} | {} | {} | {mean:.2} | {std:.2} | {p50:.2} | {p95:.2} | {p99:.2} | {rate:.0} |",
            row.batch_size,
            row.tokenization,
            row.ms.len()
        );
    }
    goemo::fs::write_bytes_atomic(&cli.out, csv.as_bytes())?;
    Ok(())
}
