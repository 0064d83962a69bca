//! `EmotionClassifier` and model resolution on the tiny fixture checkpoints.

use std::path::{Path, PathBuf};
use std::time::Instant;

use goemo_model::{
    resolve_model, write_thresholds, ClassifierPool, EmotionClassifier, InferenceMode, LoadOptions, SequenceClassifier,
    ENSEMBLE_FILE,
};
use goemo_threshold::Thresholds;
use tch::Device;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[test]
fn predictions_come_back_in_input_order_with_stored_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("ckpt");
    std::fs::create_dir(&checkpoint).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture("tiny-distilbert").join(f), checkpoint.join(f)).unwrap();
    }
    let texts = [
        "a long text that goes on and on about how grateful I am for all of this, [NAME], really",
        "ok",
        "I'm so sad 😢",
        "Thanks!",
    ];
    let default = EmotionClassifier::load(checkpoint.to_str().unwrap()).unwrap();
    assert_eq!(default.thresholds(), &Thresholds::Global { threshold: 0.5 });
    let batched = default.probabilities(&texts).unwrap();
    // Batch size 1 sees each text alone: same numbers, so sorting and padding kept the order.
    let single = EmotionClassifier::load(checkpoint.to_str().unwrap())
        .unwrap()
        .with_batch_size(1);
    let alone = single.probabilities(&texts).unwrap();
    let worst = (&batched - &alone).mapv(f32::abs).fold(0.0f32, |a, &b| a.max(b));
    assert!(worst < 1e-5, "{worst}");

    // Per-class thresholds stored with the checkpoint decide the labels.
    let mut thresholds = vec![1.1; 28];
    thresholds[27] = 0.0; // neutral always
    write_thresholds(&checkpoint, &Thresholds::PerClass { thresholds }).unwrap();
    let fitted = EmotionClassifier::load(checkpoint.to_str().unwrap()).unwrap();
    let predictions = fitted.predict(&texts).unwrap();
    assert_eq!(predictions.len(), 4);
    assert!(predictions.iter().all(|p| p.labels == ["neutral"]));
    assert_eq!(predictions[1].scores[16].0, "grief");
    assert_eq!(predictions[2].scores[5].1, batched[[2, 5]]);
    assert!(fitted.predict(&[]).unwrap().is_empty());
}

#[test]
fn resolution_of_folders_and_hub_ids() {
    assert_eq!(
        resolve_model(fixture("tiny-bert").to_str().unwrap()).unwrap(),
        fixture("tiny-bert")
    );
    let empty = tempfile::tempdir().unwrap();
    let err = resolve_model(empty.path().to_str().unwrap()).unwrap_err().to_string();
    assert!(
        err.contains("missing config.json, model.safetensors, tokenizer.json"),
        "{err}"
    );

    // A Hub id found in the standard cache layout under HF_HOME is used without any network.
    let home = tempfile::tempdir().unwrap();
    let snapshot = home.path().join("hub/models--goemo--tiny/snapshots/abc123");
    std::fs::create_dir_all(&snapshot).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture("tiny-bert").join(f), snapshot.join(f)).unwrap();
    }
    std::fs::create_dir_all(home.path().join("hub/models--goemo--tiny/refs")).unwrap();
    std::fs::write(home.path().join("hub/models--goemo--tiny/refs/main"), "abc123").unwrap();
    // One test function changes the environment, so no other test in this process races it.
    std::env::set_var("HF_HOME", home.path());
    std::env::set_var("HF_HUB_OFFLINE", "1");
    assert_eq!(resolve_model("goemo/tiny").unwrap(), snapshot);
    let err = resolve_model("roberta-large").unwrap_err().to_string();
    assert!(
        err.contains("HF_HUB_OFFLINE") && err.contains("local checkpoint folder"),
        "{err}"
    );

    // Online but without a reachable Hub (as on this project's machines): a clear error, fast.
    std::env::remove_var("HF_HUB_OFFLINE");
    let start = Instant::now();
    let err = resolve_model("distilbert-base-uncased").unwrap_err().to_string();
    assert!(start.elapsed().as_secs_f64() < 12.0);
    assert!(err.contains("pass its local folder"), "{err}");
}

#[test]
fn single_label_checkpoints_get_a_softmax() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture("tiny-bert").join(f), dir.path().join(f)).unwrap();
    }
    let config = std::fs::read_to_string(fixture("tiny-bert").join("config.json")).unwrap();
    let config = config.replace("multi_label_classification", "single_label_classification");
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    let classifier = EmotionClassifier::load(dir.path().to_str().unwrap()).unwrap();
    let probs = classifier.probabilities(&["hello there", "no"]).unwrap();
    for row in probs.rows() {
        assert!((row.sum() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn an_ensemble_folder_averages_its_members_and_refuses_members_that_differ() {
    let dir = tempfile::tempdir().unwrap();
    let texts = ["I love this so much", "ok", "why would you do that"];
    // Member a: the fixture; member b: the same network with the labels' prior in its bias.
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let model = SequenceClassifier::load(fixture("tiny-distilbert"), Device::Cpu, &LoadOptions::default()).unwrap();
    model.save(&a).unwrap();
    let mut shifted =
        SequenceClassifier::load(fixture("tiny-distilbert"), Device::Cpu, &LoadOptions::default()).unwrap();
    shifted.set_label_prior(&[0.1; 28]).unwrap();
    shifted.save(&b).unwrap();
    for member in [&a, &b] {
        std::fs::copy(
            fixture("tiny-distilbert").join("tokenizer.json"),
            member.join("tokenizer.json"),
        )
        .unwrap();
    }
    let ensemble = dir.path().join("ensemble");
    std::fs::create_dir(&ensemble).unwrap();
    std::fs::write(ensemble.join(ENSEMBLE_FILE), r#"{"members": ["../a", "../b"]}"#).unwrap();
    write_thresholds(&ensemble, &Thresholds::Global { threshold: 0.3 }).unwrap();

    let load = |d: &Path| EmotionClassifier::load(d.to_str().unwrap());
    let (pa, pb) = (
        load(&a).unwrap().probabilities(&texts).unwrap(),
        load(&b).unwrap().probabilities(&texts).unwrap(),
    );
    assert!(
        (&pa - &pb).mapv(f32::abs).fold(0.0f32, |m, &v| m.max(v)) > 0.01,
        "the members differ"
    );
    let both = load(&ensemble).unwrap();
    assert_eq!(both.members().len(), 2);
    assert_eq!(both.thresholds(), &Thresholds::Global { threshold: 0.3 });
    let mean = both.probabilities(&texts).unwrap();
    let worst = (&mean - &((&pa + &pb) / 2.0))
        .mapv(f32::abs)
        .fold(0.0f32, |m, &v| m.max(v));
    assert!(worst < 1e-6, "{worst}");

    // Other labels, a missing member, an empty listing: errors naming the member or the file.
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("config.json")).unwrap()).unwrap();
    config["id2label"]["0"] = "delight".into();
    config.as_object_mut().unwrap().remove("label2id");
    std::fs::write(b.join("config.json"), config.to_string()).unwrap();
    let e = load(&ensemble).unwrap_err().to_string();
    assert!(e.contains("other labels") && e.contains("/b"), "{e}");
    std::fs::write(ensemble.join(ENSEMBLE_FILE), r#"{"members": ["../a", "../gone"]}"#).unwrap();
    let e = load(&ensemble).unwrap_err().to_string();
    assert!(e.contains("ensemble.json") && e.contains("gone"), "{e}");
    std::fs::write(ensemble.join(ENSEMBLE_FILE), r#"{"members": []}"#).unwrap();
    let e = load(&ensemble).unwrap_err().to_string();
    assert!(e.contains("no members"), "{e}");
}

/// A Platt map for every label of the tiny checkpoints: scores pulled down towards rarity.
fn platt(labels: &[String], slope: f64, intercept: f64) -> goemo_model::Calibrator {
    use goemo_calibration::{LabelCalibration, LabelCalibrator, MethodKind};
    goemo_model::Calibrator {
        method: MethodKind::Platt,
        examples: 100,
        labels: labels
            .iter()
            .map(|l| LabelCalibration {
                label: l.clone(),
                calibrator: LabelCalibrator::Platt { slope, intercept },
                cv_log_loss: Default::default(),
                note: None,
            })
            .collect(),
    }
}

#[test]
fn calibration_json_is_applied_and_kept_by_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let texts = ["I love this so much", "ok", "why would you do that"];
    let model = SequenceClassifier::load(fixture("tiny-distilbert"), Device::Cpu, &LoadOptions::default()).unwrap();
    let checkpoint = model.save(dir.path().join("ckpt")).unwrap();
    std::fs::copy(
        fixture("tiny-distilbert").join("tokenizer.json"),
        checkpoint.join("tokenizer.json"),
    )
    .unwrap();
    let load = |d: &Path| EmotionClassifier::load(d.to_str().unwrap()).unwrap();

    let raw = load(&checkpoint);
    assert!(!raw.is_calibrated(), "no calibration.json: raw sigmoids");
    let raw_probs = raw.probabilities_f64(&texts).unwrap();

    let calibrator = platt(model.labels(), 1.5, -2.0);
    calibrator.write_in(&checkpoint).unwrap();
    let calibrated = load(&checkpoint);
    assert!(calibrated.is_calibrated());
    assert_eq!(
        calibrated.calibrator(),
        Some(&calibrator),
        "calibration.json round trip"
    );
    let probs = calibrated.probabilities_f64(&texts).unwrap();
    assert_eq!(probs, calibrator.apply(raw_probs.view()).unwrap());
    assert!(
        probs.iter().zip(raw_probs.iter()).all(|(c, r)| c < r),
        "the map lowers every score"
    );
    assert_eq!(calibrated.predict(&texts).unwrap()[1].scores[3].1, probs[[1, 3]] as f32);

    // An ensemble calibrates each member with its own file, then the mean with its own.
    let ensemble = dir.path().join("ensemble");
    std::fs::create_dir(&ensemble).unwrap();
    std::fs::write(ensemble.join(ENSEMBLE_FILE), r#"{"members": ["../ckpt", "../ckpt"]}"#).unwrap();
    let top = platt(model.labels(), 0.8, 0.3);
    top.write_in(&ensemble).unwrap();
    let both = load(&ensemble);
    let want = top.apply(probs.view()).unwrap();
    let worst = (&both.probabilities_f64(&texts).unwrap() - &want)
        .mapv(f64::abs)
        .fold(0.0f64, |m, &v| m.max(v));
    assert!(worst < 1e-12, "{worst}");

    // `none` removes the file, so that the checkpoint says it is uncalibrated; a file for other
    // labels is an error naming it.
    goemo_model::Calibrator::identity(model.labels())
        .write_in(&checkpoint)
        .unwrap();
    assert!(!checkpoint.join(goemo_model::CALIBRATION_FILE).exists());
    let mut other = calibrator.clone();
    other.labels[0].label = "delight".into();
    other.write_in(&checkpoint).unwrap();
    let e = EmotionClassifier::load(checkpoint.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("calibration.json") && e.contains("delight"), "{e}");
}

#[test]
fn each_inference_mode_runs_near_fp32_and_says_what_it_runs() {
    let path = fixture("tiny-bert");
    let texts = ["I love this so much", "ugh, not again", "ok"];
    let load = || EmotionClassifier::load(path.to_str().unwrap()).unwrap();
    let fp32 = load().probabilities(&texts).unwrap();
    for mode in [InferenceMode::Fp32, InferenceMode::Bf16, InferenceMode::Int8] {
        let classifier = load().with_mode(mode).unwrap();
        assert_eq!(classifier.mode(), mode);
        // fp32 on the CPU runs oneDNN's packed layers; bf16 autocast and int8 their own.
        assert_eq!(classifier.model().is_packed(), mode == InferenceMode::Fp32, "{mode}");
        let line = classifier.describe_mode(mode);
        assert!(line.starts_with(&format!("inference: {mode} on cpu, ")), "{line}");
        let (fastest, _) = InferenceMode::fastest(Device::Cpu);
        assert_eq!(line.contains("--mode auto"), mode != fastest, "{line}");
        let probs = classifier.probabilities(&texts).unwrap();
        let worst = (&probs - &fp32).mapv(f32::abs).fold(0.0f32, |a, &b| a.max(b));
        assert!(worst < 0.02, "{mode}: probabilities differ from fp32 by {worst}");
    }
    let auto = load().with_mode(InferenceMode::Auto).unwrap();
    assert_eq!(auto.mode(), InferenceMode::fastest(Device::Cpu).0);
    assert!(auto.describe_mode(InferenceMode::Auto).contains("(auto: "));
}

#[test]
fn a_pool_of_workers_gives_one_classifiers_answers_in_input_order() {
    let path = fixture("tiny-distilbert");
    let p = path.to_str().unwrap().to_string();
    let texts: Vec<String> = (0..23)
        .map(|i| format!("text {i} {}", "so happy ".repeat(i % 7)))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let single = EmotionClassifier::load(&p).unwrap().with_batch_size(4);
    let pool = ClassifierPool::start(3, 1, move || Ok(EmotionClassifier::load(&p)?.with_batch_size(4))).unwrap();
    assert_eq!(pool.workers(), 3);
    assert!(pool.describe_mode(InferenceMode::Fp32).ends_with("; 3 workers"));
    let (ours, theirs) = (pool.probabilities(&refs).unwrap(), single.probabilities(&refs).unwrap());
    let worst = (&ours - &theirs).mapv(f32::abs).fold(0.0f32, |a, &b| a.max(b));
    assert!(worst < 1e-5, "{worst}");
    let labels = |p: Vec<goemo_model::Prediction>| p.into_iter().map(|p| p.labels).collect::<Vec<_>>();
    assert_eq!(
        labels(pool.predict(&refs).unwrap()),
        labels(single.predict(&refs).unwrap())
    );
    assert_eq!(pool.probabilities(&[]).unwrap().nrows(), 0);
    let err = ClassifierPool::start(2, 1, || EmotionClassifier::load("/nonexistent/checkpoint")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/checkpoint"), "{err}");
}

#[test]
fn static_shapes_give_the_dynamic_probabilities() {
    // 23 texts in batches of 4 (the last partial), lengths spread over several 16-token buckets.
    let texts: Vec<String> = (0..23)
        .map(|i| format!("text {i} {}", "so happy today ".repeat(i % 9)))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    for name in ["tiny-bert", "tiny-distilbert"] {
        let path = fixture(name);
        let load = || {
            EmotionClassifier::load(path.to_str().unwrap())
                .unwrap()
                .with_batch_size(4)
        };
        let dynamic = load().probabilities(&refs).unwrap();
        let fixed = load().with_cuda_graphs(true).unwrap();
        let probs = fixed.probabilities(&refs).unwrap();
        let worst = (&probs - &dynamic).mapv(f32::abs).fold(0.0f32, |a, &b| a.max(b));
        assert!(worst < 1e-5, "{name}: static shapes differ by {worst}");
        // On the CPU nothing is recorded; turning it off again restores dynamic padding.
        assert_eq!(fixed.graph_replays(), 0);
        let off = load().with_cuda_graphs(true).unwrap().with_cuda_graphs(false).unwrap();
        assert_eq!(off.probabilities(&refs).unwrap(), dynamic);
    }
}
