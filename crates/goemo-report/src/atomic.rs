//! CSV tables, written atomically through goemo-fs's one CSV writer.

pub use goemo_fs::{write_atomic, write_csv_atomic, write_json_atomic};

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
