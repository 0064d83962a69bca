//! Atomic writes: temporary file in the same folder, flush, then rename.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{ReportError, Result};

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A temporary sibling of `path` that keeps its extension (chart encoders pick the format from it).
pub(crate) fn temporary_sibling(path: &Path) -> PathBuf {
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

/// Renames a finished temporary file over its destination.
pub(crate) fn commit(tmp: &Path, path: &Path) -> Result<()> {
    std::fs::rename(tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        io_error(path)(e)
    })
}

/// Writes a file by a callback on a buffered writer, atomically; parent folders are created.
pub fn write_atomic(path: impl AsRef<Path>, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let path = path.as_ref();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    let tmp = temporary_sibling(path);
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut out = std::io::BufWriter::new(file);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(path)(e));
    }
    commit(&tmp, path)
}

/// Writes a value as pretty JSON, atomically.
pub fn write_json_atomic<T: serde::Serialize + ?Sized>(path: impl AsRef<Path>, value: &T) -> Result<()> {
    let path = path.as_ref();
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| ReportError::Serialise {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(path, |w| {
        w.write_all(&bytes)?;
        w.write_all(b"\n")
    })
}

/// Writes a CSV table (a header and rows of fields), atomically.
pub fn write_csv_atomic<R, F>(path: impl AsRef<Path>, header: &[&str], rows: R) -> Result<()>
where
    R: IntoIterator,
    R::Item: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let path = path.as_ref();
    let mut buffer = Vec::new();
    {
        let mut csv = csv::Writer::from_writer(&mut buffer);
        let serialise = |e: csv::Error| ReportError::Serialise {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        csv.write_record(header).map_err(serialise)?;
        for row in rows {
            csv.write_record(row).map_err(serialise)?;
        }
        csv.flush().map_err(io_error(path))?;
    }
    write_atomic(path, |w| w.write_all(&buffer))
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
    fn csv_tables_quote_as_needed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/t.csv");
        write_csv_atomic(&path, &["label", "text"], [["joy", "a, b"]]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "label,text\njoy,\"a, b\"\n");
    }
}
