//! The checkpoint loader on corrupted input: mutated or truncated `model.safetensors`, a
//! `config.json` with wrong types, missing keys or absurd sizes, a tokenizer that does not
//! parse. Every case is an error naming the file (and the field or tensor), never a panic.
//! Property tests mutate the tiny real checkpoint; the fixed cases below are the corpus that
//! earlier fuzzing found worth keeping.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use goemo_model::{EmotionClassifier, LoadOptions, SequenceClassifier};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Value};
use tch::Device;

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-bert")
}

/// A copy of the tiny checkpoint in a fresh folder, with `edit` applied to its files.
fn checkpoint(edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(tiny().join(f), dir.path().join(f)).unwrap();
    }
    edit(dir.path());
    dir
}

/// Loads the folder; a panic fails the test, an error must name `file`.
fn load_fails_cleanly_or_loads(dir: &Path, file: &str) -> Result<(), String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        SequenceClassifier::load(dir, Device::Cpu, &LoadOptions::default()).map(|_| ())
    }));
    match outcome {
        Err(_) => Err("the loader panicked".into()),
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if e.to_string().contains(file) => Ok(()),
        Ok(Err(e)) => Err(format!("the error does not name {file}: {e}")),
    }
}

fn edit_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) {
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(config.as_object_mut().unwrap());
    std::fs::write(path, config.to_string()).unwrap();
}

const KEYS: [&str; 10] = [
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
    "pad_token_id",
    "hidden_dropout_prob",
    "id2label",
];

fn odd_values() -> Vec<Value> {
    vec![
        json!(-1),
        json!(0),
        json!(3),
        json!(1e12),
        json!(u64::MAX),
        json!("32"),
        json!(null),
        json!([1, 2]),
        json!({"0": 7}),
        json!(0.5),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn mutated_weights_are_errors_not_panics(
        flips in prop::collection::vec((any::<Index>(), any::<u8>()), 1..6),
        cut in prop::option::of(any::<Index>()),
    ) {
        let dir = checkpoint(|d| {
            let path = d.join("model.safetensors");
            let mut bytes = std::fs::read(&path).unwrap();
            // The header (its length and JSON) is where a flip changes what is read.
            let header = (u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize + 8).min(bytes.len());
            for (at, value) in &flips {
                let i = at.index(header);
                bytes[i] = *value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            std::fs::write(path, bytes).unwrap();
        });
        prop_assert_eq!(load_fails_cleanly_or_loads(dir.path(), "model.safetensors"), Ok(()));
    }

    #[test]
    fn configs_with_wrong_types_or_sizes_are_errors_not_panics(
        key in prop::sample::select(KEYS.to_vec()),
        value in prop::sample::select(odd_values()),
        remove in any::<bool>(),
    ) {
        let dir = checkpoint(|d| edit_config(d, |c| {
            if remove {
                c.remove(key);
            } else {
                c.insert(key.to_string(), value.clone());
            }
        }));
        let result = load_fails_cleanly_or_loads(dir.path(), "");
        prop_assert_eq!(result, Ok(()));
    }
}

/// A change to a checkpoint folder.
type Edit = dyn Fn(&Path);

#[test]
fn the_corpus_of_bad_files_gives_errors_that_name_the_file() {
    let cases: Vec<(&str, Box<Edit>)> = vec![
        (
            "model.safetensors",
            Box::new(|d| std::fs::write(d.join("model.safetensors"), b"").unwrap()),
        ),
        (
            "model.safetensors",
            Box::new(|d| std::fs::write(d.join("model.safetensors"), [0xff; 16]).unwrap()),
        ),
        (
            "model.safetensors",
            Box::new(|d| {
                let bytes = std::fs::read(d.join("model.safetensors")).unwrap();
                std::fs::write(d.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
            }),
        ),
        (
            "config.json",
            Box::new(|d| std::fs::write(d.join("config.json"), "{\"model_type\": ").unwrap()),
        ),
        (
            "config.json",
            Box::new(|d| {
                edit_config(d, |c| {
                    c.insert("hidden_size".into(), json!(1_000_000_000));
                });
            }),
        ),
        (
            "config.json",
            Box::new(|d| {
                edit_config(d, |c| {
                    c.insert("num_attention_heads".into(), json!(0));
                });
            }),
        ),
        (
            "config.json",
            Box::new(|d| {
                edit_config(d, |c| {
                    c.insert("id2label".into(), json!({"0": 1}));
                });
            }),
        ),
        (
            "config.json",
            Box::new(|d| {
                edit_config(d, |c| {
                    c.remove("vocab_size");
                });
            }),
        ),
    ];
    for (file, edit) in cases {
        let dir = checkpoint(|d| edit(d));
        let err = SequenceClassifier::load(dir.path(), Device::Cpu, &LoadOptions::default())
            .err()
            .unwrap_or_else(|| panic!("a bad {file} loaded"))
            .to_string();
        assert!(err.contains(file), "{err}");
    }
    let dir = checkpoint(|d| std::fs::write(d.join("tokenizer.json"), "{\"version\": ").unwrap());
    let err = EmotionClassifier::load(dir.path().to_str().unwrap())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
}
