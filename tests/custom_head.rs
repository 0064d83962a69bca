//! A downstream crate's view of goemo: its own in-memory data (a `DataSource`), its own
//! tokenizer (`Tokenize`) and its own model (`TrainableModel`: a bag of embeddings and a linear
//! head), trained by goemo's `Trainer` with an `Optimizer` and an `LrSchedule` of its choosing,
//! then thresholded on dev and scored on test with goemo-threshold and goemo-metrics.
//!
//! The same data source and tokenizer also go through the whole run layer: `Experiment` trains
//! goemo's encoder (the tiny BERT fixture) with them, and `EmotionService` serves the checkpoint
//! with the same tokenizer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use goemo::data::{DataSource, Dataset, Example, LabelSet, Split, Tokenize};
use goemo::metrics::{target_mask, Headline, MetricReport};
use goemo::model::{EmotionClassifier, ModelError, TensorBatch, TrainableModel};
use goemo::run::{Experiment, RunConfig};
use goemo::serve::{EmotionService, ServiceOptions};
use goemo::threshold::{PerClass, ThresholdStrategy};
use goemo::train::{evaluate_split, AdamW, AdamWConfig, Clipped, EncodedSplit, LrSchedule, TrainConfig, Trainer};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

const WORDS: [&str; 6] = ["sunny", "gift", "storm", "loss", "meh", "table"];

/// Texts of random words; "sunny"/"gift" mean joy, "storm"/"loss" mean sadness.
struct WordData {
    seed: u64,
}

impl DataSource for WordData {
    fn describe(&self) -> String {
        "generated word lists".into()
    }

    fn load(&self) -> goemo::data::Result<Dataset> {
        let mut state = self.seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let mut split = |n: usize, prefix: &str| -> Vec<Example> {
            (0..n)
                .map(|i| {
                    let words: Vec<&str> = (0..2 + next() % 4).map(|_| WORDS[next() % WORDS.len()]).collect();
                    let has = |a: &str, b: &str| words.iter().any(|w| *w == a || *w == b);
                    let labels = [has("sunny", "gift"), has("storm", "loss")]
                        .iter()
                        .enumerate()
                        .filter_map(|(k, on)| on.then_some(k))
                        .collect();
                    Example {
                        id: format!("{prefix}{i}"),
                        text: words.join(" "),
                        labels,
                    }
                })
                .collect()
        };
        Ok(Dataset {
            labels: LabelSet::new(["joy", "sadness"])?,
            train: split(400, "train"),
            dev: split(150, "dev"),
            test: split(150, "test"),
        })
    }
}

/// One id per known word, 0 for padding.
struct WordTokenizer;

impl Tokenize for WordTokenizer {
    fn encode_batch(&self, texts: &[&str]) -> goemo::data::Result<Vec<Vec<u32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                t.split_whitespace()
                    .map(|w| WORDS.iter().position(|k| *k == w).map_or(7, |i| i as u32 + 1))
                    .collect()
            })
            .collect())
    }
    fn token_lengths(&self, texts: &[&str]) -> goemo::data::Result<Vec<usize>> {
        Ok(texts.iter().map(|t| t.split_whitespace().count()).collect())
    }
    fn pad_id(&self) -> u32 {
        0
    }
    fn max_length(&self) -> usize {
        16
    }
}

/// Masked mean of word embeddings, then a linear layer.
struct BagOfEmbeddings {
    vs: nn::VarStore,
    embedding: nn::Embedding,
    head: nn::Linear,
    labels: Vec<String>,
}

impl BagOfEmbeddings {
    fn new(labels: Vec<String>) -> Self {
        let vs = nn::VarStore::new(Device::Cpu);
        let embedding = nn::embedding(vs.root() / "embedding", 8, 16, Default::default());
        let head = nn::linear(vs.root() / "head", 16, labels.len() as i64, Default::default());
        BagOfEmbeddings {
            vs,
            embedding,
            head,
            labels,
        }
    }
}

impl TrainableModel for BagOfEmbeddings {
    fn forward_t(&self, batch: &TensorBatch, _train: bool) -> Result<Tensor, ModelError> {
        let mask = batch.attention_mask.to_kind(Kind::Float).unsqueeze(-1);
        let summed = (self.embedding.forward(&batch.input_ids) * &mask).sum_dim_intlist(1, false, Kind::Float);
        Ok(self
            .head
            .forward(&(summed / mask.sum_dim_intlist(1, false, Kind::Float).clamp_min(1.0))))
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<_> = self.vs.variables().into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
    fn labels(&self) -> &[String] {
        &self.labels
    }
    fn device(&self) -> Device {
        Device::Cpu
    }
    fn save(&self, dir: &Path) -> Result<PathBuf, ModelError> {
        self.vs.save(dir.join("bag.safetensors"))?;
        Ok(dir.to_path_buf())
    }
}

fn split<'a>(ids: &'a [Vec<u32>], targets: &'a ndarray::Array2<f32>) -> EncodedSplit<'a> {
    EncodedSplit {
        ids,
        targets: targets.view(),
    }
}

/// A constant learning rate.
struct Constant(f64);

impl LrSchedule for Constant {
    fn lr(&self, _: u64) -> f64 {
        self.0
    }
}

#[test]
fn a_foreign_model_trains_on_foreign_data_through_the_traits() {
    tch::manual_seed(0);
    let data = WordData { seed: 5 }.load().unwrap();
    let tokenizer = WordTokenizer;
    let encode = |split: Split| {
        let texts: Vec<&str> = data.split(split).iter().map(|e| e.text.as_str()).collect();
        (tokenizer.encode_batch(&texts).unwrap(), data.targets(split))
    };
    let ((train_ids, train_t), (dev_ids, dev_t), (test_ids, test_t)) =
        (encode(Split::Train), encode(Split::Dev), encode(Split::Test));
    let mut model = BagOfEmbeddings::new(data.labels.names().to_vec());
    let optimizer = Clipped::new(AdamW::new(model.named_parameters(), AdamWConfig::default()), 1.0);
    let config = TrainConfig {
        epochs: 8,
        batch_size: 16,
        select_by: Headline::AucMacro,
        ..TrainConfig::default()
    };
    let outcome = Trainer::new(
        &mut model,
        split(&train_ids, &train_t),
        split(&dev_ids, &dev_t),
        0,
        config,
    )
    .unwrap()
    .with_optimizer(Box::new(optimizer))
    .with_schedule(Box::new(Constant(0.05)))
    .run(&mut |_| false)
    .unwrap();
    assert_eq!(outcome.history.len(), 8);
    assert_eq!(outcome.steps, 8 * 25, "one update per batch: no accumulation wrapper");

    let (dev_probs, _) = evaluate_split(&model, split(&dev_ids, &dev_t), 0, 64, &goemo::train::Loss::Bce).unwrap();
    let (test_probs, _) = evaluate_split(&model, split(&test_ids, &test_t), 0, 64, &goemo::train::Loss::Bce).unwrap();
    let thresholds = PerClass
        .fit(dev_probs.mapv(f64::from).view(), target_mask(dev_t.view()).view())
        .unwrap();
    let predictions = thresholds.apply(test_probs.view()).unwrap();
    let report = MetricReport::compute(
        test_probs.view(),
        test_t.view(),
        predictions.view(),
        model.labels(),
        None,
    )
    .unwrap();
    assert!(report.auc_macro.unwrap() > 0.99, "{:?}", report.auc_macro);
    assert!(report.f1_macro > 0.95, "{}", report.f1_macro);
}

/// The tiny BERT checkpoint (config.json and model.safetensors; its tokenizer.json is not used).
fn tiny_bert() -> String {
    format!(
        "{}/crates/goemo-model/tests/fixtures/tiny-bert",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn a_downstream_source_and_tokenizer_train_through_experiment_and_serve() {
    let out = tempfile::tempdir().unwrap();
    let tokenizer: Arc<dyn Tokenize> = Arc::new(WordTokenizer);
    let config = RunConfig {
        model: tiny_bert(),
        epochs: 6,
        batch_size: 16,
        lr: 3e-3,
        threads: 1,
        bench: false,
        output_dir: out.path().to_path_buf(),
        run_name: "words".into(),
        ..RunConfig::default()
    };
    let outcome = Experiment::new(config)
        .with_source(Box::new(WordData { seed: 5 }))
        .with_tokenizer(tokenizer.clone())
        .run()
        .unwrap();
    let labels: Vec<&str> = outcome.test.per_class.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["joy", "sadness"]);
    assert!(outcome.test.auc_macro.unwrap() > 0.95, "{:?}", outcome.test.auc_macro);
    let checkpoint = outcome.run_dir.join("checkpoint");
    assert!(
        !checkpoint.join("tokenizer.json").exists(),
        "the fixture's tokenizer is not the one trained with"
    );
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(outcome.run_dir.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["data"]["source"], "generated word lists");
    assert_eq!(metrics["tokenizer"], "given in code (Experiment::with_tokenizer)");

    // Served with the same tokenizer: the service's answers are the classifier's.
    let path = checkpoint.to_string_lossy().into_owned();
    let direct = EmotionClassifier::load_with_tokenizer(&path, tch::Device::Cpu, tokenizer.clone()).unwrap();
    let service = EmotionService::start(
        move |_| EmotionClassifier::load_with_tokenizer(&path, tch::Device::Cpu, tokenizer.clone()),
        ServiceOptions {
            workers: 1,
            ..ServiceOptions::default()
        },
    )
    .unwrap();
    let texts = ["sunny gift meh", "storm loss table", "meh table"];
    let served = service
        .predict(texts.iter().map(std::string::ToString::to_string).collect())
        .unwrap();
    assert!(service.calibrated());
    assert_eq!(served, direct.predict(&texts).unwrap());
    let score = |i: usize, label: usize| served[i].scores[label].1;
    assert!(score(0, 0) > score(2, 0) && score(1, 1) > score(2, 1), "{served:?}");
    service.shutdown();

    // Without the tokenizer the checkpoint cannot be loaded, and a tokenizer whose ids the model
    // has no embeddings for is an error naming the text, not a failure inside libtorch.
    let err = EmotionClassifier::load(&checkpoint.to_string_lossy())
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing tokenizer.json"), "{err}");
    let wide = EmotionClassifier::load_with_tokenizer(
        &checkpoint.to_string_lossy(),
        tch::Device::Cpu,
        Arc::new(WideTokenizer),
    )
    .unwrap();
    let err = wide.predict(&["sunny", "storm"]).unwrap_err().to_string();
    assert_eq!(
        err,
        "text 1: token id 5000 is outside the model's vocabulary of 1000 ids; the tokenizer does not match the model"
    );
}

/// Ids past the tiny BERT's 1,000-word vocabulary for every text but the first.
struct WideTokenizer;

impl Tokenize for WideTokenizer {
    fn encode_batch(&self, texts: &[&str]) -> goemo::data::Result<Vec<Vec<u32>>> {
        Ok((0..texts.len())
            .map(|i| vec![1, if i == 0 { 2 } else { 5000 }])
            .collect())
    }
    fn token_lengths(&self, texts: &[&str]) -> goemo::data::Result<Vec<usize>> {
        Ok(vec![2; texts.len()])
    }
    fn pad_id(&self) -> u32 {
        0
    }
    fn max_length(&self) -> usize {
        2
    }
}
