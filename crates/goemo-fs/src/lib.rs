//! Atomic file writes: every file goemo writes (checkpoints, thresholds, metrics, tables,
//! charts, training state) goes to a temporary sibling, is flushed to disk, renamed over its
//! destination, and the folder is flushed too. A crash leaves either the previous file or the
//! new one, never half of one.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! goemo_fs::write_json_atomic(dir.path().join("metrics.json"), &serde_json::json!({"auc": 0.95}))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors of this crate; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// A file could not be written or renamed into place.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A value could not be serialised.
    #[error("cannot serialise {path}: {message}")]
    Serialise {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = FsError> = std::result::Result<T, E>;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> FsError + '_ {
    move |source| FsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A temporary sibling of `path` that keeps its extension (chart encoders pick the format
/// from it), hidden and unique to this process.
pub fn temporary_sibling(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{stem}.{}.tmp.{ext}", std::process::id()))
}

/// Flushes a finished temporary file to disk, renames it over `path` and flushes the folder, so
/// that the rename itself survives a crash. On failure the temporary file is removed.
pub fn commit(tmp: &Path, path: &Path) -> Result<()> {
    let result = File::open(tmp)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(tmp);
        return Err(io_error(path)(e));
    }
    sync_folder(path)
}

/// Flushes the folder holding `path` (its directory entry); a no-op where folders cannot be
/// opened as files.
fn sync_folder(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if cfg!(unix) {
        File::open(parent)
            .and_then(|f| f.sync_all())
            .map_err(io_error(parent))?;
    }
    Ok(())
}

/// Writes a file through a callback on a buffered writer, atomically; parent folders are
/// created.
pub fn write_atomic(path: impl AsRef<Path>, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let path = path.as_ref();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    let tmp = temporary_sibling(path);
    let result = (|| {
        let mut out = std::io::BufWriter::new(File::create(&tmp)?);
        write(&mut out)?;
        out.into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(path)(e));
    }
    commit(&tmp, path)
}

/// Writes bytes, atomically.
pub fn write_bytes_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| w.write_all(bytes))
}

/// Writes a value as pretty JSON with a final newline, atomically.
pub fn write_json_atomic<T: serde::Serialize + ?Sized>(path: impl AsRef<Path>, value: &T) -> Result<()> {
    let path = path.as_ref();
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| FsError::Serialise {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(path, |w| {
        w.write_all(&bytes)?;
        w.write_all(b"\n")
    })
}

/// Writes a CSV file atomically: `header`, then each row's fields (quoted as needed). The one
/// CSV writer of the workspace.
pub fn write_csv_atomic<R, F>(path: impl AsRef<Path>, header: &[&str], rows: R) -> Result<()>
where
    R: IntoIterator,
    R::Item: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let path = path.as_ref();
    let serialise = |e: csv::Error| FsError::Serialise {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(header).map_err(serialise)?;
    for row in rows {
        csv.write_record(row).map_err(serialise)?;
    }
    let bytes = csv.into_inner().map_err(|e| FsError::Serialise {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_bytes_atomic(path, &bytes)
}

/// Writes serde records as CSV atomically, the header from the first record's field names.
pub fn write_csv_records_atomic<T: serde::Serialize>(path: impl AsRef<Path>, records: &[T]) -> Result<()> {
    let path = path.as_ref();
    let serialise = |message: String| FsError::Serialise {
        path: path.to_path_buf(),
        message,
    };
    let mut csv = csv::Writer::from_writer(Vec::new());
    for record in records {
        csv.serialize(record).map_err(|e| serialise(e.to_string()))?;
    }
    let bytes = csv.into_inner().map_err(|e| serialise(e.to_string()))?;
    write_bytes_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_keeps_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.json");
        write_json_atomic(&path, &serde_json::json!({"auc": 0.9})).unwrap();
        let failed = write_atomic(&path, |w| {
            w.write_all(b"{\"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(failed.unwrap_err().to_string().contains("metrics.json"));
        let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(kept["auc"], 0.9);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn bytes_replace_the_file_and_create_folders() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/weights.bin");
        write_bytes_atomic(&path, b"one").unwrap();
        write_bytes_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
    }
}
