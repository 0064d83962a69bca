//! [`Experiment`]: one training run from a [`RunConfig`], every step a method.

use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use goemo_calibration::Calibrator;
use goemo_data::{
    class_weights, label_counts, label_frequencies, preprocess, DataSource, Dataset, GoEmotionsTsv, HfTokenizer,
    PreprocessOptions, PreprocessReport, Split, Tokenize,
};
use goemo_metrics::{target_mask, CalibrationChange, MetricReport};
use goemo_model::{
    parse_device, resolve_model, resolve_weights, set_threads, EmotionClassifier, LoadOptions, ModelConfig,
    SequenceClassifier, WeightInit,
};
use goemo_report::EventWriter;
use goemo_threshold::Thresholds;
use goemo_train::{evaluate_split, DataParallel, EncodedSplit, Loss, LossKind, TrainError, TrainOutcome, Trainer};
use ndarray::Array2;
use serde_json::json;

use crate::artifacts::{
    write_evaluation_events, write_f1_chart, write_per_class, write_report_md, write_training_curves, ReportRow,
};
use crate::bench::{bench_inference, write_bench_csv, BenchOptions};
use crate::{Launch, Result, RunConfig, RunError};
use goemo_system::{host, peak_resident_mib, run_id, utc_timestamp};

/// A training run: data from a [`DataSource`] (GoEmotions from `config.data` unless
/// [`Experiment::with_source`] gives another), the model from `config.model` and its tokenizer
/// from the same folder (unless [`Experiment::with_tokenizer`] gives a [`Tokenize`] of one's
/// own), then training, thresholds fitted on dev and every artifact in `config.run_dir()`.
///
/// Under `torchrun` (its variables in the environment) the run is one rank of a data-parallel
/// job: see [`Launch`]. Rank 0 alone writes files and reports; every rank ends with the same
/// outcome.
pub struct Experiment {
    config: RunConfig,
    source: Box<dyn DataSource>,
    /// A tokenizer given in code; `None`: the model folder's `tokenizer.json`.
    tokenizer: Option<Arc<dyn Tokenize>>,
    resume: bool,
    stop: Option<Arc<AtomicBool>>,
    launch: Option<Launch>,
    parallel: Option<Rc<DataParallel>>,
}

/// What a finished run measured; its artifacts are in `run_dir`.
#[derive(Debug)]
pub struct RunOutcome {
    /// The run folder.
    pub run_dir: PathBuf,
    /// The training history and best evaluation.
    pub training: TrainOutcome,
    /// Wall time of training.
    pub train_seconds: f64,
    /// Fitted on dev with the configured strategy, on the calibrated scale.
    pub thresholds: Thresholds,
    /// Fitted on dev with the configured method (identity for `none`).
    pub calibrator: Calibrator,
    /// Test calibration before and after the calibrator, beside the training frequencies.
    pub calibration: CalibrationChange,
    /// Dev metrics at the fitted thresholds.
    pub dev: MetricReport,
    /// Test metrics at the fitted thresholds.
    pub test: MetricReport,
    /// Test metrics at a global 0.5.
    pub test_global_0_5: MetricReport,
    /// Test metrics keeping each text's best label.
    pub test_top_1: MetricReport,
    /// When the run started (wall clock): with the end time, the run's id and its peak memory,
    /// `metrics.json` records it under `run`.
    pub started: SystemTime,
    /// Whether this process wrote the artifacts (rank 0 of a data-parallel job, or the only
    /// process).
    pub leader: bool,
}

/// Token ids and targets of the three splits.
struct Encoded {
    ids: [Vec<Vec<u32>>; 3],
    targets: [Array2<f32>; 3],
    pad_id: u32,
    /// Each label's training frequency: the baseline of the calibration's measurements.
    train_frequencies: Vec<f64>,
}

impl Encoded {
    fn split(&self, split: Split) -> EncodedSplit<'_> {
        let i = split as usize;
        EncodedSplit {
            ids: &self.ids[i],
            targets: self.targets[i].view(),
        }
    }
}

/// Calibrated probabilities of one split and its predictions under the fitted thresholds.
struct Scored {
    probabilities: Array2<f64>,
    predictions: Array2<bool>,
}

impl Experiment {
    /// An experiment with the Hugging Face tokenizer of the config's model.
    pub fn new(config: RunConfig) -> Self {
        Experiment {
            source: Box::new(GoEmotionsTsv::new(&config.data)),
            tokenizer: None,
            config,
            resume: false,
            stop: None,
            launch: None,
            parallel: None,
        }
    }

    /// Runs as one rank of the data-parallel job `launch` describes (see
    /// [`Launch::from_env`]); a restarted group (`restart_count` > 0) resumes from the state.
    pub fn with_launch(mut self, launch: Option<Launch>) -> Self {
        self.launch = launch;
        self
    }

    /// Whether this process writes files and reports.
    fn leader(&self) -> bool {
        self.parallel.as_ref().is_none_or(|p| p.is_leader())
    }

    /// A line for a person, from the leader only.
    fn say(&self, line: &str) {
        if self.leader() {
            eprintln!("{line}");
        }
    }

    /// Stops training at the next optimiser step once `stop` is set (by a signal handler, say):
    /// the state is saved and the run ends with `TrainError::Interrupted`, ready to resume.
    pub fn with_stop_flag(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Reads the data from `source` instead of `config.data`.
    pub fn with_source(mut self, source: Box<dyn DataSource>) -> Self {
        self.source = source;
        self
    }

    /// Tokenizes with `tokenizer` instead of the model folder's `tokenizer.json` (which then need
    /// not exist; `config.max_seq_length` gives way to the tokenizer's own `max_length`). Its ids
    /// must stay below the model's `vocab_size`. The checkpoint is saved without tokenizer files:
    /// serve it with `EmotionClassifier::load_with_tokenizer` and the same tokenizer.
    pub fn with_tokenizer(mut self, tokenizer: Arc<dyn Tokenize>) -> Self {
        self.tokenizer = Some(tokenizer);
        self
    }

    /// Continues from the state saved in the run folder, when there is one.
    pub fn resuming(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// The run's configuration.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// Runs every step; nothing is loaded before the whole configuration is checked.
    pub fn run(mut self) -> Result<RunOutcome> {
        let wall_start = SystemTime::now();
        self.config.validate()?;
        let run_dir = self.config.run_dir();
        set_threads(self.config.threads);
        let mut device = parse_device(&self.config.device)?;
        if let Some(launch) = self.launch.clone() {
            device = launch.device(device);
            self.parallel = Some(Rc::new(launch.join(&self.config, device)?));
            self.resume |= launch.restart_count > 0;
            self.say(&format!(
                "data-parallel: {} ranks, {}, {} examples per global batch",
                launch.world_size,
                self.config.dist_backend.resolve(device),
                self.config.batch_size
            ));
        }
        if self.leader() {
            std::fs::create_dir_all(&run_dir).map_err(|source| goemo_fs::FsError::Io {
                path: run_dir.clone(),
                source,
            })?;
        }
        // Before anything random happens (a new head's weights are drawn at load).
        tch::manual_seed(self.config.seed as i64);
        let (data, preprocessing) = self.load_data()?;
        let (mut model, tokenizer, model_dir) = self.load_model(&data, device)?;
        let encoded = encode(tokenizer.as_ref(), &data, model.config())?;
        let loss = self.loss(&data);
        self.say(&format!(
            "{}: {} parameters, {} training examples, {} labels, device {device:?}, {} (asked: {}; native bf16 on this CPU: {})",
            self.config.model,
            model.parameter_count(),
            encoded.ids[0].len(),
            data.labels.len(),
            model.precision(),
            self.config.precision,
            goemo_model::cpu_has_native_bf16(),
        ));
        // TensorBoard: training scalars as the steps go, evaluations when they are known.
        let mut events = match self.leader() {
            true => Some(EventWriter::create(&run_dir.join("tensorboard"))?),
            false => None,
        };
        let started = Instant::now();
        let training = self.train(&mut model, &encoded, loss.clone(), events.as_mut())?;
        let train_seconds = started.elapsed().as_secs_f64();
        let outcome = self.measure(&model, &encoded, &loss, training, train_seconds, wall_start)?;
        if let Some(line) = outcome.0.calibration_line() {
            self.say(&line);
        }
        if !self.leader() {
            return Ok(outcome.0);
        }
        if let Some(events) = events.as_mut() {
            write_evaluation_events(events, &outcome.0)?;
        }
        let checkpoint = model.save(run_dir.join("checkpoint"))?;
        if self.tokenizer.is_none() {
            goemo_model::copy_tokenizer_files(&model_dir, &checkpoint)?;
        }
        goemo_model::write_thresholds(&checkpoint, &outcome.0.thresholds)?;
        outcome.0.calibrator.write_in(&checkpoint)?;
        self.write_artifacts(&data, &preprocessing, &model, &outcome)?;
        if self.config.bench {
            self.bench(&checkpoint, &data, device)?;
        }
        Ok(outcome.0)
    }

    /// Times the saved checkpoint on the test texts into `bench.csv`.
    fn bench(&self, checkpoint: &std::path::Path, data: &Dataset, device: tch::Device) -> Result<()> {
        let path = checkpoint.to_string_lossy();
        let classifier = match &self.tokenizer {
            Some(tokenizer) => EmotionClassifier::load_with_tokenizer(&path, device, tokenizer.clone())?,
            None => EmotionClassifier::load_on(&path, device)?,
        }
        .with_precision(self.config.precision)?;
        let texts: Vec<&str> = data.test.iter().map(|e| e.text.as_str()).collect();
        let rows = bench_inference(&classifier, &texts, &BenchOptions::default())?;
        let out = self.config.run_dir().join("bench.csv");
        write_bench_csv(&out, &rows, peak_resident_mib().unwrap_or(f64::NAN))?;
        let best = rows
            .iter()
            .filter(|r| r.tokenization == "included")
            .max_by(|a, b| a.texts_per_s.total_cmp(&b.texts_per_s));
        if let Some(best) = best {
            self.say(&format!(
                "inference: {:.0} texts/s at batch size {} (tokenization included); {}",
                best.texts_per_s,
                best.batch_size,
                out.display()
            ));
        }
        Ok(())
    }

    fn load_data(&self) -> Result<(Dataset, PreprocessReport)> {
        let mut data = self.source.load()?;
        let c = &self.config;
        let report = preprocess(
            &mut data,
            &PreprocessOptions {
                exclude_neutral: c.exclude_neutral,
                lowercase: c.lowercase,
                remove_urls: c.remove_urls,
                remove_emojis: c.remove_emojis,
                max_train_samples: c.max_train_samples,
                seed: c.seed,
            },
        )?;
        for line in report.describe() {
            self.say(&line);
        }
        Ok((data, report))
    }

    fn load_model(
        &self,
        data: &Dataset,
        device: tch::Device,
    ) -> Result<(SequenceClassifier, Arc<dyn Tokenize>, PathBuf)> {
        let dir = match self.tokenizer {
            Some(_) => resolve_weights(&self.config.model)?,
            None => resolve_model(&self.config.model)?,
        };
        let options = LoadOptions {
            head: self.config.head,
            labels: Some(data.labels.names().to_vec()),
            dropout: self.config.dropout,
            // The seed's later draws (the new head, dropout) are the recorded runs' stream.
            encoder_init: WeightInit::Random,
        };
        let mut model = SequenceClassifier::load(&dir, device, &options)?;
        model.set_precision(self.config.precision)?;
        if self.config.prior_bias && model.head_is_new() {
            model.set_label_prior(&label_frequencies(&data.train, data.labels.len()))?;
        }
        let tokenizer: Arc<dyn Tokenize> = match &self.tokenizer {
            Some(tokenizer) => tokenizer.clone(),
            None => Arc::new(
                HfTokenizer::from_file(dir.join("tokenizer.json"), self.config.max_seq_length)?
                    .with_pad_id(model.config().pad_token_id as u32),
            ),
        };
        Ok((model, tokenizer, dir))
    }

    fn loss(&self, data: &Dataset) -> Loss {
        match self.config.loss {
            LossKind::Bce => Loss::Bce,
            LossKind::WeightedBce => Loss::WeightedBce {
                pos_weight: class_weights(
                    &label_counts(&data.train, data.labels.len()),
                    data.train.len(),
                    self.config.class_weights,
                ),
            },
            LossKind::Focal => Loss::Focal {
                alpha: self.config.focal_alpha,
                gamma: self.config.focal_gamma,
            },
            LossKind::Asymmetric => Loss::Asymmetric {
                gamma_pos: self.config.asl_gamma_pos,
                gamma_neg: self.config.asl_gamma_neg,
                clip: self.config.asl_clip,
            },
        }
    }

    /// Trains with the state in `RUN_DIR/state`, each step a line of `train_log.jsonl` and
    /// scalars in `events`.
    fn train(
        &self,
        model: &mut SequenceClassifier,
        encoded: &Encoded,
        loss: Loss,
        mut events: Option<&mut EventWriter>,
    ) -> Result<TrainOutcome> {
        let run_dir = self.config.run_dir();
        let log_path = run_dir.join("train_log.jsonl");
        // Only the leader logs; the other ranks' steps are the same steps.
        let mut log: Box<dyn Write> = if self.leader() {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(self.resume)
                    .write(true)
                    .truncate(!self.resume)
                    .open(&log_path)
                    .map_err(|source| goemo_fs::FsError::Io {
                        path: log_path.clone(),
                        source,
                    })?,
            )
        } else {
            Box::new(std::io::sink())
        };
        let state_dir = run_dir.join("state");
        let config = self.config.train_config(loss);
        let (train, dev) = (encoded.split(Split::Train), encoded.split(Split::Dev));
        let mut trainer = Trainer::new(model, train, dev, encoded.pad_id, config)?.with_state_dir(&state_dir);
        if let Some(parallel) = &self.parallel {
            trainer = trainer.with_data_parallel(parallel.clone())?;
        }
        if self.resume && trainer.resume()? {
            let step = trainer.state().step;
            self.say(&format!("resumed at step {step} from {}", state_dir.display()));
            if let Some(events) = events.as_deref_mut() {
                events.restart(step + 1)?;
            }
        }
        let mut log_error = None;
        let mut event_error = None;
        let stop = self.stop.as_deref();
        let outcome = trainer.run(&mut |step| {
            let line = serde_json::to_string(step).expect("a step log serialises");
            if let Err(e) = writeln!(log, "{line}") {
                log_error.get_or_insert(e);
            }
            if let Some(events) = events.as_deref_mut() {
                let written = events
                    .scalars(
                        step.step,
                        &[
                            ("train/loss", step.loss),
                            ("train/learning_rate", step.lr),
                            ("train/examples_per_second", step.examples_per_s),
                        ],
                    )
                    // Every step reaches the file: a run killed after saving its state leaves no
                    // gap before the steps its resumption logs (a write per step is negligible).
                    .and_then(|()| events.flush());
                if let Err(e) = written {
                    event_error.get_or_insert(e);
                }
            }
            stop.is_some_and(|s| s.load(Ordering::Relaxed))
        });
        if let Some(source) = log_error {
            return Err(goemo_fs::FsError::Io { path: log_path, source }.into());
        }
        if let Some(e) = event_error {
            return Err(e.into());
        }
        outcome.map_err(|e| match e {
            TrainError::NonFinite { .. } => RunError::Stopped { source: e, state_dir },
            other => other.into(),
        })
    }

    /// Calibration fitted on dev, then thresholds fitted on dev and carried to the calibrated
    /// scale (`goemo_calibration::fit_thresholds`); dev and test evaluated with them, test also
    /// at 0.5 and top-1, all on calibrated probabilities.
    fn measure(
        &self,
        model: &SequenceClassifier,
        encoded: &Encoded,
        loss: &Loss,
        training: TrainOutcome,
        train_seconds: f64,
        started: SystemTime,
    ) -> Result<(RunOutcome, [Scored; 2])> {
        let probabilities = |split: Split| -> Result<Array2<f64>> {
            let (batch_size, pad_id) = (self.config.eval_batch_size, encoded.pad_id);
            let scored = match &self.parallel {
                Some(p) => p.evaluate_split(model, encoded.split(split), pad_id, batch_size, loss)?,
                None => evaluate_split(model, encoded.split(split), pad_id, batch_size, loss)?,
            };
            Ok(scored.0.mapv(f64::from))
        };
        let (dev_raw, test_raw) = (probabilities(Split::Dev)?, probabilities(Split::Test)?);
        let labels = model.labels();
        let dev_mask = target_mask(encoded.split(Split::Dev).targets);
        let calibrator = match self.config.calibration.method() {
            Some(method) => Calibrator::fit(method.as_ref(), dev_raw.view(), dev_mask.view(), labels)?,
            None => Calibrator::identity(labels),
        };
        let (dev_probs, test_probs) = (calibrator.apply(dev_raw.view())?, calibrator.apply(test_raw.view())?);
        let calibration = CalibrationChange::compute(
            test_raw.view(),
            test_probs.view(),
            target_mask(encoded.split(Split::Test).targets).view(),
            &encoded.train_frequencies,
            labels,
        )?;
        let strategy = self.config.threshold_strategy.build(0.5, self.config.top_k, None);
        let thresholds =
            goemo_calibration::fit_thresholds(strategy.as_ref(), &calibrator, dev_raw.view(), dev_mask.view())?;
        // The report of a split under thresholds, and its predictions.
        let score =
            |probabilities: &Array2<f64>, split: Split, t: &Thresholds| -> Result<(MetricReport, Array2<bool>)> {
                let predictions = t.apply(probabilities.view())?;
                let per_class = t.per_class(labels.len());
                let targets = encoded.split(split).targets;
                let report = MetricReport::compute(
                    probabilities.view(),
                    targets,
                    predictions.view(),
                    labels,
                    per_class.as_deref(),
                )?;
                Ok((report, predictions))
            };
        let (test_global, _) = score(&test_probs, Split::Test, &Thresholds::Global { threshold: 0.5 })?;
        let (test_top1, _) = score(&test_probs, Split::Test, &Thresholds::TopK { k: 1, min_score: None })?;
        let (dev_report, dev_predictions) = score(&dev_probs, Split::Dev, &thresholds)?;
        let (test_report, test_predictions) = score(&test_probs, Split::Test, &thresholds)?;
        let outcome = RunOutcome {
            run_dir: self.config.run_dir(),
            training,
            train_seconds,
            thresholds,
            calibrator,
            calibration,
            dev: dev_report,
            test: test_report,
            test_global_0_5: test_global,
            test_top_1: test_top1,
            started,
            leader: self.leader(),
        };
        let dev = Scored {
            probabilities: dev_probs,
            predictions: dev_predictions,
        };
        let test = Scored {
            probabilities: test_probs,
            predictions: test_predictions,
        };
        Ok((outcome, [dev, test]))
    }

    /// Predictions, per-class metrics, metrics.json, the F1 chart and report.md.
    fn write_artifacts(
        &self,
        data: &Dataset,
        preprocessing: &PreprocessReport,
        model: &SequenceClassifier,
        (outcome, scored): &(RunOutcome, [Scored; 2]),
    ) -> Result<()> {
        let run_dir = &outcome.run_dir;
        let labels = model.labels();
        for (split, scored) in [Split::Dev, Split::Test].into_iter().zip(scored) {
            let examples = data.split(split);
            let targets = target_mask(data.targets(split).view());
            goemo_data::write_prediction_csv(
                &run_dir.join(format!("predictions_{split}.csv")),
                &goemo_data::PredictionRows {
                    labels,
                    ids: &examples.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
                    texts: &examples.iter().map(|e| e.text.clone()).collect::<Vec<_>>(),
                    targets: targets.view(),
                    predicted: scored.predictions.view(),
                    probabilities: scored.probabilities.view(),
                },
            )?;
        }
        write_per_class(&run_dir.join("per_class_test.csv"), &outcome.test)?;
        goemo_fs::write_json_atomic(
            run_dir.join("metrics.json"),
            &self.metrics_json(data, preprocessing, model, outcome),
        )?;
        let thresholds = outcome.thresholds.describe();
        let title = format!("Test F1 per emotion ({thresholds})");
        write_f1_chart(&run_dir.join("per_emotion_f1.png"), &outcome.test, &title)?;
        write_training_curves(
            &run_dir.join("training_curves.png"),
            &run_dir.join("train_log.jsonl"),
            &outcome.training,
        )?;
        write_report_md(
            &run_dir.join("report.md"),
            &format!("{} on GoEmotions", self.config.model),
            &toml::to_string(&self.config).unwrap_or_default(),
            &[
                ReportRow {
                    name: &format!("{thresholds} (fitted on dev)"),
                    report: &outcome.test,
                },
                ReportRow {
                    name: "global 0.5",
                    report: &outcome.test_global_0_5,
                },
                ReportRow {
                    name: "top-1",
                    report: &outcome.test_top_1,
                },
            ],
            &outcome.test,
        )?;
        Ok(())
    }

    fn metrics_json(
        &self,
        data: &Dataset,
        preprocessing: &PreprocessReport,
        model: &SequenceClassifier,
        o: &RunOutcome,
    ) -> serde_json::Value {
        let t = &o.training;
        json!({
            "configuration": self.config,
            "train_config": self.config.train_config(self.loss(data)),
            "data": {
                "source": self.source.describe(),
                "train": data.train.len(), "dev": data.dev.len(), "test": data.test.len(),
                "labels": data.labels.names(), "preprocessing": preprocessing,
            },
            "model_source": self.config.model,
            "tokenizer": match self.tokenizer {
                Some(_) => "given in code (Experiment::with_tokenizer)",
                None => "tokenizer.json of the model",
            },
            "device": format!("{:?}", model.device()),
            "precision": model.precision(),
            "precision_requested": self.config.precision,
            "cpu_native_bf16": goemo_model::cpu_has_native_bf16(),
            "versions": {"goemo": env!("CARGO_PKG_VERSION"), "libtorch": goemo_torch::LIBTORCH_VERSION},
            "parameters": model.parameter_count(),
            "world_size": self.parallel.as_ref().map_or(1, |p| p.world_size()),
            "gradient_buckets": self.parallel.as_ref().map(|p| {
                let (during, reduced) = p.overlap_counts();
                serde_json::json!({"started_during_backward": during, "summed_by_backward_reduction": reduced})
            }),
            "cuda_graphs": t.static_steps,
            "train_seconds": o.train_seconds,
            "history": t.history,
            "evaluations": t.evaluations,
            "best_epoch": t.best_epoch,
            "best_step": t.best_step,
            "steps": t.steps,
            "thresholds": o.thresholds,
            "calibration": {
                "method": o.calibrator.method,
                "fitted_on": "dev",
                "per_label": o.calibrator.describe(),
                "test": o.calibration,
            },
            "dev": o.dev,
            "test": o.test,
            "test_global_0_5": o.test_global_0_5,
            "test_top_1": o.test_top_1,
            "run": {
                "id": run_id(o.started),
                "started": utc_timestamp(o.started),
                "finished": utc_timestamp(SystemTime::now()),
                "peak_resident_mib": peak_resident_mib(),
                "host": host(),
                "threads": tch::get_num_threads(),
            },
        })
    }
}

/// Token ids of every split (the data's order), each checked against the model's vocabulary,
/// and their targets.
fn encode(tokenizer: &dyn Tokenize, data: &Dataset, model: &ModelConfig) -> Result<Encoded> {
    let ids = |split: Split| -> Result<Vec<Vec<u32>>> {
        let texts: Vec<&str> = data.split(split).iter().map(|e| e.text.as_str()).collect();
        let ids = tokenizer.encode_batch(&texts)?;
        model
            .check_token_ids(&ids)
            .map_err(|e| RunError::Option(format!("{split} split: {e}")))?;
        Ok(ids)
    };
    Ok(Encoded {
        ids: [ids(Split::Train)?, ids(Split::Dev)?, ids(Split::Test)?],
        targets: Split::ALL.map(|s| data.targets(s)),
        pad_id: tokenizer.pad_id(),
        train_frequencies: label_frequencies(&data.train, data.labels.len()),
    })
}

impl RunOutcome {
    /// One line on the test calibration, before and after (none when nothing was calibrated).
    pub fn calibration_line(&self) -> Option<String> {
        if self.calibrator.is_identity() {
            return None;
        }
        let c = &self.calibration;
        let n = c.labels.len();
        Some(format!(
            "calibration {} on dev; test Brier {:.4} -> {:.4} (label frequencies {:.4}), ECE {:.4} -> {:.4}, mean probability {:.4} -> {:.4} (frequency {:.4}); labels no worse than their frequency: {}/{n} -> {}/{n}",
            self.calibrator.describe(),
            c.before.micro.brier,
            c.after.micro.brier,
            c.baseline_brier_mean,
            c.before.micro.ece,
            c.after.micro.ece,
            c.before.micro.mean_probability,
            c.after.micro.mean_probability,
            c.after.micro.frequency,
            c.before.labels_no_worse_than_baseline,
            c.after.labels_no_worse_than_baseline,
        ))
    }

    /// One line for a person: test metrics, best evaluation, time, where the artifacts are.
    pub fn summary(&self) -> String {
        let opt = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.4}"));
        let t = &self.test;
        format!(
            "test ({}): micro AUC {}, macro AUC {}, micro F1 {:.4}, macro F1 {:.4}; best epoch {} (step {}); {:.0} s; artifacts in {}",
            self.thresholds.describe(),
            opt(t.auc_micro),
            opt(t.auc_macro),
            t.f1_micro,
            t.f1_macro,
            self.training.best_epoch + 1,
            self.training.best_step,
            self.train_seconds,
            self.run_dir.display()
        )
    }
}
