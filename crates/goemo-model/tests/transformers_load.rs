//! Checkpoints saved by goemo load in Python `transformers` (installed into the project's
//! virtualenv by set-up) and give goemo's probabilities, for every head on every architecture:
//! `transformers`' own heads with a plain `AutoModelForSequenceClassification.from_pretrained`,
//! goemo's heads through the `modeling_goemo.py` saved beside them and `trust_remote_code=True`;
//! a plain `from_pretrained` of a goemo head fails instead of loading another head, and its
//! `calibrated_probabilities` apply the checkpoint's `calibration.json` as goemo does.

use std::path::{Path, PathBuf};
use std::process::Command;

use goemo_calibration::{IsotonicFit, LabelCalibration, LabelCalibrator, MethodKind};
use goemo_data::{Batcher, HfTokenizer, Tokenize};
use goemo_model::{Calibrator, HeadKind, LoadOptions, SequenceClassifier, TensorBatch, TrainableModel, MODELING_FILE};
use tch::Device;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn saved_checkpoints_load_in_transformers() {
    let python = repo().join(".venv/bin/python");
    assert!(python.exists(), "{} is missing: run `make setup`", python.display());
    let texts = [
        "I love this so much!",
        "meh",
        "[NAME] why would you do that 😡 seriously, why",
    ];
    let out = tempfile::tempdir().unwrap();
    for name in ["tiny-bert", "tiny-distilbert", "tiny-roberta"] {
        for head in HeadKind::ALL {
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
            let options = LoadOptions {
                head: Some(head),
                ..LoadOptions::default()
            };
            tch::manual_seed(3);
            let model = SequenceClassifier::load(&source, Device::Cpu, &options).unwrap();
            let saved = model.save(out.path().join(format!("{name}-{head}"))).unwrap();
            assert_eq!(
                saved.join(MODELING_FILE).exists(),
                head != HeadKind::Standard,
                "{name} {head}: {MODELING_FILE}"
            );
            let tokenizer = HfTokenizer::from_file(source.join("tokenizer.json"), 128)
                .unwrap()
                .with_pad_id(model.config().pad_token_id as u32);
            let ids = tokenizer.encode_batch(&texts).unwrap();
            let batch = Batcher::new(&ids, tokenizer.pad_id()).batch(&[0, 1, 2]);
            let tensors = TensorBatch::new(&batch, Device::Cpu).unwrap();
            let probs = tch::no_grad(|| model.forward_t(&tensors, false).unwrap().sigmoid());
            let rows: Vec<Vec<f32>> = (0..3).map(|i| Vec::<f32>::try_from(probs.get(i)).unwrap()).collect();
            let mut case = serde_json::json!({
                "input_ids": batch.input_ids.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
                "attention_mask": batch.attention_mask.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
                "probabilities": rows,
                "goemo_head": head != HeadKind::Standard,
            });
            if head != HeadKind::Standard {
                // modeling_goemo.py applies the checkpoint's calibration.json as goemo does.
                let calibrator = mixed_calibrator(model.labels());
                calibrator.write_in(&saved).unwrap();
                let raw = ndarray::Array2::from_shape_vec((3, rows[0].len()), rows.concat()).unwrap();
                let calibrated = calibrator.apply(raw.view()).unwrap();
                case["calibrated_probabilities"] =
                    serde_json::json!(calibrated.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>());
            }
            let case_path = out.path().join(format!("{name}-{head}.json"));
            std::fs::write(&case_path, case.to_string()).unwrap();
            let run = Command::new(&python)
                .arg(repo().join("scripts/check_transformers_load.py"))
                .arg(&saved)
                .arg(&case_path)
                .env("HF_HUB_OFFLINE", "1")
                .output()
                .unwrap();
            let report = format!(
                "{}{}",
                String::from_utf8_lossy(&run.stdout),
                String::from_utf8_lossy(&run.stderr)
            );
            assert!(run.status.success(), "{name} {head}: {report}");
            assert!(
                report.contains("ForSequenceClassification: largest difference"),
                "{report}"
            );
            if head != HeadKind::Standard {
                assert!(
                    report.contains("plain from_pretrained refused"),
                    "{name} {head}: {report}"
                );
                assert!(
                    report.contains("calibrated probabilities: largest difference"),
                    "{report}"
                );
            }
        }
    }
}

/// A calibrator with every kind of map: labels take identity, temperature, Platt and isotonic in
/// turn.
fn mixed_calibrator(labels: &[String]) -> Calibrator {
    let isotonic_scores: Vec<f64> = (0..40).map(|i| f64::from(i) / 40.0).collect();
    let isotonic_outcomes: Vec<bool> = (0..40).map(|i| (i * 7) % 10 < i / 4).collect();
    Calibrator {
        method: MethodKind::Auto,
        examples: 40,
        labels: labels
            .iter()
            .enumerate()
            .map(|(i, label)| LabelCalibration {
                label: label.clone(),
                calibrator: match i % 4 {
                    0 => LabelCalibrator::Identity,
                    1 => LabelCalibrator::Temperature {
                        inverse_temperature: 0.7,
                    },
                    2 => LabelCalibrator::Platt {
                        slope: 1.3,
                        intercept: -0.4,
                    },
                    _ => LabelCalibrator::Isotonic {
                        fit: IsotonicFit::fit(&isotonic_scores, &isotonic_outcomes),
                        min: 0.02,
                        max: 0.98,
                    },
                },
                cv_log_loss: Default::default(),
                note: None,
            })
            .collect(),
    }
}
