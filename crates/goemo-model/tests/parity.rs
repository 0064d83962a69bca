//! Outputs equal Python `transformers`' on the same weights (fixtures made by
//! `scripts/make_model_fixtures.py`): tiny random BERT, DistilBERT and RoBERTa classifiers, and
//! the real all-MiniLM-L6-v2 encoder that set-up unpacks.

use std::path::{Path, PathBuf};

mod common;

use goemo_model::{HeadKind, LoadOptions, ModelError, SequenceClassifier, TrainableModel};
use serde_json::Value;
use tch::{Device, Kind, Tensor};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn parity() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("parity.json")).unwrap()).unwrap()
}

/// Probabilities of `texts` in one padded batch, and the token ids.
fn probabilities(model: &SequenceClassifier, dir: &Path, texts: &[String]) -> (Vec<Vec<u32>>, Vec<Vec<f32>>) {
    let (ids, batch) = common::encode(model, dir, texts);
    let probs = tch::no_grad(|| model.forward_t(&batch, false).unwrap().sigmoid());
    let probs: Vec<Vec<f32>> = (0..texts.len())
        .map(|i| Vec::<f32>::try_from(probs.get(i as i64)).unwrap())
        .collect();
    (ids, probs)
}

#[test]
fn tiny_classifiers_equal_transformers() {
    let fixture = parity();
    let texts: Vec<String> = serde_json::from_value(fixture["texts"].clone()).unwrap();
    // Unpacked (libtorch's linear), then packed for oneDNN (EmotionClassifier's CPU path).
    for (name, packed) in ["tiny-bert", "tiny-distilbert", "tiny-roberta"]
        .into_iter()
        .flat_map(|name| [(name, false), (name, true)])
    {
        let dir = fixtures().join(name);
        let mut model = SequenceClassifier::load(&dir, Device::Cpu, &LoadOptions::default()).unwrap();
        if packed {
            assert!(model.pack_fp32().unwrap() && model.is_packed(), "{name}: not packed");
        }
        let name = format!("{name}{}", if packed { " packed" } else { "" });
        let name = name.as_str();
        assert_eq!(model.labels().len(), 28);
        assert_eq!(model.labels()[27], "neutral");
        let (ids, probs) = probabilities(&model, &dir, &texts);
        let want_ids: Vec<Vec<u32>> =
            serde_json::from_value(fixture["models"][name.trim_end_matches(" packed")]["input_ids"].clone()).unwrap();
        assert_eq!(ids, want_ids, "{name}: token ids");
        assert!(
            ids.iter().any(|t| t.len() == 128),
            "{name}: one text is truncated at 128"
        );
        let want: Vec<Vec<f32>> =
            serde_json::from_value(fixture["models"][name.trim_end_matches(" packed")]["probabilities"].clone())
                .unwrap();
        let worst = probs
            .iter()
            .flatten()
            .zip(want.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{name}: largest difference {worst}");
        if packed {
            // The packed copies would not follow the weights' updates.
            let (_, batch) = common::encode(&model, &dir, &texts);
            let err = model.forward_t(&batch, true).unwrap_err().to_string();
            assert!(err.contains("inference only"), "{name}: {err}");
        }
    }
}

#[test]
fn minilm_hidden_state_equals_transformers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/models/all-MiniLM-L6-v2");
    assert!(dir.exists(), "{} is missing: run `make setup`", dir.display());
    let options = LoadOptions {
        head: Some(HeadKind::MeanPooling),
        ..LoadOptions::default()
    };
    let mut model = SequenceClassifier::load(&dir, Device::Cpu, &options).unwrap();
    let fixture = Tensor::read_safetensors(fixtures().join("minilm_hidden.safetensors")).unwrap();
    let get = |name: &str| fixture.iter().find(|(n, _)| n == name).unwrap().1.shallow_clone();
    let (ids, mask, want) = (get("input_ids"), get("attention_mask"), get("last_hidden_state"));
    // Compare real tokens only: what padded positions hold is not used by anything.
    let real = mask.unsqueeze(-1).to_kind(Kind::Float);
    for packed in [false, true] {
        if packed {
            assert!(model.pack_fp32().unwrap());
        }
        let hidden = tch::no_grad(|| model.hidden_states(&ids, &mask, false).unwrap());
        let worst = ((hidden - &want) * &real).abs().max().double_value(&[]);
        assert!(worst < 1e-4, "packed {packed}: largest difference {worst}");
    }
}

#[test]
fn save_then_load_gives_the_same_outputs_bit_for_bit() {
    let fixture = parity();
    let texts: Vec<String> = serde_json::from_value(fixture["texts"].clone()).unwrap();
    let out = tempfile::tempdir().unwrap();
    for (name, head) in [("tiny-roberta", None), ("tiny-bert", Some(HeadKind::MeanPooling))] {
        let dir = fixtures().join(name);
        let options = LoadOptions {
            head,
            ..LoadOptions::default()
        };
        let model = SequenceClassifier::load(&dir, Device::Cpu, &options).unwrap();
        let saved = model.save(out.path().join(name)).unwrap();
        goemo_model::copy_tokenizer_files(&dir, &saved).unwrap();
        let config: Value = serde_json::from_str(&std::fs::read_to_string(saved.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["problem_type"], "multi_label_classification");
        assert_eq!(config["id2label"]["16"], "grief");
        assert_eq!(config["label2id"]["grief"], 16);
        let reloaded = SequenceClassifier::load(&saved, Device::Cpu, &LoadOptions::default()).unwrap();
        assert_eq!(
            reloaded.head_kind(),
            head.unwrap_or(HeadKind::Standard),
            "the head is recorded"
        );
        assert_eq!(
            probabilities(&model, &dir, &texts).1,
            probabilities(&reloaded, &saved, &texts).1
        );
    }
}

fn rewrite_weights(from: &Path, to: &Path, change: impl Fn(Vec<(String, Tensor)>) -> Vec<(String, Tensor)>) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(from.join("config.json"), to.join("config.json")).unwrap();
    let tensors = change(Tensor::read_safetensors(from.join("model.safetensors")).unwrap());
    Tensor::write_safetensors(&tensors, to.join("model.safetensors")).unwrap();
}

#[test]
fn checkpoint_problems_name_the_tensors() {
    let source = fixtures().join("tiny-bert");
    let tmp = tempfile::tempdir().unwrap();
    let dir = |n: &str| tmp.path().join(n);

    rewrite_weights(&source, &dir("missing"), |t| {
        t.into_iter()
            .filter(|(n, _)| n != "bert.encoder.layer.1.output.dense.weight")
            .collect()
    });
    let err = SequenceClassifier::load(dir("missing"), Device::Cpu, &LoadOptions::default()).unwrap_err();
    assert!(matches!(err, ModelError::MissingTensors { .. }), "{err}");
    assert!(
        err.to_string().contains("bert.encoder.layer.1.output.dense.weight"),
        "{err}"
    );

    rewrite_weights(&source, &dir("unexpected"), |mut t| {
        t.push((
            "bert.encoder.layer.7.extra".into(),
            Tensor::zeros([2], (Kind::Float, Device::Cpu)),
        ));
        t
    });
    let err = SequenceClassifier::load(dir("unexpected"), Device::Cpu, &LoadOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("unexpected tensors") && err.to_string().contains("layer.7.extra"),
        "{err}"
    );

    rewrite_weights(&source, &dir("shape"), |t| {
        t.into_iter()
            .map(|(n, w)| {
                if n == "classifier.weight" {
                    (n, w.narrow(0, 0, 10))
                } else {
                    (n, w)
                }
            })
            .collect()
    });
    let err = SequenceClassifier::load(dir("shape"), Device::Cpu, &LoadOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("classifier.weight has shape [10, 32], the model expects [28, 32]"),
        "{err}"
    );

    // A base encoder (no head in the file, old LayerNorm names, no prefix) gets a new head.
    rewrite_weights(&source, &dir("base"), |t| {
        t.into_iter()
            .filter(|(n, _)| !n.starts_with("classifier.") && !n.contains("pooler"))
            .map(|(n, w)| {
                (
                    n.trim_start_matches("bert.")
                        .replace("LayerNorm.weight", "LayerNorm.gamma"),
                    w,
                )
            })
            .collect()
    });
    let model = SequenceClassifier::load(dir("base"), Device::Cpu, &LoadOptions::default()).unwrap();
    assert_eq!(model.labels().len(), 28);

    // fp16 weights load into f32.
    rewrite_weights(&source, &dir("half"), |t| {
        t.into_iter().map(|(n, w)| (n, w.to_kind(Kind::Half))).collect()
    });
    let half = SequenceClassifier::load(dir("half"), Device::Cpu, &LoadOptions::default()).unwrap();
    let full = SequenceClassifier::load(&source, Device::Cpu, &LoadOptions::default()).unwrap();
    let texts = vec!["so happy for you".to_string()];
    let (a, b) = (
        probabilities(&half, &source, &texts).1,
        probabilities(&full, &source, &texts).1,
    );
    assert!(a[0].iter().zip(&b[0]).all(|(x, y)| (x - y).abs() < 1e-2));
}
