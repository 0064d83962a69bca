//! Fine-tunes an encoder on GoEmotions and writes every artifact of the run to
//! `OUTPUT_DIR/RUN_NAME/`: checkpoint (with fitted thresholds), metrics.json, predictions,
//! per-class metrics, train_log.jsonl, report.md and per_emotion_f1.png.
//!
//! ```text
//! cargo run --release --example train -- --config configs/minilm-cpu.toml
//! cargo run --release --example train -- --config configs/minilm-cpu.toml --resume
//! ```
//! Flags override the config file; the file overrides the defaults.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use goemo::data::{
    class_weights, label_counts, load_goemotions, preprocess, HfTokenizer, PreprocessOptions, ReadMode, Split, Tokenize,
};
use goemo::metrics::{target_mask, MetricReport};
use goemo::model::{
    parse_device, resolve_model, set_threads, write_thresholds, HeadKind, LoadOptions, Precision, SequenceClassifier,
};
use goemo::threshold::{parse_strategy, Thresholds};
use goemo::train::artifacts::{write_f1_chart, write_per_class, write_predictions, write_report_md, ReportRow};
use goemo::train::{
    evaluate_split, train_resumable, AdamWConfig, EncodedSplit, Loss, RunState, ScheduleKind, SelectBy, TrainConfig,
    TrainError,
};
use serde::{Deserialize, Serialize};

/// Every option, from flags or a TOML file (same names, with underscores).
#[derive(Parser, Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[command(about = "Fine-tune an encoder on GoEmotions")]
struct Options {
    /// A TOML file with any of these options.
    #[arg(long)]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// Continue the run in OUTPUT_DIR/RUN_NAME from its saved state.
    #[arg(long)]
    #[serde(skip)]
    resume: bool,
    /// Checkpoint folder or Hub id.
    #[arg(long)]
    model: Option<String>,
    /// standard, first_token or mean_pooling.
    #[arg(long)]
    head: Option<String>,
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long)]
    max_seq_length: Option<usize>,
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long)]
    batch_size: Option<usize>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    dropout: Option<f64>,
    #[arg(long)]
    weight_decay: Option<f64>,
    #[arg(long)]
    warmup_ratio: Option<f64>,
    #[arg(long)]
    warmup_steps: Option<u64>,
    /// linear or cosine.
    #[arg(long)]
    schedule: Option<String>,
    #[arg(long)]
    max_grad_norm: Option<f64>,
    #[arg(long)]
    grad_accumulation: Option<usize>,
    #[arg(long)]
    seed: Option<u64>,
    /// bce, weighted_bce or focal.
    #[arg(long)]
    loss: Option<String>,
    /// inverse, sqrt_inverse or effective_samples (for weighted_bce).
    #[arg(long)]
    class_weights: Option<String>,
    #[arg(long)]
    focal_alpha: Option<f64>,
    #[arg(long)]
    focal_gamma: Option<f64>,
    #[arg(long)]
    max_train_samples: Option<usize>,
    #[arg(long)]
    max_steps: Option<u64>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    exclude_neutral: Option<bool>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    lowercase: Option<bool>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    remove_urls: Option<bool>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    remove_emojis: Option<bool>,
    /// global, optimal-global, optimal-global-macro, per-class or top-k (fitted on dev).
    #[arg(long)]
    threshold_strategy: Option<String>,
    #[arg(long)]
    top_k: Option<usize>,
    /// auc_micro, auc_macro, ap_micro, f1_micro or f1_macro.
    #[arg(long)]
    select_by: Option<String>,
    #[arg(long)]
    patience: Option<usize>,
    #[arg(long)]
    output_dir: Option<PathBuf>,
    #[arg(long)]
    run_name: Option<String>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long)]
    device: Option<String>,
    /// fp32, or bf16 autocast (fast on a GPU; runs on a CPU, slower than fp32).
    #[arg(long)]
    precision: Option<String>,
    /// Also evaluate on dev every N optimiser steps (the best evaluation is kept).
    #[arg(long)]
    eval_every: Option<u64>,
    #[arg(long)]
    threads: Option<usize>,
    #[arg(long)]
    save_every: Option<u64>,
}

macro_rules! merge {
    ($flags:ident, $file:ident, $($field:ident),*) => { $( if $flags.$field.is_none() { $flags.$field = $file.$field.clone(); } )* };
}

fn main() {
    if let Err(e) = run(Options::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(mut o: Options) -> Result<()> {
    if let Some(path) = &o.config {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let file: Options = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
        merge!(
            o,
            file,
            model,
            head,
            data,
            max_seq_length,
            lr,
            batch_size,
            epochs,
            dropout,
            weight_decay,
            warmup_ratio,
            warmup_steps,
            schedule,
            max_grad_norm,
            grad_accumulation,
            seed,
            loss,
            class_weights,
            focal_alpha,
            focal_gamma,
            max_train_samples,
            max_steps,
            exclude_neutral,
            lowercase,
            remove_urls,
            remove_emojis,
            threshold_strategy,
            top_k,
            select_by,
            patience,
            output_dir,
            run_name,
            device,
            precision,
            threads,
            save_every,
            eval_every
        );
    }
    let model_source = o.model.clone().unwrap_or_else(|| "data/models/all-MiniLM-L6-v2".into());
    let run_dir = o
        .output_dir
        .clone()
        .unwrap_or_else(|| "runs".into())
        .join(o.run_name.clone().unwrap_or_else(|| "run".into()));
    std::fs::create_dir_all(&run_dir).with_context(|| format!("cannot create {}", run_dir.display()))?;
    set_threads(o.threads.unwrap_or(0));
    let device = parse_device(o.device.as_deref().unwrap_or("auto"))?;
    let precision: Precision = o.precision.as_deref().unwrap_or("fp32").parse()?;

    // Data.
    let loaded = load_goemotions(
        o.data.clone().unwrap_or_else(|| "data/goemotions".into()),
        ReadMode::Strict,
    )?;
    let mut data = loaded.dataset;
    let seed = o.seed.unwrap_or(42);
    let report = preprocess(
        &mut data,
        &PreprocessOptions {
            exclude_neutral: o.exclude_neutral.unwrap_or(false),
            lowercase: o.lowercase.unwrap_or(false),
            remove_urls: o.remove_urls.unwrap_or(false),
            remove_emojis: o.remove_emojis.unwrap_or(false),
            max_train_samples: o.max_train_samples,
            seed,
        },
    )?;
    for line in report.describe() {
        eprintln!("{line}");
    }

    // Model and tokenizer.
    let dir = resolve_model(&model_source)?;
    let head = match o.head.as_deref() {
        None => None,
        Some(h) => {
            Some(serde_json::from_value::<HeadKind>(serde_json::json!(h)).with_context(|| format!("--head {h}"))?)
        }
    };
    let options = LoadOptions {
        head,
        labels: Some(data.labels.names().to_vec()),
        dropout: o.dropout,
    };
    let mut model = SequenceClassifier::load(&dir, device, &options)?;
    model.set_precision(precision)?;
    let max_len = o.max_seq_length.unwrap_or(128);
    let tokenizer =
        HfTokenizer::from_file(dir.join("tokenizer.json"), max_len)?.with_pad_id(model.config().pad_token_id as u32);
    let encode = |split: Split| -> Result<Vec<Vec<u32>>> {
        let texts: Vec<&str> = data.split(split).iter().map(|e| e.text.as_str()).collect();
        Ok(tokenizer.encode_batch(&texts)?)
    };
    let (train_ids, dev_ids, test_ids) = (encode(Split::Train)?, encode(Split::Dev)?, encode(Split::Test)?);
    let (train_t, dev_t, test_t) = (
        data.targets(Split::Train),
        data.targets(Split::Dev),
        data.targets(Split::Test),
    );

    let loss = match o.loss.as_deref().unwrap_or("bce") {
        "bce" => Loss::Bce,
        "weighted_bce" => {
            let scheme = o.class_weights.as_deref().unwrap_or("sqrt_inverse").parse()?;
            let counts = label_counts(&data.train, data.labels.len());
            Loss::WeightedBce {
                pos_weight: class_weights(&counts, data.train.len(), scheme),
            }
        }
        "focal" => Loss::Focal {
            alpha: o.focal_alpha.unwrap_or(0.25),
            gamma: o.focal_gamma.unwrap_or(2.0),
        },
        other => bail!("--loss {other}: expected bce, weighted_bce or focal"),
    };
    let config = TrainConfig {
        lr: o.lr.unwrap_or(5e-5),
        batch_size: o.batch_size.unwrap_or(32),
        epochs: o.epochs.unwrap_or(3),
        adamw: AdamWConfig {
            weight_decay: o.weight_decay.unwrap_or(0.01),
            ..AdamWConfig::default()
        },
        warmup_ratio: o.warmup_ratio.unwrap_or(0.1),
        warmup_steps: o.warmup_steps,
        schedule: match o.schedule.as_deref().unwrap_or("linear") {
            "linear" => ScheduleKind::Linear,
            "cosine" => ScheduleKind::Cosine,
            other => bail!("--schedule {other}: expected linear or cosine"),
        },
        max_grad_norm: o.max_grad_norm.or(Some(1.0)).filter(|n| *n > 0.0),
        accumulation: o.grad_accumulation.unwrap_or(1),
        seed,
        loss: loss.clone(),
        select_by: serde_json::from_value::<SelectBy>(serde_json::json!(o.select_by.as_deref().unwrap_or("auc_micro")))
            .context("--select-by")?,
        patience: o.patience,
        max_steps: o.max_steps,
        bucket_batches: 50,
        eval_batch_size: 128,
        progress: true,
        save_every: o.save_every.unwrap_or(200),
        eval_every: o.eval_every.unwrap_or(0),
    };
    eprintln!(
        "{}: {} parameters, {} training examples, {} labels, device {device:?}, {precision}",
        model_source,
        model.parameter_count(),
        train_ids.len(),
        data.labels.len()
    );

    // Training, logged step by step.
    let log_path = run_dir.join("train_log.jsonl");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(o.resume)
        .write(true)
        .truncate(!o.resume)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let started = Instant::now();
    let state_dir = run_dir.join("state");
    let outcome = train_resumable(
        &mut model,
        EncodedSplit {
            ids: &train_ids,
            targets: train_t.view(),
        },
        EncodedSplit {
            ids: &dev_ids,
            targets: dev_t.view(),
        },
        tokenizer.pad_id(),
        &config,
        &RunState {
            dir: Some(&state_dir),
            resume: o.resume,
        },
        &mut |step| {
            let _ = writeln!(log, "{}", serde_json::to_string(step).unwrap_or_default());
            false
        },
    );
    let outcome = match outcome {
        Err(TrainError::NonFinite { .. }) => {
            return Err(outcome.unwrap_err()).context(format!("the last good state is in {}", state_dir.display()))
        }
        other => other?,
    };
    let train_seconds = started.elapsed().as_secs_f64();

    // Thresholds fitted on dev only; dev and test evaluated with them; test also at 0.5 and top-1.
    let (dev_probs, _) = evaluate_split(
        &model,
        EncodedSplit {
            ids: &dev_ids,
            targets: dev_t.view(),
        },
        tokenizer.pad_id(),
        128,
        &loss,
    )?;
    let (test_probs, _) = evaluate_split(
        &model,
        EncodedSplit {
            ids: &test_ids,
            targets: test_t.view(),
        },
        tokenizer.pad_id(),
        128,
        &loss,
    )?;
    let strategy = parse_strategy(
        o.threshold_strategy.as_deref().unwrap_or("per-class"),
        0.5,
        o.top_k.unwrap_or(1),
        None,
    )?;
    let dev64 = dev_probs.mapv(f64::from);
    let thresholds = strategy.fit(dev64.view(), target_mask(dev_t.view()).view())?;
    let labels = data.labels.names().to_vec();
    let evaluate = |probs: &ndarray::Array2<f32>,
                    targets: &ndarray::Array2<f32>,
                    t: &Thresholds|
     -> Result<(MetricReport, ndarray::Array2<bool>)> {
        let predictions = t.apply(probs.view())?;
        let report = MetricReport::compute(
            probs.view(),
            targets.view(),
            predictions.view(),
            &labels,
            t.per_class(labels.len()).as_deref(),
        )?;
        Ok((report, predictions))
    };
    let (dev_report, dev_pred) = evaluate(&dev_probs, &dev_t, &thresholds)?;
    let (test_report, test_pred) = evaluate(&test_probs, &test_t, &thresholds)?;
    let (test_global, _) = evaluate(&test_probs, &test_t, &Thresholds::Global { threshold: 0.5 })?;
    let (test_top1, _) = evaluate(&test_probs, &test_t, &Thresholds::TopK { k: 1, min_score: None })?;

    // Artifacts.
    let checkpoint = model.save(run_dir.join("checkpoint"))?;
    goemo::model::copy_tokenizer_files(&dir, &checkpoint)?;
    write_thresholds(&checkpoint, &thresholds)?;
    for (split, name, targets, probs, predictions) in [
        (Split::Dev, "dev", &dev_t, &dev_probs, &dev_pred),
        (Split::Test, "test", &test_t, &test_probs, &test_pred),
    ] {
        let examples = data.split(split);
        write_predictions(
            &run_dir.join(format!("predictions_{name}.csv")),
            &examples.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
            &examples.iter().map(|e| e.text.clone()).collect::<Vec<_>>(),
            &labels,
            targets.view(),
            probs.view(),
            predictions.view(),
        )?;
    }
    write_per_class(&run_dir.join("per_class_test.csv"), &test_report)?;
    let resolved = serde_json::to_value(&o)?;
    let metrics = serde_json::json!({
        "configuration": resolved,
        "train_config": config,
        "data": {"train": train_ids.len(), "dev": dev_ids.len(), "test": test_ids.len(), "labels": labels, "preprocessing": report},
        "model_source": model_source,
        "device": format!("{device:?}"),
        "precision": precision,
        "versions": {"goemo": env!("CARGO_PKG_VERSION"), "tch": "0.26.0", "libtorch": "2.13.0"},
        "parameters": model.parameter_count(),
        "train_seconds": train_seconds,
        "history": outcome.history,
        "evaluations": outcome.evaluations,
        "best_epoch": outcome.best_epoch,
        "best_step": outcome.best_step,
        "steps": outcome.steps,
        "thresholds": thresholds,
        "dev": dev_report,
        "test": test_report,
        "test_global_0_5": test_global,
        "test_top_1": test_top1,
    });
    goemo::report::write_json_atomic(run_dir.join("metrics.json"), &metrics)?;
    write_f1_chart(
        &run_dir.join("per_emotion_f1.png"),
        &test_report,
        &format!("Test F1 per emotion ({})", thresholds.describe()),
    )?;
    let configuration = toml::to_string(&o).unwrap_or_default();
    write_report_md(
        &run_dir.join("report.md"),
        &format!("{} on GoEmotions", model_source),
        &configuration,
        &[
            ReportRow {
                name: &format!("{} (fitted on dev)", thresholds.describe()),
                report: &test_report,
            },
            ReportRow {
                name: "global 0.5",
                report: &test_global,
            },
            ReportRow {
                name: "top-1",
                report: &test_top1,
            },
        ],
        &test_report,
    )?;
    let opt = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.4}"));
    println!(
        "test ({}): micro AUC {}, macro AUC {}, micro F1 {:.4}, macro F1 {:.4}; best epoch {} (step {}); {:.0} s; artifacts in {}",
        thresholds.describe(),
        opt(test_report.auc_micro),
        opt(test_report.auc_macro),
        test_report.f1_micro,
        test_report.f1_macro,
        outcome.best_epoch + 1,
        outcome.best_step,
        train_seconds,
        run_dir.display()
    );
    Ok(())
}
