//! Checkpoints saved by goemo load in Python `transformers` (installed into the project's
//! virtualenv by set-up) with `AutoModelForSequenceClassification.from_pretrained`, and give the
//! same probabilities.

use std::path::{Path, PathBuf};
use std::process::Command;

use goemo_data::{Batcher, HfTokenizer, Tokenize};
use goemo_model::{batch_tensors, LoadOptions, SequenceClassifier};
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
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        let model = SequenceClassifier::load(&source, Device::Cpu, &LoadOptions::default()).unwrap();
        let saved = model.save(out.path().join(name)).unwrap();
        let tokenizer = HfTokenizer::from_file(source.join("tokenizer.json"), 128)
            .unwrap()
            .with_pad_id(model.config().pad_token_id as u32);
        let ids = tokenizer.encode_batch(&texts).unwrap();
        let batch = Batcher::new(&ids, tokenizer.pad_id()).batch(&[0, 1, 2]);
        let (input_ids, mask, _) = batch_tensors(&batch, Device::Cpu).unwrap();
        let probs = tch::no_grad(|| model.forward(&input_ids, &mask, None, false).sigmoid());
        let rows: Vec<Vec<f32>> = (0..3).map(|i| Vec::<f32>::try_from(probs.get(i)).unwrap()).collect();
        let case = serde_json::json!({
            "input_ids": batch.input_ids.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
            "attention_mask": batch.attention_mask.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
            "probabilities": rows,
        });
        let case_path = out.path().join(format!("{name}.json"));
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
        assert!(run.status.success(), "{name}: {report}");
        assert!(
            report.contains("ForSequenceClassification: largest difference"),
            "{report}"
        );
    }
}
