//! Emotion probabilities for texts, one per line, from a checkpoint folder or a Hub id; or a
//! labelled split re-scored into the prediction file `train` writes, for `report` and `evaluate`.
//! Scores are calibrated when the checkpoint has a `calibration.json` (each JSON line says
//! `"calibrated"`; without one, a warning on standard error says the scores are raw).
//!
//! ```text
//! echo "Thank you so much!" | cargo run --release --example predict -- --model runs/x/checkpoint --input -
//! cargo run --release --example predict -- --model DIR --input texts.txt --format csv > scores.csv
//! cargo run --release --example predict -- --model DIR --data data/goemotions --split test \
//!     --out other/predictions_test.csv
//! ```

use std::{io::Write, path::Path};

use anyhow::Result;
use clap::{Parser, ValueEnum};
use goemo::data::{GoEmotionsTsv, Split, TextChunks};
use goemo::model::{keep_freed_memory, parse_device, set_threads, ClassifierPool, EmotionClassifier, InferenceMode};
use goemo::run::rescore_split;

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
    /// fp32; bf16 (autocast: oneDNN on the CPU, tensor cores on a GPU); int8 (the encoder's
    /// Linear layers quantized at load, one scale per token, CPU); or auto, the fastest here.
    #[arg(long, default_value = "fp32")]
    mode: InferenceMode,
    /// libtorch threads of each worker (0: libtorch's default).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Copies of the model, each on a thread of its own, sharing the texts (with --threads 1:
    /// one per core is fastest on many texts).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Batches padded to --batch-size rows and 16-token steps, each shape a CUDA graph on a GPU.
    #[arg(long)]
    cuda_graphs: bool,
    /// A GoEmotions folder (train.tsv, dev.tsv, test.tsv, labels.txt) whose --split is re-scored.
    #[arg(long, requires = "split")]
    data: Option<String>,
    /// train, dev or test: writes `id,text,true_labels,pred_labels,<labels>` to --out, labels
    /// matched to the data's by name through the checkpoint's id2label.
    #[arg(long, requires_all = ["data", "out"])]
    split: Option<String>,
    /// The prediction file of --split (written atomically).
    #[arg(long, requires = "split")]
    out: Option<String>,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    keep_freed_memory();
    set_threads(args.threads);
    let (model, device) = (args.model.clone(), parse_device(&args.device)?);
    let (batch_size, mode, threshold, graphs) = (args.batch_size, args.mode, args.threshold, args.cuda_graphs);
    let pool = ClassifierPool::start(args.workers, args.threads, move || {
        let classifier = EmotionClassifier::load_on(&model, device)?
            .with_batch_size(batch_size)
            .with_mode(mode)?
            .with_cuda_graphs(graphs)?;
        Ok(match threshold {
            Some(t) => classifier.with_threshold(t),
            None => classifier,
        })
    })?;
    eprintln!("{}", pool.describe_mode(args.mode));
    let classifier = pool.front();
    if !classifier.is_calibrated() {
        eprintln!(
            "warning: {} has no calibration.json: its scores are the model's raw sigmoids, not calibrated probabilities",
            args.model
        );
    }
    if let (Some(data), Some(split), Some(out)) = (&args.data, &args.split, &args.out) {
        let split: Split = split.parse()?;
        let started = std::time::Instant::now();
        let n = rescore_split(classifier, &GoEmotionsTsv::new(data), split, Path::new(out))?;
        eprintln!(
            "{n} {split} examples scored in {:.1} s; predictions in {out}",
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    // 128 batches per chunk, sorted by length together (less padding); memory bounded by it.
    let mut input = TextChunks::open(&args.input, args.batch_size * 128)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if let Format::Csv = args.format {
        let header = std::iter::once("text").chain(classifier.labels().iter().map(String::as_str));
        csv::Writer::from_writer(&mut out).write_record(header)?;
    }
    loop {
        let texts = input.next_chunk()?;
        for line in input.invalid_utf8_lines() {
            eprintln!("warning: {}:{line}: not UTF-8; invalid bytes replaced", args.input);
        }
        if texts.is_empty() {
            break;
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        match args.format {
            Format::Jsonl => {
                for (text, p) in texts.iter().zip(pool.predict(&refs)?) {
                    let scores: serde_json::Map<String, serde_json::Value> =
                        p.scores.into_iter().map(|(l, s)| (l, serde_json::json!(s))).collect();
                    let line = serde_json::json!({
                        "text": text, "scores": scores, "labels": p.labels, "calibrated": classifier.is_calibrated(),
                    });
                    writeln!(out, "{line}")?;
                }
            }
            Format::Csv => {
                let probs = pool.probabilities(&refs)?;
                let mut out = csv::Writer::from_writer(&mut out);
                for (text, row) in texts.iter().zip(probs.rows()) {
                    out.write_record(std::iter::once(text.clone()).chain(row.iter().map(ToString::to_string)))?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}
