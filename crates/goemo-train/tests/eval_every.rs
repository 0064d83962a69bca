//! Dev evaluations inside epochs: where they happen, and that they compete for the best
//! checkpoint. (One test: libtorch's random generator is process-global.)

mod common;

use common::{config, dev_report, synthetic, tiny_model};
use goemo_train::{train, EncodedSplit, TrainConfig};

#[test]
fn evaluates_every_n_steps_and_restores_the_best_evaluation() {
    let (train_ids, train_targets) = synthetic(160, 21);
    let (dev_ids, dev_targets) = synthetic(80, 22);
    let dev = EncodedSplit {
        ids: &dev_ids,
        targets: dev_targets.view(),
    };
    // 10 steps per epoch, 3 epochs: inside-epoch evaluations at 4, 8, 12, 16, 24, 28 (20 and 30
    // end epochs, which are evaluated as epochs).
    let config = TrainConfig {
        epochs: 3,
        eval_every: 4,
        ..config()
    };
    let mut model = tiny_model();
    let outcome = train(
        &mut model,
        EncodedSplit {
            ids: &train_ids,
            targets: train_targets.view(),
        },
        dev,
        0,
        &config,
    )
    .unwrap();
    let steps: Vec<(usize, u64)> = outcome.evaluations.iter().map(|e| (e.epoch, e.step)).collect();
    assert_eq!(steps, [(0, 4), (0, 8), (1, 12), (1, 16), (2, 24), (2, 28)]);
    assert_eq!(outcome.history.len(), 3);

    // The best of all nine evaluations wins, and the model ends with its weights.
    let values = outcome
        .evaluations
        .iter()
        .map(|e| (e.step, config.select_by.in_report(&e.dev).unwrap()))
        .chain(
            outcome
                .history
                .iter()
                .map(|r| (r.steps, config.select_by.in_report(&r.dev).unwrap())),
        );
    let (best_step, best_value) = values.fold((0, f64::NEG_INFINITY), |best, v| if v.1 > best.1 { v } else { best });
    assert_eq!((outcome.best_step, outcome.best_value), (best_step, best_value));
    assert_eq!(
        config.select_by.in_report(&dev_report(&model, dev)).unwrap(),
        best_value
    );
}
