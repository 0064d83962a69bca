//! A non-finite loss stops the loop before any update: the weights stay the last good ones.

use goemo_model::{HeadKind, ModelConfig, SequenceClassifier};
use goemo_train::{train, EncodedSplit, Loss, SelectBy, TrainConfig, TrainError};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::Device;

const LABELS: usize = 3;

/// Label k is present exactly when token 30 + k occurs; other tokens are noise.
fn synthetic(n: usize, seed: u64) -> (Vec<Vec<u32>>, Array2<f32>) {
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

fn tiny_model() -> SequenceClassifier {
    let json = serde_json::json!({
        "model_type": "bert", "vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 64,
        "type_vocab_size": 2, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
    });
    let config = ModelConfig::from_json(json.as_object().unwrap().clone()).unwrap();
    tch::manual_seed(7);
    let labels = (0..LABELS).map(|k| format!("label_{k}")).collect();
    SequenceClassifier::from_config(config, HeadKind::MeanPooling, labels, Device::Cpu)
}

fn config() -> TrainConfig {
    TrainConfig {
        lr: 1e-2,
        batch_size: 16,
        epochs: 12,
        warmup_ratio: 0.05,
        select_by: SelectBy::AucMacro,
        eval_batch_size: 64,
        ..TrainConfig::default()
    }
}

#[test]
fn a_non_finite_loss_stops_before_any_update() {
    let (ids, targets) = synthetic(64, 3);
    let mut model = tiny_model();
    let before: Vec<tch::Tensor> = model
        .var_store()
        .trainable_variables()
        .iter()
        .map(|t| t.copy())
        .collect();
    let config = TrainConfig {
        loss: Loss::WeightedBce {
            pos_weight: vec![f64::NAN; LABELS],
        },
        ..config()
    };
    let split = EncodedSplit {
        ids: &ids,
        targets: targets.view(),
    };
    let err = train(&mut model, split, split, 0, &config).unwrap_err();
    assert!(matches!(err, TrainError::NonFinite { epoch: 0, step: 0, .. }), "{err}");
    let after = model.var_store().trainable_variables();
    assert!(before.iter().zip(&after).all(|(a, b)| a.equal(b)), "weights untouched");
}
