//! Model resolution: a local checkpoint folder, or a Hub id found in (or fetched into) the
//! standard Hugging Face cache.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use crate::error::{ModelError, Result};

/// Files a checkpoint folder needs.
pub const REQUIRED_FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// Files a checkpoint folder needs when its tokenizer is given in code (a [`goemo_data::Tokenize`]
/// of one's own) rather than read from `tokenizer.json`.
pub const WEIGHT_FILES: [&str; 2] = ["config.json", "model.safetensors"];

/// How long a Hub download may take to answer before goemo gives up and says so.
pub const HUB_TIMEOUT: Duration = Duration::from_secs(10);

/// The Hugging Face cache folder: `HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`.
pub fn hub_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HF_HUB_CACHE") {
        return dir.into();
    }
    if let Some(home) = std::env::var_os("HF_HOME") {
        return PathBuf::from(home).join("hub");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("huggingface").join("hub")
}

/// True when `HF_HUB_OFFLINE` is set to a true value: the cache only, no network.
pub fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "TRUE" | "yes"))
}

fn missing_files(dir: &Path, files: &[&'static str]) -> Vec<&'static str> {
    files.iter().copied().filter(|f| !dir.join(f).is_file()).collect()
}

/// A local folder as it is, or a Hub id (`roberta-large`, `org/name`) from the cache or the Hub.
pub fn resolve_model(path_or_id: &str) -> Result<PathBuf> {
    resolve_with(path_or_id, &REQUIRED_FILES)
}

/// [`resolve_model`] for a checkpoint whose tokenizer is given in code: [`WEIGHT_FILES`] suffice.
pub fn resolve_weights(path_or_id: &str) -> Result<PathBuf> {
    resolve_with(path_or_id, &WEIGHT_FILES)
}

fn resolve_with(path_or_id: &str, files: &[&'static str]) -> Result<PathBuf> {
    let path = Path::new(path_or_id);
    if path.is_dir() {
        let missing = missing_files(path, files);
        if !missing.is_empty() {
            return Err(ModelError::Config {
                path: path.into(),
                message: format!("not a checkpoint folder: missing {}", missing.join(", ")),
            });
        }
        return Ok(path.into());
    }
    let looks_like_id = !path_or_id.is_empty()
        && path_or_id.split('/').count() <= 2
        && path_or_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && !path_or_id.starts_with('.')
        && !path_or_id.starts_with('/');
    if !looks_like_id {
        return Err(ModelError::Config {
            path: path.into(),
            message: "no such folder".into(),
        });
    }
    let cache = hub_cache_dir();
    let cached = hf_hub::Cache::new(cache.clone()).model(path_or_id.to_string());
    let from_cache: Option<Vec<PathBuf>> = files.iter().map(|f| cached.get(f)).collect();
    if let Some(files) = from_cache {
        return Ok(files[0].parent().expect("a file in a snapshot folder").to_path_buf());
    }
    if offline() {
        return Err(ModelError::Config {
            path: path.into(),
            message: format!(
                "not a local folder and not in the Hugging Face cache {} (HF_HUB_OFFLINE is set); pass a local checkpoint folder",
                cache.display()
            ),
        });
    }
    download(path_or_id, cache, files)
}

fn download(id: &str, cache: PathBuf, files: &[&'static str]) -> Result<PathBuf> {
    let hint = format!(
        "download {id} elsewhere and pass its local folder ({})",
        files.join(", ")
    );
    let files = files.to_vec();
    let (tx, rx) = mpsc::channel();
    let owned = id.to_string();
    std::thread::spawn(move || {
        let result = (|| -> std::result::Result<PathBuf, String> {
            let api = hf_hub::api::sync::ApiBuilder::new()
                .with_cache_dir(cache)
                .with_progress(false)
                .build()
                .map_err(|e| e.to_string())?;
            let repo = api.model(owned);
            let mut folder = None;
            for file in files {
                let got = repo.get(file).map_err(|e| format!("{file}: {e}"))?;
                folder = got.parent().map(Path::to_path_buf);
            }
            folder.ok_or_else(|| "empty download".to_string())
        })();
        let _ = tx.send(result);
    });
    match rx.recv_timeout(HUB_TIMEOUT) {
        Ok(Ok(dir)) => Ok(dir),
        Ok(Err(e)) => Err(ModelError::Config {
            path: id.into(),
            message: format!("not a local folder, and the Hugging Face Hub download failed ({e}); {hint}"),
        }),
        Err(_) => Err(ModelError::Config {
            path: id.into(),
            message: format!(
                "not a local folder, and the Hugging Face Hub did not answer within {} s; {hint}",
                HUB_TIMEOUT.as_secs()
            ),
        }),
    }
}
