//! [`RunConfig`]: every option of a training run, with each default held once. The same struct
//! is the command line (clap), the TOML configs under `configs/` (serde) and the library's
//! input; enums parse one way, through `FromStr`, in all three.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{ArgAction, Parser};
use goemo_calibration::MethodKind;
use goemo_data::ClassWeighting;
use goemo_metrics::Headline;
use goemo_model::{HeadKind, Precision};
use goemo_threshold::StrategyKind;
use goemo_train::{AdamWConfig, Loss, LossKind, ScheduleKind, TrainConfig};
use serde::{Deserialize, Serialize};

use crate::{DistBackend, Result, RunError};

/// Serialises an enum as its `Display` name and reads it with `FromStr`, so that a TOML file
/// and a flag accept exactly the same words.
mod by_name {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub(crate) fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }

    /// The same for `Option<T>`.
    pub(crate) mod option {
        use super::*;

        pub(crate) fn serialize<T: Display, S: Serializer>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
            match value {
                Some(v) => s.collect_str(v),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
        where
            T: FromStr,
            T::Err: Display,
            D: Deserializer<'de>,
        {
            Option::<String>::deserialize(d)?
                .map(|s| s.parse().map_err(D::Error::custom))
                .transpose()
        }
    }
}

/// Every option of a run. Flags (`--batch-size`) and TOML keys (`batch_size`) have the same
/// names; `train --help` lists each with its default.
#[derive(Parser, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Checkpoint folder or Hub id of the encoder (or classifier) to fine-tune.
    #[arg(long, default_value = "data/models/all-MiniLM-L6-v2")]
    pub model: String,
    /// Classification head for a new model: standard, first_token or mean_pooling (default:
    /// the checkpoint's own, else standard).
    #[arg(long)]
    #[serde(with = "by_name::option")]
    pub head: Option<HeadKind>,
    /// GoEmotions folder (train.tsv, dev.tsv, test.tsv).
    #[arg(long, default_value = "data/goemotions")]
    pub data: PathBuf,
    /// Tokens per text, special tokens included; longer texts are truncated.
    #[arg(long, default_value_t = goemo_data::DEFAULT_MAX_LENGTH)]
    pub max_seq_length: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    pub lr: f64,
    /// Texts per batch.
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    pub batch_size: usize,
    /// Passes over the training data.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    pub epochs: usize,
    /// Start a new head's output bias at the log-odds of each label's training frequency
    /// (`--prior-bias false`: at zero, every label at probability 0.5).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    pub prior_bias: bool,
    /// One dropout rate for hidden states, attention and classifier (default: the checkpoint's).
    #[arg(long)]
    pub dropout: Option<f64>,
    /// AdamW's decoupled weight decay (none on biases and LayerNorm weights).
    #[arg(long, default_value_t = AdamWConfig::default().weight_decay)]
    pub weight_decay: f64,
    /// Warm-up as a fraction of the optimiser steps.
    #[arg(long, default_value_t = TrainConfig::default().warmup_ratio)]
    pub warmup_ratio: f64,
    /// Warm-up steps (overrides --warmup-ratio).
    #[arg(long)]
    pub warmup_steps: Option<u64>,
    /// Decay after warm-up: linear or cosine.
    #[arg(long, default_value_t = TrainConfig::default().schedule)]
    #[serde(with = "by_name")]
    pub schedule: ScheduleKind,
    /// Global gradient-norm limit (0: no clipping).
    #[arg(long, default_value_t = TrainConfig::default().max_grad_norm.unwrap_or(0.0))]
    pub max_grad_norm: f64,
    /// Layer-wise learning-rate decay: encoder layer i of L learns at lr · decay^(L − i), the
    /// embeddings at lr · decay^(L + 1), the head at lr (1: no decay).
    #[arg(long, default_value_t = TrainConfig::default().layer_lr_decay)]
    pub layer_lr_decay: f64,
    /// Batches whose gradients add up to one optimiser step.
    #[arg(long, default_value_t = TrainConfig::default().accumulation)]
    pub grad_accumulation: usize,
    /// Seed of everything random: head initialisation, subsets, batch order, dropout.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
    /// bce, weighted_bce, focal or asymmetric.
    #[arg(long, default_value_t = LossKind::Bce)]
    #[serde(with = "by_name")]
    pub loss: LossKind,
    /// Weights of weighted_bce: inverse, sqrt_inverse or effective_samples.
    #[arg(long, default_value_t = ClassWeighting::SqrtInverse)]
    #[serde(with = "by_name")]
    pub class_weights: ClassWeighting,
    /// The focal loss's α.
    #[arg(long, default_value_t = Loss::FOCAL_ALPHA)]
    pub focal_alpha: f64,
    /// The focal loss's γ.
    #[arg(long, default_value_t = Loss::FOCAL_GAMMA)]
    pub focal_gamma: f64,
    /// The asymmetric loss's focusing on positives (γ+).
    #[arg(long, default_value_t = Loss::ASL_GAMMA_POS)]
    pub asl_gamma_pos: f64,
    /// The asymmetric loss's focusing on negatives (γ−).
    #[arg(long, default_value_t = Loss::ASL_GAMMA_NEG)]
    pub asl_gamma_neg: f64,
    /// The asymmetric loss's probability shift of negatives.
    #[arg(long, default_value_t = Loss::ASL_CLIP)]
    pub asl_clip: f64,
    /// Train on a seeded random subset of this many training examples.
    #[arg(long)]
    pub max_train_samples: Option<usize>,
    /// Stop after this many optimiser steps.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Drop the neutral label (and texts left without a label).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = false, default_missing_value = "true")]
    pub exclude_neutral: bool,
    /// Lowercase texts.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = false, default_missing_value = "true")]
    pub lowercase: bool,
    /// Remove URLs from texts.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = false, default_missing_value = "true")]
    pub remove_urls: bool,
    /// Remove emojis from texts.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = false, default_missing_value = "true")]
    pub remove_emojis: bool,
    /// Thresholds fitted on dev: global, optimal-global, optimal-global-macro, per-class or top-k.
    #[arg(long, default_value_t = StrategyKind::PerClass)]
    #[serde(with = "by_name")]
    pub threshold_strategy: StrategyKind,
    /// k of the top-k strategy.
    #[arg(long, default_value_t = 1)]
    pub top_k: usize,
    /// Calibration of the probabilities, fitted on dev per label: none, temperature, platt,
    /// isotonic, or auto (per label, temperature or Platt by 5-fold cross-validated log loss).
    /// Thresholds fitted on dev are expressed on the calibrated scale, so no decision changes.
    #[arg(long, default_value_t = MethodKind::Auto)]
    #[serde(with = "by_name")]
    pub calibration: MethodKind,
    /// Dev metric that picks the best evaluation: auc_micro, auc_macro, ap_micro, ap_macro,
    /// f1_micro or f1_macro.
    #[arg(long, default_value_t = TrainConfig::default().select_by)]
    #[serde(with = "by_name")]
    pub select_by: Headline,
    /// Stop after this many epochs without a better dev metric.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Folder of runs; this run's artifacts go to OUTPUT_DIR/RUN_NAME.
    #[arg(long, default_value = "runs")]
    pub output_dir: PathBuf,
    /// Name of the run folder under `out_dir`.
    #[arg(long, default_value = "run")]
    pub run_name: String,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// fp32, bf16 autocast, or auto: bf16 on CUDA and on CPUs with native bf16 (AVX512-BF16,
    /// AMX), fp32 elsewhere (the resolved precision is printed and recorded in metrics.json).
    #[arg(long, default_value_t = Precision::Auto)]
    #[serde(with = "by_name")]
    pub precision: Precision,
    /// Also evaluate on dev every N optimiser steps (0: after each epoch only); the best
    /// evaluation is kept.
    #[arg(long, default_value_t = TrainConfig::default().eval_every)]
    pub eval_every: u64,
    /// Texts per batch when evaluating and predicting.
    #[arg(long, default_value_t = TrainConfig::default().eval_batch_size)]
    pub eval_batch_size: usize,
    /// libtorch threads (0: libtorch's default).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// After training, time inference of the saved checkpoint on the test texts (batch sizes 1,
    /// 8, 16, 32 and 64, tokenization included and excluded, on the run's device and precision)
    /// and write `bench.csv` into the run folder; its peak memory is the whole process's.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = false, default_missing_value = "true")]
    pub bench: bool,
    /// Save the training state every N optimiser steps (0: after each epoch only).
    #[arg(long, default_value_t = TrainConfig::default().save_every)]
    pub save_every: u64,
    /// Collectives of a torchrun launch: auto (NCCL on CUDA, Gloo on the CPU), nccl or gloo.
    #[arg(long, default_value_t = DistBackend::Auto)]
    #[serde(with = "by_name")]
    pub dist_backend: DistBackend,
    /// Seconds a rank of a torchrun launch waits for the others (rendezvous, each collective)
    /// before it fails with an error.
    #[arg(long, default_value_t = 300.0)]
    pub dist_timeout: f64,
    /// MiB of gradients summed over the ranks per all-reduce (PyTorch DDP's default: 25).
    #[arg(long, default_value_t = 25.0)]
    pub bucket_mb: f64,
    /// Sum all gradient buckets after the backward pass instead of each one as soon as the pass
    /// completes it (overlapping communication with the rest of the pass).
    #[arg(long)]
    pub reduce_after_backward: bool,
    /// Record each training step once per shape as a CUDA graph and replay it: batches padded
    /// to --batch-size rows and to lengths in steps of 16 tokens, the whole step (forward,
    /// backward, clipping, AdamW) as device work only. On a CPU the same static-shape steps run
    /// eagerly. One process, no gradient accumulation.
    #[arg(long)]
    pub cuda_graphs: bool,
}

impl Default for RunConfig {
    /// The defaults the flags show in `--help`.
    fn default() -> Self {
        RunConfig::parse_from(["goemo"])
    }
}

impl RunConfig {
    /// Reads a TOML file of options (unknown keys are errors naming them).
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| RunError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| RunError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Where this run's artifacts go.
    pub fn run_dir(&self) -> PathBuf {
        self.output_dir.join(&self.run_name)
    }

    /// The training loop's settings (the loss is given: weighted BCE's weights come from data).
    pub fn train_config(&self, loss: Loss) -> TrainConfig {
        TrainConfig {
            lr: self.lr,
            batch_size: self.batch_size,
            epochs: self.epochs,
            adamw: AdamWConfig {
                weight_decay: self.weight_decay,
                ..AdamWConfig::default()
            },
            warmup_ratio: self.warmup_ratio,
            warmup_steps: self.warmup_steps,
            schedule: self.schedule,
            max_grad_norm: Some(self.max_grad_norm).filter(|n| *n > 0.0),
            layer_lr_decay: self.layer_lr_decay,
            accumulation: self.grad_accumulation,
            seed: self.seed,
            loss,
            select_by: self.select_by,
            patience: self.patience,
            max_steps: self.max_steps,
            eval_batch_size: self.eval_batch_size,
            progress: true,
            save_every: self.save_every,
            eval_every: self.eval_every,
            cuda_graphs: self.cuda_graphs,
            ..TrainConfig::default()
        }
    }

    /// Checks every option that can be checked without loading anything.
    pub fn validate(&self) -> Result<()> {
        self.train_config(Loss::Bce).validate()?;
        if self.max_seq_length < 2 {
            return Err(RunError::Option(format!(
                "max_seq_length {} leaves no room for a token between the special tokens",
                self.max_seq_length
            )));
        }
        if let Some(p) = self.dropout.filter(|p| !(0.0..1.0).contains(p)) {
            return Err(RunError::Option(format!("dropout {p} must be within [0, 1)")));
        }
        if !(self.dist_timeout.is_finite() && self.dist_timeout > 0.0) {
            return Err(RunError::Option(format!(
                "dist_timeout {} must be a positive number of seconds",
                self.dist_timeout
            )));
        }
        if !(self.bucket_mb.is_finite() && self.bucket_mb > 0.0) {
            return Err(RunError::Option(format!(
                "bucket_mb {} must be positive",
                self.bucket_mb
            )));
        }
        let device_ok = matches!(self.device.as_str(), "auto" | "cpu" | "cuda")
            || self
                .device
                .strip_prefix("cuda:")
                .is_some_and(|n| n.parse::<usize>().is_ok());
        if !device_ok {
            return Err(RunError::Option(format!(
                "unknown device {:?} (auto, cpu, cuda, cuda:N)",
                self.device
            )));
        }
        Ok(())
    }
}

/// Parses a command line of `C` (a clap parser that flattens [`RunConfig`] and has a config
/// file option): the file's values replace the defaults, and flags given on the command line
/// replace the file's. `config_file` picks the file option out of a first parse. `--help` and
/// usage errors come back as [`RunError::Cli`], whose `exit()` prints them.
pub fn parse_layered<C, I, T>(argv: I, config_file: impl Fn(&C) -> Option<&Path>) -> Result<C>
where
    C: Parser,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let first = C::try_parse_from(&argv)?;
    let Some(path) = config_file(&first) else {
        return Ok(first);
    };
    let file = RunConfig::from_toml_file(path)?;
    let Ok(serde_json::Value::Object(values)) = serde_json::to_value(&file) else {
        unreachable!("RunConfig serialises to an object")
    };
    // The file's values become the defaults of a second parse of the same command line.
    let command = C::command().mut_args(|arg| {
        let value = match values.get(arg.get_id().as_str()) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::Bool(b)) => b.to_string(),
            _ => return arg,
        };
        arg.default_value(value)
    });
    let matches = command.try_get_matches_from(&argv)?;
    Ok(C::from_arg_matches(&matches)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Parser, Debug)]
    struct Cli {
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        run: RunConfig,
    }

    #[test]
    fn defaults_are_the_libraries_defaults() {
        let c = RunConfig::default();
        let t = TrainConfig::default();
        assert_eq!(
            (c.lr, c.batch_size, c.epochs, c.seed),
            (t.lr, t.batch_size, t.epochs, t.seed)
        );
        assert_eq!(c.save_every, t.save_every);
        assert_eq!(c.eval_batch_size, 128);
        assert_eq!((c.calibration, c.precision), (MethodKind::Auto, Precision::Auto));
        assert_eq!(c.train_config(Loss::Bce).max_grad_norm, t.max_grad_norm);
    }

    #[test]
    fn flags_override_the_file_which_overrides_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.toml");
        std::fs::write(
            &path,
            "lr = 1.5e-4\nepochs = 2\nhead = \"mean_pooling\"\nlowercase = true\nschedule = \"cosine\"\n",
        )
        .unwrap();
        let cli: Cli = parse_layered(
            [
                "train",
                "--config",
                path.to_str().unwrap(),
                "--epochs",
                "5",
                "--select-by",
                "f1_macro",
            ],
            |c: &Cli| c.config.as_deref(),
        )
        .unwrap();
        let r = cli.run;
        assert_eq!(r.lr, 1.5e-4, "from the file, exactly");
        assert_eq!(r.epochs, 5, "the flag wins");
        assert_eq!(r.head, Some(HeadKind::MeanPooling));
        assert!(r.lowercase);
        assert_eq!(r.schedule, ScheduleKind::Cosine);
        assert_eq!(r.select_by, Headline::F1Macro);
        assert_eq!(r.batch_size, 32, "the default");
    }

    #[test]
    fn toml_and_flags_take_the_same_words_and_unknown_keys_fail() {
        let r: RunConfig = toml::from_str(
            "loss = \"weighted_bce\"\nclass_weights = \"inverse\"\nprecision = \"bf16\"\ncalibration = \"isotonic\"",
        )
        .unwrap();
        assert_eq!((r.loss, r.precision), (LossKind::WeightedBce, Precision::Bf16));
        assert_eq!(r.calibration, MethodKind::Isotonic);
        let err = toml::from_str::<RunConfig>("calibration = \"sigmoid\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sigmoid"), "{err}");
        let err = toml::from_str::<RunConfig>("los = \"bce\"").unwrap_err().to_string();
        assert!(err.contains("los"), "{err}");
        let err = toml::from_str::<RunConfig>("loss = \"hinge\"").unwrap_err().to_string();
        assert!(err.contains("hinge"), "{err}");
        let err = toml::from_str::<RunConfig>("threshold_strategy = \"best\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("best") && err.contains("per-class"), "{err}");
        // A config survives a round trip through TOML.
        let back: RunConfig = toml::from_str(&toml::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn bad_options_fail_before_anything_loads() {
        let bad = |f: fn(&mut RunConfig)| {
            let mut c = RunConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(bad(|c| c.batch_size = 0).contains("batch size"));
        assert!(bad(|c| c.device = "gpu".into()).contains("gpu"));
        assert!(bad(|c| c.lr = -1.0).contains("learning rate"));
        RunConfig::default().validate().unwrap();
    }
}
