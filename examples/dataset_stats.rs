//! Statistics of GoEmotions (or any data set in its layout): a table on stdout, `--json` for
//! machines, and CSV tables plus PNG charts in an output folder.
//!
//! ```text
//! cargo run --release --example dataset_stats -- --data data/goemotions \
//!     --tokenizer data/models/all-MiniLM-L6-v2/tokenizer.json --out runs/dataset_stats
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use goemo::analysis::write_dataset_report;
use goemo::data::{
    load_goemotions, preprocess, DatasetStats, HfTokenizer, PreprocessOptions, ReadMode, Taxonomy, TaxonomyMap,
};

#[derive(Parser, Debug)]
#[command(about = "Statistics, tables and charts of a GoEmotions-layout data set")]
struct Args {
    /// Folder with train.tsv, dev.tsv, test.tsv and labels.txt.
    #[arg(long, default_value = "data/goemotions")]
    data: PathBuf,
    /// tokenizer.json for token lengths (skipped when the file does not exist).
    #[arg(long, default_value = "data/models/all-MiniLM-L6-v2/tokenizer.json")]
    tokenizer: PathBuf,
    /// Truncation length of the model, marked on the token-length chart and reported with the
    /// standard lengths (128, 256, 512).
    #[arg(long, default_value_t = 128)]
    max_length: usize,
    /// Output folder for CSV tables and PNG charts.
    #[arg(long, default_value = "runs/dataset_stats")]
    out: PathBuf,
    /// Print the statistics as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Skip malformed rows (and report them) instead of stopping at the first.
    #[arg(long)]
    lenient: bool,
    /// Label space: original, ekman or sentiment.
    #[arg(long, default_value = "original")]
    taxonomy: Taxonomy,
    #[arg(long)]
    exclude_neutral: bool,
    #[arg(long)]
    lowercase: bool,
    #[arg(long)]
    remove_urls: bool,
    #[arg(long)]
    remove_emojis: bool,
    /// Keep a seeded random subset of this many training examples.
    #[arg(long)]
    max_train_samples: Option<usize>,
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
    let mode = if args.lenient {
        ReadMode::Lenient
    } else {
        ReadMode::Strict
    };
    let loaded = load_goemotions(&args.data, mode)?;
    for line in loaded.describe_skipped() {
        eprintln!("{line}");
    }
    let mut dataset = loaded.dataset;
    TaxonomyMap::new(args.taxonomy, &dataset.labels)?.apply(&mut dataset);
    let options = PreprocessOptions {
        exclude_neutral: args.exclude_neutral,
        lowercase: args.lowercase,
        remove_urls: args.remove_urls,
        remove_emojis: args.remove_emojis,
        max_train_samples: args.max_train_samples,
        seed: args.seed,
    };
    for line in preprocess(&mut dataset, &options)?.describe() {
        eprintln!("{line}");
    }

    let token_lengths = if args.tokenizer.is_file() {
        Some(dataset.token_lengths(&HfTokenizer::from_file(&args.tokenizer, args.max_length)?)?)
    } else {
        eprintln!("no tokenizer at {}: token lengths skipped", args.tokenizer.display());
        None
    };
    let stats = DatasetStats::compute(&dataset, token_lengths.as_deref(), args.max_length)?;

    if args.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        println!("data set: {}\n{}", args.data.display(), stats.table());
    }
    write_dataset_report(&stats, &dataset, token_lengths.as_deref(), args.max_length, &args.out)
        .with_context(|| format!("writing tables and charts to {}", args.out.display()))?;
    eprintln!("tables and charts written to {}", args.out.display());
    Ok(())
}
