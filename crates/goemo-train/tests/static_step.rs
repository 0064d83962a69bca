//! The static-shape step (what CUDA graphs record) trains as the dynamic step does: padding rows
//! and padding to a bucket length change nothing beyond rounding, and the schedule on the device
//! is the host's (a non-finite loss: nan_guard.rs).

mod common;

use common::{config, synthetic, LABELS};
use goemo_data::{Batcher, ShapeBuckets};
use goemo_model::{HeadKind, ModelConfig, SequenceClassifier, TrainableModel};
use goemo_train::{train, AdamW, AdamWConfig, Clipped, EncodedSplit, Loss, StaticStep, TrainConfig};
use tch::Device;

/// The tiny model of the other tests without dropout, so that both steps see the same network.
fn deterministic_model() -> SequenceClassifier {
    let json = serde_json::json!({
        "model_type": "bert", "vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 64,
        "type_vocab_size": 2, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
    });
    let config = ModelConfig::from_json(json.as_object().unwrap().clone()).unwrap();
    tch::manual_seed(7);
    let labels = (0..LABELS).map(|k| format!("label_{k}")).collect();
    SequenceClassifier::from_config(config, HeadKind::MeanPooling, labels, Device::Cpu)
}

#[test]
fn static_shape_steps_train_as_dynamic_steps_do() {
    // 70 texts in batches of 16: the last batch has 6 texts and 10 padding rows.
    let (ids, targets) = synthetic(70, 5);
    let split = EncodedSplit {
        ids: &ids,
        targets: targets.view(),
    };
    let losses = [
        Loss::Bce,
        Loss::Asymmetric {
            gamma_pos: 0.0,
            gamma_neg: 4.0,
            clip: 0.05,
        },
    ];
    for loss in losses {
        let base = TrainConfig {
            epochs: 2,
            layer_lr_decay: 0.8,
            loss: loss.clone(),
            ..config()
        };
        // The same initial weights (the tests of this file run in parallel and share libtorch's
        // random generator, so a seed alone would not do).
        let mut dynamic = deterministic_model();
        let mut fixed = deterministic_model();
        tch::no_grad(|| {
            for ((_, to), (_, from)) in fixed.named_parameters().iter().zip(&dynamic.named_parameters()) {
                to.shallow_clone().copy_(from);
            }
        });
        let eager = train(&mut dynamic, split, split, 0, &base).unwrap();
        let graphs = TrainConfig {
            cuda_graphs: true,
            ..base.clone()
        };
        let recorded = train(&mut fixed, split, split, 0, &graphs).unwrap();
        let (a, b) = (eager.history, recorded.history);
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.steps, y.steps);
            assert!(
                (x.train_loss - y.train_loss).abs() < 1e-5,
                "{loss:?}: {} vs {}",
                x.train_loss,
                y.train_loss
            );
        }
        // The attention key bias is left out: its gradient is zero in exact arithmetic (a
        // constant added to every score of a query leaves the softmax unchanged), so Adam turns
        // rounding noise of 1e-9 into steps of ±lr in either run.
        let worst = dynamic
            .named_parameters()
            .iter()
            .zip(&fixed.named_parameters())
            .filter(|((name, _), _)| !name.ends_with("attention.self.key.bias"))
            .map(|((_, x), (_, y))| (x - y).abs().max().double_value(&[]))
            .fold(0.0, f64::max);
        assert!(worst < 1e-4, "{loss:?}: weights differ by {worst}");
    }
}

#[test]
fn static_steps_refuse_what_they_cannot_do() {
    let model = deterministic_model();
    let shapes = ShapeBuckets::new(4, &[8, 16]).unwrap();
    // An optimiser that schedules on the host cannot be skipped from the device.
    let host = AdamW::new(model.named_parameters(), AdamWConfig::default());
    let err = StaticStep::new(shapes.clone(), &Loss::Bce, &host, Device::Cpu, false).unwrap_err();
    assert!(err.to_string().contains("AdamW::on_device"), "{err}");
    let mut device = Clipped::new(
        AdamW::new(model.named_parameters(), AdamWConfig::default())
            .on_device()
            .unwrap(),
        1.0,
    );
    // CUDA graphs need a CUDA device.
    assert!(StaticStep::new(shapes.clone(), &Loss::Bce, &device, Device::Cpu, true).is_err());
    let mut step = StaticStep::new(shapes, &Loss::Bce, &device, Device::Cpu, false).unwrap();
    // A dynamically padded batch is not one of the shapes.
    let (ids, targets) = synthetic(8, 1);
    let batcher = Batcher::new(&ids, 0)
        .with_targets(targets.view())
        .unwrap()
        .with_token_type_ids(true);
    let err = step
        .run(&model, &mut device, &batcher.batch(&[0, 1]), 1e-3)
        .unwrap_err();
    assert!(err.to_string().contains("not one of the static shapes"), "{err}");
    let batch = batcher.static_batch(&[0, 1], step.shapes()).unwrap();
    let loss = step.run(&model, &mut device, &batch, 1e-3).unwrap();
    assert!(loss.is_finite() && loss > 0.0);
    assert_eq!((step.counts().eager, step.counts().recorded), (1, 0));
    // Accumulation updates every few batches; a recorded step updates every batch.
    let accumulating = TrainConfig {
        cuda_graphs: true,
        accumulation: 2,
        ..config()
    };
    assert!(accumulating
        .validate()
        .unwrap_err()
        .to_string()
        .contains("accumulation"));
}
