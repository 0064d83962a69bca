//! An ensemble of trained runs: the members' dev and test probabilities averaged per example,
//! the mean calibrated and thresholds fitted on the averaged dev set, and a run folder that `report` and `evaluate` read
//! and that `predict` and `serve` load (`checkpoint/ensemble.json` lists the members).
//!
//! ```text
//! cargo run --release --example ensemble -- --run runs/minilm-cpu-seed42 \
//!     --run runs/minilm-cpu-seed43 --run runs/minilm-cpu-seed44 --out runs/minilm-cpu-ensemble
//! ```

use std::path::PathBuf;

use clap::Parser;
use goemo::analysis::{ensemble, RunFolder};
use goemo::calibration::MethodKind;
use goemo::threshold::StrategyKind;

#[derive(Parser, Debug)]
#[command(about = "Average trained runs into an ensemble run folder with thresholds fitted on dev")]
struct Cli {
    /// A member's run folder (predictions_dev.csv, predictions_test.csv; checkpoint/ to serve it).
    #[arg(long = "run", required = true, num_args = 1..)]
    runs: Vec<PathBuf>,
    #[arg(long)]
    out: PathBuf,
    /// global, optimal-global, optimal-global-macro, per-class or top-k, fitted on averaged dev.
    #[arg(long, default_value_t = StrategyKind::PerClass)]
    threshold_strategy: StrategyKind,
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    #[arg(long, default_value_t = 1)]
    top_k: usize,
    /// Calibration of the averaged probabilities, fitted on averaged dev: none, temperature,
    /// platt, isotonic or auto (per label, temperature or Platt by cross-validated log loss).
    #[arg(long, default_value_t = MethodKind::Auto)]
    calibration: MethodKind,
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let runs = cli.runs.iter().map(RunFolder::read).collect::<Result<Vec<_>, _>>()?;
    let strategy = cli.threshold_strategy.build(cli.threshold, cli.top_k, None);
    let ens = ensemble(&runs, strategy.as_ref(), cli.calibration)?;
    let record = ens.write(&cli.out, &runs)?;
    let metric = |split: &str, key: &str| record[split][key].as_f64().map_or("-".into(), |v| format!("{v:.4}"));
    let c = &ens.calibration;
    println!(
        "{} members; calibration {} and thresholds {} fitted on averaged dev",
        runs.len(),
        ens.calibrator.describe(),
        ens.strategy
    );
    println!(
        "test Brier {:.4} -> {:.4} (label frequencies {:.4}), ECE {:.4} -> {:.4}",
        c.before.micro.brier, c.after.micro.brier, c.baseline_brier_mean, c.before.micro.ece, c.after.micro.ece
    );
    println!("| split | micro AUC | macro AUC | micro F1 | macro F1 |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (split, name) in [("dev", "dev (thresholds fitted on it)"), ("test", "test")] {
        println!(
            "| {name} | {} | {} | {} | {} |",
            metric(split, "auc_micro"),
            metric(split, "auc_macro"),
            metric(split, "f1_micro"),
            metric(split, "f1_macro")
        );
    }
    println!("run folder: {}", cli.out.display());
    Ok(())
}
