//! A run interrupted mid-epoch and resumed from its saved state ends with the same metrics and
//! weights as an uninterrupted run. (One test: libtorch's random generator is process-global.)

mod common;

use common::{config, synthetic, tiny_model, tiny_model_seeded};
use goemo_train::{train_resumable, EncodedSplit, RunState, TrainConfig, TrainError};
use tch::Tensor;

#[test]
fn interrupted_and_resumed_equals_uninterrupted() {
    let (train_ids, train_targets) = synthetic(240, 11);
    let (dev_ids, dev_targets) = synthetic(80, 12);
    let train = EncodedSplit {
        ids: &train_ids,
        targets: train_targets.view(),
    };
    let dev = EncodedSplit {
        ids: &dev_ids,
        targets: dev_targets.view(),
    };
    let config = TrainConfig {
        epochs: 3,
        save_every: 4,
        accumulation: 2,
        // Evaluations inside epochs are part of the state too (steps 3, 6, 9, 12, ...).
        eval_every: 3,
        ..config()
    };
    let tmp = tempfile::tempdir().unwrap();

    let mut whole = tiny_model();
    let full_dir = tmp.path().join("full");
    let state = RunState {
        dir: Some(&full_dir),
        resume: false,
    };
    let expected = train_resumable(&mut whole, train, dev, 0, &config, &state, &mut |_| false).unwrap();

    // Stopped mid-epoch (after optimiser step 11 of 24: not a multiple of save_every).
    let dir = tmp.path().join("interrupted");
    let mut first = tiny_model();
    let state = RunState {
        dir: Some(&dir),
        resume: false,
    };
    let err = train_resumable(&mut first, train, dev, 0, &config, &state, &mut |log| log.step == 11).unwrap_err();
    assert!(matches!(err, TrainError::Interrupted { step: 11 }), "{err}");
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        files.contains(&"progress.json".to_string()) && files.contains(&"weights-11.safetensors".to_string()),
        "{files:?}"
    );
    assert!(
        !files.contains(&"weights-8.safetensors".to_string()),
        "older saves are removed: {files:?}"
    );

    // A fresh process builds a fresh model: other random weights, which only the saved state
    // can turn into the interrupted run's.
    let mut resumed = tiny_model_seeded(99);
    let state = RunState {
        dir: Some(&dir),
        resume: true,
    };
    let outcome = train_resumable(&mut resumed, train, dev, 0, &config, &state, &mut |_| false).unwrap();

    let summary = |o: &goemo_train::TrainOutcome| {
        o.history
            .iter()
            .map(|r| (r.steps, r.train_loss, r.dev_loss, r.dev.auc_micro, r.dev.f1_micro))
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&outcome), summary(&expected));
    let evaluations = |o: &goemo_train::TrainOutcome| {
        o.evaluations
            .iter()
            .map(|e| (e.step, e.dev_loss, e.dev.auc_micro))
            .collect::<Vec<_>>()
    };
    assert_eq!(evaluations(&outcome), evaluations(&expected));
    assert!(expected.evaluations.len() >= 5, "{}", expected.evaluations.len());
    assert_eq!(
        (outcome.best_epoch, outcome.best_step, outcome.steps),
        (expected.best_epoch, expected.best_step, expected.steps)
    );
    let weights = |m: &goemo_model::SequenceClassifier| -> Vec<Tensor> {
        let mut v: Vec<_> = m.var_store().variables().into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.into_iter().map(|(_, t)| t).collect()
    };
    assert!(
        weights(&whole).iter().zip(weights(&resumed)).all(|(a, b)| a.equal(&b)),
        "same final weights, bit for bit"
    );
}
