//! CSV tables, written atomically through goemo-fs.

use std::path::Path;

pub use goemo_fs::{write_atomic, write_json_atomic};

use crate::{ReportError, Result};

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
        csv.flush().map_err(|source| goemo_fs::FsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(write_atomic(path, |w| w.write_all(&buffer))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_tables_quote_as_needed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/t.csv");
        write_csv_atomic(&path, &["label", "text"], [["joy", "a, b"]]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "label,text\njoy,\"a, b\"\n");
    }
}
