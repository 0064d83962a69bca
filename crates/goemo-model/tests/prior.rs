//! A new head starts from the labels' frequencies: with its output bias at their log-odds,
//! every text's probabilities are the training frequencies (up to what the small random weights
//! add), instead of 0.5.

use std::path::Path;

use goemo_data::{Batcher, HfTokenizer, Tokenize};
use goemo_model::{HeadKind, LoadOptions, SequenceClassifier, TensorBatch, TrainableModel, WeightInit};
use tch::Device;

/// Tests of one binary run in parallel and share libtorch's random generator: a new head's
/// weights are drawn from it, so each test holds this lock to draw the same weights every run.
static RANDOM_GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn lock_generator() -> std::sync::MutexGuard<'static, ()> {
    // A test that failed while holding it leaves nothing behind to guard.
    RANDOM_GENERATOR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn a_new_heads_probabilities_are_the_label_frequencies() {
    let _generator = lock_generator();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-roberta");
    let options = LoadOptions {
        head: Some(HeadKind::MeanPooling),
        labels: Some(vec!["common".into(), "rare".into(), "never".into()]),
        ..LoadOptions::default()
    };
    tch::manual_seed(1);
    let mut model = SequenceClassifier::load(&dir, Device::Cpu, &options).unwrap();
    assert!(model.head_is_new());
    let frequencies = [0.33, 0.0018, 0.0];
    model.set_label_prior(&frequencies).unwrap();
    let tokenizer = HfTokenizer::from_file(dir.join("tokenizer.json"), 128)
        .unwrap()
        .with_pad_id(1);
    let ids = tokenizer
        .encode_batch(&["I love this!", "meh", "why would you do that 😡 seriously"])
        .unwrap();
    let batch = TensorBatch::new(&Batcher::new(&ids, 1).batch(&[0, 1, 2]), Device::Cpu).unwrap();
    let probs = tch::no_grad(|| model.forward_t(&batch, false).unwrap().sigmoid());
    for row in 0..3 {
        let p = Vec::<f32>::try_from(probs.get(row)).unwrap();
        assert!((p[0] - 0.33).abs() < 0.02, "{p:?}");
        assert!(p[1] < 0.005 && p[2] < 1e-4, "{p:?}");
    }
    assert!(model.set_label_prior(&[0.5]).is_err(), "one frequency per label");

    // A head read from the checkpoint keeps its bias.
    let loaded = SequenceClassifier::load(&dir, Device::Cpu, &LoadOptions::default()).unwrap();
    assert!(!loaded.head_is_new());
}

#[test]
fn a_classifier_given_other_labels_gets_a_new_output_layer_and_keeps_its_encoder() {
    let _generator = lock_generator();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-bert");
    let original = SequenceClassifier::load(&dir, Device::Cpu, &LoadOptions::default()).unwrap();
    assert_eq!((original.labels().len(), original.head_is_new()), (28, false));
    let same = LoadOptions {
        labels: Some(original.labels().to_vec()),
        ..LoadOptions::default()
    };
    assert!(!SequenceClassifier::load(&dir, Device::Cpu, &same)
        .unwrap()
        .head_is_new());

    let other = LoadOptions {
        labels: Some(vec!["joy".into(), "sadness".into()]),
        ..LoadOptions::default()
    };
    let relabelled = SequenceClassifier::load(&dir, Device::Cpu, &other).unwrap();
    assert!(relabelled.head_is_new());
    assert_eq!(relabelled.labels(), ["joy", "sadness"]);
    let parameter = |model: &SequenceClassifier, name: &str| {
        let found = model.named_parameters().into_iter().find(|(n, _)| n == name);
        found.unwrap_or_else(|| panic!("no {name}")).1
    };
    for kept in ["bert.pooler.dense.weight", "bert.embeddings.word_embeddings.weight"] {
        assert!(
            parameter(&relabelled, kept).equal(&parameter(&original, kept)),
            "{kept}"
        );
    }
    assert_eq!(parameter(&relabelled, "classifier.weight").size(), [2, 32]);
}

#[test]
fn encoder_init_changes_the_random_stream_and_nothing_loaded() {
    let _generator = lock_generator();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-bert");
    let load = |encoder_init| {
        tch::manual_seed(5);
        let options = LoadOptions {
            labels: Some(vec!["joy".into(), "sadness".into()]),
            encoder_init,
            ..LoadOptions::default()
        };
        let model = SequenceClassifier::load(&dir, Device::Cpu, &options).unwrap();
        let parameters: Vec<(String, tch::Tensor)> = model.named_parameters();
        parameters
    };
    let (random, unwritten, random_again) = (
        load(WeightInit::Random),
        load(WeightInit::Checkpoint),
        load(WeightInit::Random),
    );
    let mut new_head_moved = false;
    for (((name, r), (_, u)), (_, again)) in random.iter().zip(&unwritten).zip(&random_again) {
        // Random draws first: a seed gives the same new head every time.
        assert!(r.equal(again), "{name}: Random from one seed differs between loads");
        if name.starts_with("bert.") {
            // Everything read from the checkpoint is the same whichever way it started.
            assert!(r.equal(u), "{name}: loaded tensor depends on encoder_init");
        } else if !r.equal(u) {
            new_head_moved = true;
        }
    }
    // Checkpoint skips the encoder's draws, so the new head comes from a different part of the stream.
    assert!(new_head_moved, "the new head did not depend on encoder_init");
}
