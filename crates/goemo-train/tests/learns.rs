//! The loop on a tiny random BERT: it learns a separable task, is deterministic and keeps the
//! best epoch. (libtorch's random generator is global to the process: this file holds one test.)

use goemo_model::{HeadKind, ModelConfig, SequenceClassifier};
use goemo_train::{train, EncodedSplit, Loss, SelectBy, TrainConfig};
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
fn learns_a_separable_task_deterministically() {
    let (train_ids, train_targets) = synthetic(480, 1);
    let (dev_ids, dev_targets) = synthetic(160, 2);
    let run = || {
        let mut model = tiny_model();
        let outcome = train(
            &mut model,
            EncodedSplit {
                ids: &train_ids,
                targets: train_targets.view(),
            },
            EncodedSplit {
                ids: &dev_ids,
                targets: dev_targets.view(),
            },
            0,
            &config(),
        )
        .unwrap();
        (model, outcome)
    };
    let (model, outcome) = run();
    assert_eq!(outcome.history.len(), 12);
    assert_eq!(outcome.steps, 12 * 30);
    let best = &outcome.history[outcome.best_epoch];
    assert!(
        best.dev.auc_micro.unwrap() > 0.9,
        "dev micro AUC {:?}",
        best.dev.auc_micro
    );
    assert!(
        outcome.history[0].train_loss > outcome.history[11].train_loss,
        "the loss falls"
    );
    // The model ends with the best epoch's weights: evaluating it again gives that epoch's metric.
    let (probs, _) = goemo_train::evaluate_split(
        &model,
        EncodedSplit {
            ids: &dev_ids,
            targets: dev_targets.view(),
        },
        0,
        64,
        &Loss::Bce,
    )
    .unwrap();
    let again = goemo_metrics::MetricReport::compute(
        probs.view(),
        dev_targets.view(),
        probs.mapv(|p| p >= 0.5).view(),
        model.labels(),
        None,
    )
    .unwrap();
    assert_eq!(again.auc_macro, best.dev.auc_macro);

    let (_, repeat) = run();
    let metrics = |o: &goemo_train::TrainOutcome| {
        o.history
            .iter()
            .map(|r| (r.train_loss, r.dev.auc_micro))
            .collect::<Vec<_>>()
    };
    assert_eq!(metrics(&outcome), metrics(&repeat), "same seed, same run");
}
