//! int8 quantization of the encoder (one activation scale per token): outputs stay within stated
//! bounds of the float model's on the tiny fixtures of every architecture, all-MiniLM-L6-v2 moves
//! as much as under the same scheme written in plain PyTorch (and less than under PyTorch's own
//! per-batch quantize_dynamic), and the combinations that cannot work are errors.

use std::path::{Path, PathBuf};

mod common;

use goemo_model::{LoadOptions, Precision, Quantization, SequenceClassifier, TensorBatch, TrainableModel};
use tch::{Device, Kind, Tensor};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn texts() -> Vec<String> {
    let parity: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("parity.json")).unwrap()).unwrap();
    serde_json::from_value(parity["texts"].clone()).unwrap()
}

fn batch(model: &SequenceClassifier, dir: &Path, texts: &[String]) -> TensorBatch {
    common::encode(model, dir, texts).1
}

/// Probabilities of the float model and of the same model quantized.
fn float_and_int8(dir: &Path, texts: &[String]) -> (Tensor, Tensor) {
    let mut model = SequenceClassifier::load(dir, Device::Cpu, &LoadOptions::default()).unwrap();
    let b = batch(&model, dir, texts);
    let float = tch::no_grad(|| model.forward_t(&b, false).unwrap().sigmoid());
    model.set_quantization(Quantization::Int8).unwrap();
    assert_eq!(model.quantization(), Quantization::Int8);
    let int8 = tch::no_grad(|| model.forward_t(&b, false).unwrap().sigmoid());
    (float, int8)
}

#[test]
fn int8_probabilities_stay_near_float_on_every_architecture() {
    for name in ["tiny-bert", "tiny-distilbert", "tiny-roberta"] {
        let (float, int8) = float_and_int8(&fixtures().join(name), &texts());
        let worst = (&int8 - &float).abs().max().double_value(&[]);
        assert!(worst < 0.01, "{name}: int8 probabilities differ by {worst}");
        assert!(worst > 0.0, "{name}: the int8 path ran the float weights");
    }
}

#[test]
fn int8_minilm_hidden_states_point_where_the_float_ones_do() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/models/all-MiniLM-L6-v2");
    let mut model = SequenceClassifier::load(&dir, Device::Cpu, &LoadOptions::default()).unwrap();
    let texts = texts();
    let b = batch(&model, &dir, &texts);
    let hidden =
        |m: &SequenceClassifier| tch::no_grad(|| m.hidden_states(&b.input_ids, &b.attention_mask, false).unwrap());
    let float = hidden(&model);
    model.set_quantization(Quantization::Int8).unwrap();
    let int8 = hidden(&model);
    // Cosine similarity of each real token's vector.
    let cosine = Tensor::cosine_similarity(&float, &int8, -1, 1e-8);
    let mask = b.attention_mask.to_kind(Kind::Bool);
    let real = cosine.masked_select(&mask);
    let worst = real.min().double_value(&[]);
    let mean = real.mean(Kind::Float).double_value(&[]);
    // The same as the scheme written in plain PyTorch on the same texts
    // (scripts/make_quantized_fixture.py): the same scales and roundings, exact integer products.
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("quantized.json")).unwrap()).unwrap();
    let number = |key: &str| reference[key].as_f64().unwrap();
    let (want_worst, want_mean) = (number("minilm_cosine_min"), number("minilm_cosine_mean"));
    assert!(
        (worst - want_worst).abs() < 1e-3 && (mean - want_mean).abs() < 2e-4,
        "cosine similarity: worst {worst}, mean {mean}; the PyTorch reference: {want_worst}, {want_mean}"
    );
    // Closer to float than one activation range per batch.
    assert!(worst > number("quantize_dynamic_cosine_min") && mean > number("quantize_dynamic_cosine_mean"));
}

#[test]
fn quantization_refuses_what_cannot_work() {
    let dir = fixtures().join("tiny-bert");
    let mut model = SequenceClassifier::load(&dir, Device::Cpu, &LoadOptions::default()).unwrap();
    model.set_precision(Precision::Bf16).unwrap();
    let err = model.set_quantization(Quantization::Int8).unwrap_err().to_string();
    assert!(err.contains("fp32"), "{err}");
    model.set_precision(Precision::Fp32).unwrap();
    model.set_quantization(Quantization::Int8).unwrap();
    let b = batch(&model, &dir, &texts());
    let err = model.forward_t(&b, true).unwrap_err().to_string();
    assert!(err.contains("inference only"), "{err}");
    let err = model.set_quantization(Quantization::None).unwrap_err().to_string();
    assert!(err.contains("cannot be undone"), "{err}");
    assert!("int4".parse::<Quantization>().unwrap_err().to_string().contains("int4"));
}
