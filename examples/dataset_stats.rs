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
use goemo::data::{
    load_goemotions, preprocess, DatasetStats, HfTokenizer, PreprocessOptions, ReadMode, Split, Taxonomy, TaxonomyMap,
    Tokenize,
};
use goemo::report::{bar_chart, heatmap, histogram, write_csv_atomic, write_json_atomic, BarChart, Heatmap, Histogram};

#[derive(Parser, Debug)]
#[command(about = "Statistics, tables and charts of a GoEmotions-layout data set")]
struct Args {
    /// Folder with train.tsv, dev.tsv, test.tsv and labels.txt.
    #[arg(long, default_value = "data/goemotions")]
    data: PathBuf,
    /// tokenizer.json for token lengths (skipped when the file does not exist).
    #[arg(long, default_value = "data/models/all-MiniLM-L6-v2/tokenizer.json")]
    tokenizer: PathBuf,
    /// Truncation length the token lengths are compared with.
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
    let mut dataset = loaded.dataset;
    for (split, skipped) in Split::ALL.iter().zip(&loaded.skipped) {
        if !skipped.is_empty() {
            eprintln!(
                "{split}: skipped {} malformed rows (first: line {}: {})",
                skipped.len(),
                skipped[0].line,
                skipped[0].reason
            );
        }
    }
    if args.taxonomy != Taxonomy::Original {
        let map = TaxonomyMap::new(args.taxonomy, &dataset.labels)?;
        for split in Split::ALL {
            let mapped = map.map_examples(dataset.split(split));
            *dataset.split_mut(split) = mapped;
        }
        dataset.labels = map.groups;
    }
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
        let tokenizer = HfTokenizer::from_file(&args.tokenizer, args.max_length)?;
        let texts: Vec<&str> = dataset.train.iter().map(|e| e.text.as_str()).collect();
        Some(tokenizer.token_lengths(&texts)?)
    } else {
        eprintln!("no tokenizer at {}: token lengths skipped", args.tokenizer.display());
        None
    };
    let stats = DatasetStats::compute(&dataset, token_lengths.as_deref(), args.max_length)?;

    if args.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        print_table(&stats, &args);
    }
    write_outputs(&stats, token_lengths.as_deref(), &args)
        .with_context(|| format!("writing tables and charts to {}", args.out.display()))?;
    eprintln!("tables and charts written to {}", args.out.display());
    Ok(())
}

/// 43410 -> "43,410".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn print_table(stats: &DatasetStats, args: &Args) {
    println!("data set: {}", args.data.display());
    println!("{:<8} {:>9}", "split", "examples");
    for (split, n) in Split::ALL.iter().zip(stats.split_sizes) {
        println!("{:<8} {:>9}", split.name(), thousands(n));
    }
    println!("labels: {}\n", stats.labels.len());
    println!(
        "{:<15} {:>7} {:>6} {:>6} {:>8} {:>9} {:>9} {:>9}",
        "label", "train", "dev", "test", "train %", "w_inv", "w_sqrt", "w_eff"
    );
    for (i, c) in stats.label_counts.iter().enumerate() {
        println!(
            "{:<15} {:>7} {:>6} {:>6} {:>7.2}% {:>9.3} {:>9.3} {:>9.3}",
            c.label,
            thousands(c.train),
            thousands(c.dev),
            thousands(c.test),
            100.0 * c.train_fraction,
            stats.class_weights_inverse[i],
            stats.class_weights_sqrt_inverse[i],
            stats.class_weights_effective_samples[i],
        );
    }
    let n_train = stats.split_sizes[0].max(1) as f64;
    println!("\nlabels per training example:");
    for (k, &n) in stats.labels_per_example.iter().enumerate().filter(|(_, &n)| n > 0) {
        println!("  {k}: {:>7} ({:.2}%)", thousands(n), 100.0 * n as f64 / n_train);
    }
    let describe = |name: &str, l: &goemo::data::LengthStats| {
        let truncation = l
            .max_length
            .map(|m| format!(", truncated at {m}: {:.3}%", 100.0 * l.truncation_rate))
            .unwrap_or_default();
        println!(
            "{name}: mean {:.1}, median {:.0}, p95 {:.0}, p99 {:.0}, max {}{truncation}",
            l.mean, l.median, l.p95, l.p99, l.max
        );
    };
    println!();
    describe("characters (train)", &stats.char_lengths);
    if let Some(tokens) = &stats.token_lengths {
        describe("tokens (train)", tokens);
    }
    println!("\nmost associated label pairs (train, at least 20 together, by lift):");
    for (a, b, count, lift, pmi) in top_pairs(stats, 20).into_iter().take(10) {
        println!("  {a:<14} + {b:<14} {count:>5} together, lift {lift:>5.2}, PMI {pmi:>5.2}");
    }
}

/// Label pairs (i < j) occurring together at least `min_count` times, by decreasing lift.
fn top_pairs(stats: &DatasetStats, min_count: usize) -> Vec<(String, String, usize, f64, f64)> {
    let co = &stats.cooccurrence;
    let n = stats.labels.len();
    let mut pairs: Vec<_> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .filter(|&(i, j)| co.counts[[i, j]] >= min_count)
        .map(|(i, j)| {
            (
                stats.labels[i].clone(),
                stats.labels[j].clone(),
                co.counts[[i, j]],
                co.lift[[i, j]],
                co.pmi[[i, j]],
            )
        })
        .collect();
    pairs.sort_by(|a, b| b.3.total_cmp(&a.3));
    pairs
}

fn write_outputs(stats: &DatasetStats, token_lengths: Option<&[usize]>, args: &Args) -> Result<()> {
    let out = &args.out;
    write_json_atomic(out.join("stats.json"), stats)?;
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

    // Charts: most frequent label first.
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
                marker: Some((args.max_length, "max length")),
            },
        )?;
    }
    Ok(())
}
