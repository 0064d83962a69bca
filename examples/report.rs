//! The "Model Performance" document from run folders: `model_performance.md`,
//! `comparison.json`, CSV tables and charts in `--out`.
//!
//! ```text
//! cargo run --release --example report -- --run minilm=runs/minilm-cpu \
//!     --run weighted=runs/minilm-cpu-weighted [--run seeds=runs/s1,runs/s2,runs/s3] \
//!     --out runs/report [--bootstrap 2000] [--seed 0]
//! ```
//! The first `--run` is the baseline. A run is a folder written by `train`, or any folder with
//! `predictions_dev.csv` and `predictions_test.csv` (`metrics.json` is read when there); several
//! folders after one name are seeds of one model.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use goemo::analysis::{compare, write_report, CompareOptions, RunFolder};

#[derive(Parser, Debug)]
#[command(about = "Compare runs: the Model Performance document, comparison.json, tables and charts")]
struct Cli {
    /// NAME=DIR[,DIR...]: a model and its run folder (several: seeds); the first is the baseline.
    #[arg(long = "run", required = true)]
    runs: Vec<String>,
    #[arg(long)]
    out: PathBuf,
    /// Paired bootstrap resamples (0: none).
    #[arg(long, default_value_t = 2000)]
    bootstrap: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut models = vec![];
    for spec in &cli.runs {
        let (name, dirs) = spec
            .split_once('=')
            .filter(|(n, d)| !n.is_empty() && !d.is_empty())
            .ok_or_else(|| format!("--run {spec:?}: expected NAME=DIR[,DIR...]"))?;
        let folders = dirs.split(',').map(RunFolder::read).collect::<Result<Vec<_>, _>>()?;
        models.push((name.to_string(), folders));
    }
    let options = CompareOptions {
        bootstrap: cli.bootstrap,
        seed: cli.seed,
        ..CompareOptions::default()
    };
    let comparison = compare(&models, &options)?;
    write_report(&comparison, &cli.out)?;
    eprintln!(
        "{} models compared in {:.1} s; report in {}",
        models.len(),
        started.elapsed().as_secs_f64(),
        cli.out.join("model_performance.md").display()
    );
    Ok(())
}
