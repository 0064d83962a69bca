//! Inference latency and throughput of a checkpoint by batch size (`goemo::run::bench_inference`)
//! on consecutive texts of a file (one per line, or the first column of a GoEmotions TSV), with
//! tokenization included and excluded. Writes one CSV row per batch size and mode, and prints a
//! table. `train --bench` writes the same file into its run folder.
//!
//! ```text
//! cargo run --release --example bench_inference -- --model runs/minilm-cpu/checkpoint \
//!     --texts data/goemotions/test.tsv --batch-sizes 1,8,16,32,64 [--mode int8] --out bench.csv
//! ```

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use goemo::model::{keep_freed_memory, parse_device, set_threads, EmotionClassifier, InferenceMode};
use goemo::run::{bench_inference, bench_table, write_bench_csv, BenchOptions};
use goemo::system::peak_resident_mib;

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
    /// fp32; bf16 (autocast: oneDNN on the CPU, tensor cores on a GPU); int8 (the encoder's
    /// Linear layers quantized at load, one scale per token, CPU); or auto, the fastest here.
    #[arg(long, default_value = "fp32")]
    mode: InferenceMode,
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

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    keep_freed_memory();
    set_threads(cli.threads);
    let device = parse_device(&cli.device)?;
    let text = std::fs::read_to_string(&cli.texts).map_err(|e| format!("{}: {e}", cli.texts.display()))?;
    let texts: Vec<&str> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default())
        .filter(|l| !l.trim().is_empty())
        .collect();
    let started = Instant::now();
    let classifier = EmotionClassifier::load_on(&cli.model, device)?.with_mode(cli.mode)?;
    let load_s = started.elapsed().as_secs_f64();
    let options = BenchOptions {
        batch_sizes: cli.batch_sizes,
        batches: cli.batches,
    };
    let rows = bench_inference(&classifier, &texts, &options)?;
    let peak = peak_resident_mib().unwrap_or(f64::NAN);
    println!(
        "{}: {}, load {load_s:.2} s, peak resident memory {peak:.0} MiB\n",
        cli.model,
        classifier.describe_mode(cli.mode)
    );
    print!("{}", bench_table(&rows));
    write_bench_csv(&cli.out, &rows, peak)?;
    Ok(())
}
