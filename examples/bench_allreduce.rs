//! Times goemo's gradient all-reduce (DataParallel::sum_gradients: flat buckets, c10d) over a
//! model's parameter shapes; launched by torchrun, rank 0 prints one JSON line.
//!
//! ```text
//! torchrun --nproc-per-node 2 --no-python target/release/examples/bench_allreduce \
//!     --model data/models/all-MiniLM-L6-v2 --rounds 20
//! ```

use std::time::Instant;

use clap::Parser;
use goemo::model::{LoadOptions, SequenceClassifier, TrainableModel};
use goemo::run::{Launch, RunConfig};
use tch::{Device, Kind, Tensor};

#[derive(Parser, Debug)]
#[command(about = "Time the data-parallel gradient all-reduce over a model's parameters")]
struct Cli {
    /// Checkpoint whose parameter shapes are summed.
    #[arg(long, default_value = "data/models/all-MiniLM-L6-v2")]
    model: String,
    /// Timed all-reduces (after two untimed ones).
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// MiB per bucket.
    #[arg(long, default_value_t = 25.0)]
    bucket_mb: f64,
    /// libtorch threads per rank.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    goemo::model::set_threads(cli.threads);
    let launch = Launch::from_env()?.ok_or("launch this with torchrun (RANK and WORLD_SIZE are not set)")?;
    let config = RunConfig {
        bucket_mb: cli.bucket_mb,
        ..RunConfig::default()
    };
    let parallel = launch.join(&config, Device::Cpu)?;
    let model = SequenceClassifier::load(
        goemo::model::resolve_model(&cli.model)?,
        Device::Cpu,
        &LoadOptions::default(),
    )?;
    let params: Vec<Tensor> = model.named_parameters().into_iter().map(|(_, t)| t).collect();
    // Gradients of the right shapes: d(Σ sum(p))/dp = 1 for every parameter.
    params
        .iter()
        .map(|p| p.sum(Kind::Float))
        .fold(Tensor::zeros([], (Kind::Float, Device::Cpu)), |a, b| a + b)
        .backward();
    let elements: i64 = params.iter().map(Tensor::numel).map(|n| n as i64).sum();
    let mut times = Vec::with_capacity(cli.rounds);
    for round in 0..cli.rounds + 2 {
        let started = Instant::now();
        parallel.sum_gradients(&params, round as u64)?;
        if round >= 2 {
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    if parallel.is_leader() {
        let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
        println!(
            "{}",
            serde_json::json!({
                "implementation": "goemo",
                "world_size": parallel.world_size(),
                "elements": elements,
                "megabytes": elements as f64 * 4.0 / 1e6,
                "bucket_mb": cli.bucket_mb,
                "rounds": times.len(),
                "mean_ms": mean,
                "p50_ms": times[times.len() / 2],
                "min_ms": times[0],
            })
        );
    }
    Ok(())
}
