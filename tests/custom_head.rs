//! A downstream crate's view of goemo: its own in-memory data (a `DataSource`), its own
//! tokenizer (`Tokenize`) and its own model (`TrainableModel`: a bag of embeddings and a linear
//! head), trained by goemo's `Trainer` with an `Optimizer` and an `LrSchedule` of its choosing,
//! then thresholded on dev and scored on test with goemo-threshold and goemo-metrics. Nothing
//! here uses goemo's encoders or the run layer.

use std::path::{Path, PathBuf};

use goemo::data::{DataSource, Dataset, Example, LabelSet, Split, Tokenize};
use goemo::metrics::{target_mask, Headline, MetricReport};
use goemo::model::{ModelError, TensorBatch, TrainableModel};
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
