//! Saving in Hugging Face format: `model.safetensors` with `{"format": "pt"}` metadata and a
//! `config.json` that `AutoModelForSequenceClassification.from_pretrained` reads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tch::{Device, Kind};

use crate::config::HeadKind;
use crate::error::{ModelError, Result};
use crate::model::SequenceClassifier;

/// Writes `bytes` to `path` through a temporary sibling and a rename, so that a crash leaves the
/// previous file intact.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| ModelError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ModelError::io(path, e)
    })
}

pub(crate) fn save(model: &SequenceClassifier, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let mut names: Vec<(String, Vec<u8>, Vec<usize>)> = Vec::new();
    let mut variables: Vec<_> = model.var_store().variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, tensor) in variables {
        let t = tensor.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        let values = Vec::<f32>::try_from(t.flatten(0, -1))?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        names.push((name, bytes, shape));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> =
        names
            .iter()
            .map(|(name, bytes, shape)| {
                let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .map_err(|e| ModelError::Safetensors {
                        path: dir.join("model.safetensors"),
                        message: format!("{name}: {e:?}"),
                    })?;
                Ok((name.clone(), view))
            })
            .collect::<Result<_>>()?;
    let metadata = Some(HashMap::from([("format".to_string(), "pt".to_string())]));
    let weights = safetensors::tensor::serialize(views, &metadata).map_err(|e| ModelError::Safetensors {
        path: dir.join("model.safetensors"),
        message: format!("{e:?}"),
    })?;
    write_atomic(&dir.join("model.safetensors"), &weights)?;

    let config = model.config();
    let mut raw = config.raw.clone();
    let labels = model.labels();
    raw.insert(
        "architectures".into(),
        json!([config.architecture.classification_class()]),
    );
    raw.insert(
        "id2label".into(),
        Value::Object(
            labels
                .iter()
                .enumerate()
                .map(|(i, l)| (i.to_string(), json!(l)))
                .collect(),
        ),
    );
    raw.insert(
        "label2id".into(),
        Value::Object(labels.iter().enumerate().map(|(i, l)| (l.clone(), json!(i))).collect()),
    );
    raw.insert("problem_type".into(), json!("multi_label_classification"));
    match model.head_kind() {
        HeadKind::Standard => {
            raw.remove("goemo_head");
        }
        other => {
            raw.insert(
                "goemo_head".into(),
                serde_json::to_value(other).expect("a unit enum serialises"),
            );
        }
    }
    let text = serde_json::to_string_pretty(&Value::Object(raw)).expect("a JSON object serialises");
    write_atomic(&dir.join("config.json"), text.as_bytes())?;
    Ok(dir.to_path_buf())
}

/// Copies the tokenizer files (`tokenizer.json`, `vocab.txt`, ...) that exist in `from` to `to`.
pub fn copy_tokenizer_files(from: &Path, to: &Path) -> Result<()> {
    for name in [
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
        "vocab.json",
        "merges.txt",
    ] {
        let source = from.join(name);
        if source.is_file() {
            let bytes = std::fs::read(&source).map_err(|e| ModelError::io(&source, e))?;
            write_atomic(&to.join(name), &bytes)?;
        }
    }
    Ok(())
}
