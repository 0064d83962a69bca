//! Emotion probabilities for texts, one per line, from a checkpoint folder or a Hub id.
//!
//! ```text
//! echo "Thank you so much!" | cargo run --release --example predict -- --model runs/x/checkpoint --input -
//! cargo run --release --example predict -- --model DIR --input texts.txt --format csv > scores.csv
//! ```

use std::io::{BufRead, Write};

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use goemo::model::{parse_device, set_threads, EmotionClassifier, Precision};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Jsonl,
    Csv,
}

#[derive(Parser, Debug)]
#[command(about = "Predict emotions for texts, one per line")]
struct Args {
    /// Checkpoint folder (config.json, model.safetensors, tokenizer.json) or a Hub id.
    #[arg(long)]
    model: String,
    /// A file with one text per line, or - for standard input.
    #[arg(long, default_value = "-")]
    input: String,
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// One threshold for every label instead of the checkpoint's fitted ones.
    #[arg(long)]
    threshold: Option<f64>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// fp32, or bf16 autocast (fast on a GPU).
    #[arg(long, default_value = "fp32")]
    precision: Precision,
    /// libtorch threads (0: libtorch's default).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn read_lines(input: &str) -> Result<Vec<String>> {
    let reader: Box<dyn BufRead> = if input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(input).with_context(|| format!("cannot open {input}"))?,
        ))
    };
    let mut lines = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{input}:{}: not UTF-8 text", i + 1))?;
        let line = line.trim_end_matches('\r');
        if !line.trim().is_empty() {
            lines.push(line.to_string());
        }
    }
    Ok(lines)
}

fn run(args: Args) -> Result<()> {
    set_threads(args.threads);
    let device = parse_device(&args.device)?;
    let mut classifier = EmotionClassifier::load_on(&args.model, device)?
        .with_batch_size(args.batch_size)
        .with_precision(args.precision)?;
    if let Some(t) = args.threshold {
        classifier = classifier.with_threshold(t);
    }
    let texts = read_lines(&args.input)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        Format::Jsonl => {
            for (text, p) in texts.iter().zip(classifier.predict(&refs)?) {
                let scores: serde_json::Map<String, serde_json::Value> =
                    p.scores.into_iter().map(|(l, s)| (l, serde_json::json!(s))).collect();
                let line = serde_json::json!({"text": text, "scores": scores, "labels": p.labels});
                writeln!(out, "{line}")?;
            }
        }
        Format::Csv => {
            let probs = classifier.probabilities(&refs)?;
            let mut csv = csv::Writer::from_writer(out);
            let mut header = vec!["text".to_string()];
            header.extend(classifier.labels().iter().cloned());
            csv.write_record(&header)?;
            for (text, row) in texts.iter().zip(probs.rows()) {
                let mut record = vec![text.clone()];
                record.extend(row.iter().map(|p| p.to_string()));
                csv.write_record(&record)?;
            }
            csv.flush()?;
        }
    }
    Ok(())
}
