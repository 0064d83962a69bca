//! The loop on a tiny random BERT: it learns a separable task, is deterministic and keeps the
//! best epoch. (libtorch's random generator is global to the process: this file holds one test.)

mod common;

use common::{config, dev_report, synthetic, tiny_model};
use goemo_train::{train, EncodedSplit};

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
    let dev = EncodedSplit {
        ids: &dev_ids,
        targets: dev_targets.view(),
    };
    assert_eq!(dev_report(&model, dev).auc_macro, best.dev.auc_macro);

    let (_, repeat) = run();
    let metrics = |o: &goemo_train::TrainOutcome| {
        o.history
            .iter()
            .map(|r| (r.train_loss, r.dev.auc_micro))
            .collect::<Vec<_>>()
    };
    assert_eq!(metrics(&outcome), metrics(&repeat), "same seed, same run");
}
