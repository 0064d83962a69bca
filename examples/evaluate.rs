//! Evaluates any model's scores: `MetricReport` as a table or JSON, thresholds from a strategy
//! fitted on a separate (dev) set, optional threshold sweep and bootstrap intervals.
//!
//! ```text
//! cargo run --release --example evaluate -- --scores test_scores.csv --targets test_targets.csv \
//!     --threshold-strategy per-class --fit-scores dev_scores.csv --fit-targets dev_targets.csv
//! cargo run --release --example evaluate -- --scores runs/x/predictions_test.csv \
//!     --threshold-strategy per-class --fit-scores runs/x/predictions_dev.csv --json
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Parser;
use goemo::data::{is_prediction_csv, read_matrix_csv, read_prediction_csv, LabelSet};
use goemo::metrics::{bootstrap_ci, target_mask, BootstrapOptions, EvalData, Headline, MetricReport};
use goemo::threshold::{parse_strategy, threshold_sweep};
use ndarray::Array2;

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
    #[arg(long, default_value = "global")]
    threshold_strategy: String,
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

/// Scores, targets and label names (when the files name them) of one set.
struct Set {
    scores: Array2<f64>,
    targets: Array2<f64>,
    labels: Option<Vec<String>>,
}

fn load_set(scores: &Path, targets: Option<&Path>) -> Result<Set> {
    let bytes = std::fs::read(scores).with_context(|| format!("cannot read {}", scores.display()))?;
    if is_prediction_csv(&bytes) {
        let p = read_prediction_csv(scores)?;
        let targets = match targets {
            Some(path) => read_matrix_csv(path)?.values,
            None => p.targets,
        };
        return Ok(Set {
            scores: p.scores,
            targets,
            labels: Some(p.labels),
        });
    }
    let Some(targets) = targets else {
        bail!("{} is not a prediction CSV: pass its targets too", scores.display());
    };
    let (s, t) = (read_matrix_csv(scores)?, read_matrix_csv(targets)?);
    if let (Some(a), Some(b)) = (&s.labels, &t.labels) {
        if a != b {
            bail!("{} and {} name different labels", scores.display(), targets.display());
        }
    }
    Ok(Set {
        labels: s.labels.or(t.labels),
        scores: s.values,
        targets: t.values,
    })
}

fn run(args: Args) -> Result<()> {
    let eval = load_set(&args.scores, args.targets.as_deref())?;
    let c = eval.scores.ncols();
    let labels: Vec<String> = match (&args.labels, &eval.labels) {
        (Some(path), _) => LabelSet::from_file(path)?.names().to_vec(),
        (None, Some(names)) => names.clone(),
        (None, None) if c == 28 => LabelSet::goemotions().names().to_vec(),
        (None, None) => (0..c).map(|i| format!("label_{i}")).collect(),
    };
    if let Some(names) = &eval.labels {
        if *names != labels {
            bail!("--labels differs from the label names in {}", args.scores.display());
        }
    }

    let strategy = parse_strategy(&args.threshold_strategy, args.threshold, args.top_k, args.min_score)?;
    let fitted = if strategy.needs_fit() {
        let Some(fit_scores) = &args.fit_scores else {
            bail!(
                "--threshold-strategy {} learns thresholds: pass --fit-scores (and --fit-targets) from a dev set; \
                 thresholds are never fitted on the evaluated set",
                strategy.name()
            );
        };
        let fit = load_set(fit_scores, args.fit_targets.as_deref())?;
        if fit.scores.ncols() != c {
            bail!(
                "the fit set has {} label columns, the evaluated set {c}",
                fit.scores.ncols()
            );
        }
        if let (Some(a), Some(b)) = (&fit.labels, &eval.labels) {
            if a != b {
                bail!("the fit set and the evaluated set name different labels");
            }
        }
        goemo::metrics::validate(fit.scores.view(), fit.targets.view()).context("fit set")?;
        strategy.fit(fit.scores.view(), target_mask(fit.targets.view()).view())?
    } else {
        strategy.fit(eval.scores.view(), target_mask(eval.targets.view()).view())?
    };
    goemo::metrics::validate(eval.scores.view(), eval.targets.view()).context("evaluated set")?;
    let predictions = fitted.apply(eval.scores.view())?;
    let thresholds = fitted.per_class(c);
    let report = MetricReport::compute(
        eval.scores.view(),
        eval.targets.view(),
        predictions.view(),
        &labels,
        thresholds.as_deref(),
    )?;

    if let Some(path) = &args.sweep {
        let rows = threshold_sweep(eval.scores.view(), target_mask(eval.targets.view()).view())?;
        let mut out = csv::Writer::from_writer(Vec::new());
        for row in &rows {
            out.serialize(row)?;
        }
        let bytes = out.into_inner()?;
        goemo::report::write_atomic(path, |w| w.write_all(&bytes))?;
        eprintln!("threshold sweep written to {}", path.display());
    }

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report, &args, eval.scores.nrows(), &fitted.describe());
    }

    if args.bootstrap > 0 {
        let mask = target_mask(eval.targets.view());
        let data = EvalData {
            scores: eval.scores.view(),
            targets: mask.view(),
            predictions: predictions.view(),
        };
        let options = BootstrapOptions {
            resamples: args.bootstrap,
            confidence: 0.95,
            seed: args.seed,
        };
        eprintln!(
            "\nbootstrap 95% intervals ({} resamples over examples):",
            args.bootstrap
        );
        for metric in [
            Headline::AucMicro,
            Headline::AucMacro,
            Headline::F1Micro,
            Headline::F1Macro,
        ] {
            let ci = bootstrap_ci(&data, &metric, &options)?;
            eprintln!(
                "  {:<10} {:.4} [{:.4}, {:.4}]",
                ci.metric, ci.estimate, ci.lower, ci.upper
            );
        }
    }
    Ok(())
}

fn print_table(r: &MetricReport, args: &Args, n: usize, thresholds: &str) {
    let fitted_on = args
        .fit_scores
        .as_ref()
        .map(|p| format!(", fitted on {}", p.display()))
        .unwrap_or_default();
    println!(
        "{n} examples x {} labels; thresholds: {thresholds}{fitted_on}\n",
        r.per_class.len()
    );
    let opt = |v: Option<f64>| v.map_or("undefined".to_string(), |v| format!("{v:.4}"));
    let rows = [
        ("auc_micro", opt(r.auc_micro)),
        ("auc_macro", opt(r.auc_macro)),
        ("auc_weighted", opt(r.auc_weighted)),
        ("ap_micro", opt(r.ap_micro)),
        ("ap_macro", opt(r.ap_macro)),
        ("f1_micro", format!("{:.4}", r.f1_micro)),
        ("f1_macro", format!("{:.4}", r.f1_macro)),
        ("f1_weighted", format!("{:.4}", r.f1_weighted)),
        ("f1_samples", format!("{:.4}", r.f1_samples)),
        ("precision_micro", format!("{:.4}", r.precision_micro)),
        ("precision_macro", format!("{:.4}", r.precision_macro)),
        ("recall_micro", format!("{:.4}", r.recall_micro)),
        ("recall_macro", format!("{:.4}", r.recall_macro)),
        ("subset_accuracy", format!("{:.4}", r.subset_accuracy)),
        ("hamming_loss", format!("{:.4}", r.hamming_loss)),
    ];
    for (name, value) in rows {
        println!("{name:<16} {value}");
    }
    if !r.undefined_auc_labels.is_empty() {
        println!(
            "AUC undefined (left out of averages): {}",
            r.undefined_auc_labels.join(", ")
        );
    }
    let never = r.never_predicted();
    println!(
        "labels never predicted: {}",
        if never.is_empty() {
            "none".to_string()
        } else {
            format!("{} ({})", never.len(), never.join(", "))
        }
    );
    println!(
        "\n{:<15} {:>7} {:>7} {:>7} {:>9} {:>7} {:>7} {:>9}",
        "label", "auc", "ap", "f1", "precision", "recall", "support", "threshold"
    );
    for m in &r.per_class {
        let short = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        println!(
            "{:<15} {:>7} {:>7} {:>7.4} {:>9.4} {:>7.4} {:>7} {:>9}",
            m.label,
            short(m.auc),
            short(m.ap),
            m.f1,
            m.precision,
            m.recall,
            m.support,
            short(m.threshold)
        );
    }
}
