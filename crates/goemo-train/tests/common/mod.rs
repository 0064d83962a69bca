//! Shared by the loop's tests: a tiny random BERT and a separable synthetic task.

#![allow(dead_code)]

use goemo_metrics::{Headline, MetricReport};
use goemo_model::{HeadKind, ModelConfig, SequenceClassifier};
use goemo_train::{evaluate_split, EncodedSplit, Loss, TrainConfig};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::Device;

pub(crate) const LABELS: usize = 3;

/// Label k is present exactly when token 30 + k occurs; other tokens are noise.
pub(crate) fn synthetic(n: usize, seed: u64) -> (Vec<Vec<u32>>, Array2<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut targets = Array2::zeros((n, LABELS));
    let ids = (0..n)
        .map(|i| {
            let mut t: Vec<u32> = (0..rng.random_range(3..9)).map(|_| rng.random_range(5..30)).collect();
            for k in 0..LABELS {
                if rng.random::<f64>() < 0.3 {
                    let at = rng.random_range(0..=t.len());
                    t.insert(at, 30 + k as u32);
                    targets[[i, k]] = 1.0;
                }
            }
            let mut with_special = vec![1];
            with_special.extend(t);
            with_special.push(2);
            with_special
        })
        .collect();
    (ids, targets)
}

pub(crate) fn tiny_model() -> SequenceClassifier {
    tiny_model_seeded(7)
}

/// The tiny model with weights drawn from `seed`.
pub(crate) fn tiny_model_seeded(seed: i64) -> SequenceClassifier {
    let json = serde_json::json!({
        "model_type": "bert", "vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 64,
        "type_vocab_size": 2, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
    });
    let config = ModelConfig::from_json(json.as_object().unwrap().clone()).unwrap();
    tch::manual_seed(seed);
    let labels = (0..LABELS).map(|k| format!("label_{k}")).collect();
    SequenceClassifier::from_config(config, HeadKind::MeanPooling, labels, Device::Cpu)
}

pub(crate) fn config() -> TrainConfig {
    TrainConfig {
        lr: 1e-2,
        batch_size: 16,
        epochs: 12,
        warmup_ratio: 0.05,
        select_by: Headline::AucMacro,
        eval_batch_size: 64,
        ..TrainConfig::default()
    }
}

/// The model's dev metrics at a global threshold of 0.5, as the loop computes them.
pub(crate) fn dev_report(model: &SequenceClassifier, dev: EncodedSplit<'_>) -> MetricReport {
    let (probs, _) = evaluate_split(model, dev, 0, 64, &Loss::Bce).unwrap();
    MetricReport::compute(
        probs.view(),
        dev.targets,
        probs.mapv(|p| p >= 0.5).view(),
        model.labels(),
        None,
    )
    .unwrap()
}
