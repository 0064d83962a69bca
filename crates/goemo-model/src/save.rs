//! Saving in Hugging Face format: `model.safetensors` with `{"format": "pt"}` metadata and a
//! `config.json` that `AutoModelForSequenceClassification.from_pretrained` reads: directly for
//! `transformers`' own heads, through `modeling_goemo.py` and `trust_remote_code=True` for
//! goemo's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tch::{Device, Kind};

use crate::config::HeadKind;
use crate::error::{ModelError, Result};
use crate::model::SequenceClassifier;

/// The Python module that defines goemo's own heads for `transformers`.
pub const MODELING_FILE: &str = "modeling_goemo.py";
const MODELING_SOURCE: &str = include_str!("../python/modeling_goemo.py");

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
    goemo_fs::write_bytes_atomic(dir.join("model.safetensors"), &weights)?;

    let config = model.config();
    let mut raw = config.raw.clone();
    let labels = model.labels();
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
    let arch = config.architecture;
    match model.head_kind() {
        HeadKind::Standard => {
            raw.insert("model_type".into(), json!(arch.prefix()));
            raw.insert("architectures".into(), json!([arch.classification_class()]));
            raw.remove("goemo_head");
            raw.remove("auto_map");
        }
        // A head `transformers` does not have gets a model type and classes of its own, defined
        // in the `modeling_goemo.py` saved beside it: it loads with `trust_remote_code=True` and
        // gives goemo's probabilities, and a plain `from_pretrained` refuses it.
        other => {
            raw.insert("model_type".into(), json!(format!("goemo_{}", arch.prefix())));
            raw.insert("architectures".into(), json!([arch.goemo_class()]));
            raw.insert(
                "goemo_head".into(),
                serde_json::to_value(other).expect("a unit enum serialises"),
            );
            let module = MODELING_FILE.trim_end_matches(".py");
            raw.insert(
                "auto_map".into(),
                json!({
                    "AutoConfig": format!("{module}.{}", arch.goemo_config_class()),
                    "AutoModelForSequenceClassification": format!("{module}.{}", arch.goemo_class()),
                }),
            );
            goemo_fs::write_bytes_atomic(dir.join(MODELING_FILE), MODELING_SOURCE.as_bytes())?;
        }
    }
    let text = serde_json::to_string_pretty(&Value::Object(raw)).expect("a JSON object serialises");
    goemo_fs::write_bytes_atomic(dir.join("config.json"), text.as_bytes())?;
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
            goemo_fs::write_bytes_atomic(to.join(name), &bytes)?;
        }
    }
    Ok(())
}
