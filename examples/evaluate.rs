//! Evaluates any model's scores: `MetricReport` as a table or JSON, thresholds from a strategy
//! fitted on a separate (dev) set, optional threshold sweep and bootstrap intervals.
//!
//! ```text
//! cargo run --release --example evaluate -- --scores test_scores.csv --targets test_targets.csv \
//!     --threshold-strategy per-class --fit-scores dev_scores.csv --fit-targets dev_targets.csv
//! cargo run --release --example evaluate -- --scores runs/x/predictions_test.csv \
//!     --threshold-strategy per-class --fit-scores runs/x/predictions_dev.csv --json
//! ```

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Parser;
use goemo::analysis::{bootstrap_headlines, evaluate_set, fit_thresholds, write_sweep, ScoredSet};
use goemo::data::LabelSet;
use goemo::metrics::BootstrapOptions;
use goemo::threshold::StrategyKind;

#[derive(Parser, Debug)]
#[command(about = "Multi-label metrics of a model's scores, with thresholds fitted on another set")]
struct Args {
    /// Scores: one column per label (optional header of label names), or a prediction CSV
    /// (`id,text,true_labels,pred_labels,<labels>`), which also carries the targets.
    #[arg(long)]
    scores: PathBuf,
    /// 0/1 targets, same layout; optional when --scores is a prediction CSV.
    #[arg(long)]
    targets: Option<PathBuf>,
    /// Label names, one per line (when the CSVs have no header).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// global, optimal-global, optimal-global-macro, per-class or top-k.
    #[arg(long, default_value_t = StrategyKind::Global)]
    threshold_strategy: StrategyKind,
    /// The global strategy's threshold.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// The top-k strategy's k.
    #[arg(long, default_value_t = 1)]
    top_k: usize,
    /// The top-k strategy's minimum score.
    #[arg(long)]
    min_score: Option<f64>,
    /// Scores to fit thresholds on (a dev set, never the evaluated one).
    #[arg(long)]
    fit_scores: Option<PathBuf>,
    /// Targets of the fit set; optional when --fit-scores is a prediction CSV.
    #[arg(long)]
    fit_targets: Option<PathBuf>,
    /// Print the MetricReport as JSON.
    #[arg(long)]
    json: bool,
    /// Also write every threshold metric for global thresholds 0.01..0.99 to this CSV.
    #[arg(long)]
    sweep: Option<PathBuf>,
    /// Bootstrap 95% intervals of the headline metrics with this many resamples (0: none).
    #[arg(long, default_value_t = 0)]
    bootstrap: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let eval = ScoredSet::read(&args.scores, args.targets.as_deref())?;
    let c = eval.scores.ncols();
    let labels: Vec<String> = match (&args.labels, &eval.labels) {
        (Some(path), _) => LabelSet::from_file(path)?.names().to_vec(),
        (None, Some(names)) => names.clone(),
        (None, None) if c == 28 => LabelSet::goemotions().names().to_vec(),
        (None, None) => (0..c).map(|i| format!("label_{i}")).collect(),
    };
    if eval.labels.as_ref().is_some_and(|names| *names != labels) {
        bail!("--labels differs from the label names in {}", args.scores.display());
    }
    let strategy = args
        .threshold_strategy
        .build(args.threshold, args.top_k, args.min_score);
    let fit = match &args.fit_scores {
        Some(path) => Some(ScoredSet::read(path, args.fit_targets.as_deref())?),
        None => None,
    };
    let thresholds = fit_thresholds(strategy.as_ref(), fit.as_ref(), &eval)?;
    let (report, predictions) = evaluate_set(&eval, &thresholds, &labels)?;
    if let Some(path) = &args.sweep {
        write_sweep(&eval, path)?;
        eprintln!("threshold sweep written to {}", path.display());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let fitted_on = args
            .fit_scores
            .as_ref()
            .map(|p| format!(", fitted on {}", p.display()))
            .unwrap_or_default();
        let (n, described) = (eval.scores.nrows(), thresholds.describe());
        println!("{n} examples x {c} labels; thresholds: {described}{fitted_on}\n");
        print!("{}", report.table());
    }
    if args.bootstrap > 0 {
        let options = BootstrapOptions {
            resamples: args.bootstrap,
            confidence: 0.95,
            seed: args.seed,
        };
        eprintln!(
            "\nbootstrap 95% intervals ({} resamples over examples):",
            args.bootstrap
        );
        for ci in bootstrap_headlines(&eval, &predictions, &options)? {
            eprintln!(
                "  {:<10} {:.4} [{:.4}, {:.4}]",
                ci.metric, ci.estimate, ci.lower, ci.upper
            );
        }
    }
    Ok(())
}
