//! A non-finite loss stops the loop before any update: the weights stay the last good ones, with
//! the eager step (which reads the loss before updating) and with the static-shape step of
//! `cuda_graphs` (which skips the update on the device).

mod common;

use common::{config, synthetic, tiny_model, LABELS};
use goemo_train::{train, EncodedSplit, Loss, TrainConfig, TrainError};

#[test]
fn a_non_finite_loss_stops_before_any_update() {
    for cuda_graphs in [false, true] {
        stops_before_any_update(cuda_graphs);
    }
}

fn stops_before_any_update(cuda_graphs: bool) {
    let (ids, targets) = synthetic(64, 3);
    let mut model = tiny_model();
    let before: Vec<tch::Tensor> = model
        .var_store()
        .trainable_variables()
        .iter()
        .map(tch::Tensor::copy)
        .collect();
    let config = TrainConfig {
        loss: Loss::WeightedBce {
            pos_weight: vec![f64::NAN; LABELS],
        },
        cuda_graphs,
        ..config()
    };
    let split = EncodedSplit {
        ids: &ids,
        targets: targets.view(),
    };
    let err = train(&mut model, split, split, 0, &config).unwrap_err();
    assert!(
        matches!(err, TrainError::NonFinite { epoch: 0, step: 0, .. }),
        "{cuda_graphs}: {err}"
    );
    let after = model.var_store().trainable_variables();
    assert!(
        before.iter().zip(&after).all(|(a, b)| a.equal(b)),
        "{cuda_graphs}: weights untouched"
    );
}
