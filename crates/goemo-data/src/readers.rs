//! Readers: the GoEmotions TSV and a generic multi-label CSV.
//!
//! Both parse from bytes so that any input, however broken, becomes either examples or an error
//! that names the source and the line; a lenient mode skips bad rows and reports them instead.

use std::path::Path;

use crate::dataset::{Dataset, Example, Split};
use crate::error::{DataError, Result};
use crate::labels::LabelSet;

/// What to do with a malformed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// The first malformed row is an error (the default).
    #[default]
    Strict,
    /// Malformed rows are skipped and reported in [`ReadOutcome::skipped`].
    Lenient,
}

/// A row that lenient reading skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRow {
    /// Line number, counted from 1.
    pub line: usize,
    /// Why the row was rejected.
    pub reason: String,
}

/// The examples read from one source, and the rows skipped in lenient mode.
#[derive(Debug, Clone, Default)]
pub struct ReadOutcome {
    /// Rows read.
    pub examples: Vec<Example>,
    /// Rows skipped, with why.
    pub skipped: Vec<SkippedRow>,
}

impl ReadOutcome {
    fn reject(&mut self, mode: ReadMode, source_name: &str, line: usize, reason: String) -> Result<()> {
        match mode {
            ReadMode::Strict => Err(DataError::row(source_name, line, reason)),
            ReadMode::Lenient => {
                self.skipped.push(SkippedRow { line, reason });
                Ok(())
            }
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

/// Parses a comma-separated list of label ids or names into sorted, unique ids.
fn parse_label_list(field: &str, labels: &LabelSet) -> std::result::Result<Vec<usize>, String> {
    let mut ids = Vec::new();
    for token in field.split(',') {
        let token = token.trim();
        if token.is_empty() {
            return Err(format!("empty label in {field:?}"));
        }
        let id = if token.bytes().all(|b| b.is_ascii_digit()) {
            let id: usize = token
                .parse()
                .map_err(|_| format!("label id {token:?} is not a valid integer"))?;
            if id >= labels.len() {
                return Err(format!("label id {id} is out of range (0..{})", labels.len()));
            }
            id
        } else if let Some(id) = labels.id(token) {
            id
        } else if token.starts_with('-') || token.parse::<f64>().is_ok() {
            return Err(format!("label id {token:?} is not a non-negative integer"));
        } else {
            return Err(format!("unknown label {token:?}"));
        };
        ids.push(id);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Parses GoEmotions TSV bytes: `text<TAB>label ids<TAB>comment id` per line, no header.
///
/// A UTF-8 BOM and CRLF line ends are accepted; blank lines are skipped. Label ids must be
/// integers below `labels.len()`; texts and ids must not be empty.
pub fn parse_goemotions_tsv(bytes: &[u8], source_name: &str, labels: &LabelSet, mode: ReadMode) -> Result<ReadOutcome> {
    let mut out = ReadOutcome::default();
    for (i, raw) in strip_bom(bytes).split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t,
            Err(e) => {
                out.reject(
                    mode,
                    source_name,
                    line,
                    format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                )?;
                continue;
            }
        };
        match parse_tsv_row(text, labels) {
            Ok(example) => out.examples.push(example),
            Err(reason) => out.reject(mode, source_name, line, reason)?,
        }
    }
    Ok(out)
}

fn parse_tsv_row(row: &str, labels: &LabelSet) -> std::result::Result<Example, String> {
    let columns: Vec<&str> = row.split('\t').collect();
    if columns.len() != 3 {
        return Err(format!(
            "expected 3 tab-separated columns (text, label ids, id), found {}",
            columns.len()
        ));
    }
    let (text, ids, id) = (columns[0], columns[1], columns[2].trim());
    if text.trim().is_empty() {
        return Err("empty text".into());
    }
    if id.is_empty() {
        return Err("empty comment id".into());
    }
    if ids.trim().is_empty() {
        return Err("no label ids".into());
    }
    let label_ids = parse_label_list(ids, labels)?;
    Ok(Example {
        id: id.to_string(),
        text: text.to_string(),
        labels: label_ids,
    })
}

/// Reads a GoEmotions TSV file.
pub fn read_goemotions_tsv(path: impl AsRef<Path>, labels: &LabelSet, mode: ReadMode) -> Result<ReadOutcome> {
    let path = path.as_ref();
    parse_goemotions_tsv(&read_file(path)?, &path.display().to_string(), labels, mode)
}

/// A GoEmotions folder read into a [`Dataset`], with what lenient reading skipped per split.
#[derive(Debug, Clone)]
pub struct LoadedDataset {
    /// The splits read.
    pub dataset: Dataset,
    /// Skipped rows of train, dev and test, in that order.
    pub skipped: [Vec<SkippedRow>; 3],
}

/// Loads `train.tsv`, `dev.tsv`, `test.tsv` and the label names from a GoEmotions folder.
///
/// Label names come from `labels.txt` or `emotions.txt` (the name used upstream) when present,
/// otherwise the built-in 28 GoEmotions labels are used.
pub fn load_goemotions(dir: impl AsRef<Path>, mode: ReadMode) -> Result<LoadedDataset> {
    let dir = dir.as_ref();
    if !dir.is_dir() {
        return Err(DataError::File {
            source_name: dir.display().to_string(),
            message: "not a folder; run `make data` (scripts/setup.sh) to fetch GoEmotions".into(),
        });
    }
    let labels = ["labels.txt", "emotions.txt"]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
        .map(LabelSet::from_file)
        .transpose()?
        .unwrap_or_else(LabelSet::goemotions);
    let read = |split: Split| read_goemotions_tsv(dir.join(format!("{}.tsv", split.name())), &labels, mode);
    let (train, dev, test) = (read(Split::Train)?, read(Split::Dev)?, read(Split::Test)?);
    Ok(LoadedDataset {
        dataset: Dataset {
            labels: labels.clone(),
            train: train.examples,
            dev: dev.examples,
            test: test.examples,
        },
        skipped: [train.skipped, dev.skipped, test.skipped],
    })
}

impl LoadedDataset {
    /// One line per split that lost rows: how many, and the first one's line and reason.
    pub fn describe_skipped(&self) -> Vec<String> {
        Split::ALL
            .iter()
            .zip(&self.skipped)
            .filter_map(|(split, skipped)| {
                let first = skipped.first()?;
                Some(format!(
                    "{split}: skipped {} malformed rows (first: line {}: {})",
                    skipped.len(),
                    first.line,
                    first.reason
                ))
            })
            .collect()
    }
}

/// Where a CSV keeps its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvLabels {
    /// One column of comma-joined label names or ids (`"joy,love"` or `"17,18"`).
    Joined {
        /// The column.
        column: String,
    },
    /// One 0/1 column per label. `None`: every column other than the text and id columns.
    OneHot {
        /// The label columns; `None`: every column but the text's.
        columns: Option<Vec<String>>,
    },
}

/// How to read a bring-your-own multi-label CSV (with a header row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvSpec {
    /// The column holding the text.
    pub text_column: String,
    /// The id column; without one, ids are the 1-based data row numbers.
    pub id_column: Option<String>,
    /// Where the labels are.
    pub labels: CsvLabels,
    /// Field delimiter.
    pub delimiter: u8,
}

impl CsvSpec {
    /// A comma-delimited CSV with a `text` column and a `labels` column of joined names or ids.
    pub fn joined(text_column: &str, label_column: &str) -> Self {
        CsvSpec {
            text_column: text_column.into(),
            id_column: None,
            labels: CsvLabels::Joined {
                column: label_column.into(),
            },
            delimiter: b',',
        }
    }

    /// A comma-delimited CSV with a text column and one 0/1 column per label.
    pub fn one_hot(text_column: &str) -> Self {
        CsvSpec {
            text_column: text_column.into(),
            id_column: None,
            labels: CsvLabels::OneHot { columns: None },
            delimiter: b',',
        }
    }
}

/// Parses a multi-label CSV; returns the label set used and the examples.
///
/// For [`CsvLabels::Joined`] the label set must be given when labels are written as ids; when it
/// is `None`, it is the sorted set of names that appear. For [`CsvLabels::OneHot`] the label set is
/// the label columns in header order (a given label set must match them).
pub fn parse_csv(
    bytes: &[u8],
    source_name: &str,
    spec: &CsvSpec,
    labels: Option<&LabelSet>,
    mode: ReadMode,
) -> Result<(LabelSet, ReadOutcome)> {
    let file_error = |message: String| DataError::File {
        source_name: source_name.to_string(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(spec.delimiter)
        .has_headers(true)
        .flexible(true)
        .from_reader(strip_bom(bytes));
    let header = reader
        .byte_headers()
        .map_err(|e| file_error(format!("cannot read the header: {e}")))?
        .clone();
    let header: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8(h.to_vec()).map(|s| s.trim().to_string()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| DataError::row(source_name, 1, "invalid UTF-8 in the header"))?;
    if header.iter().all(String::is_empty) {
        return Err(file_error("no header row".into()));
    }
    let mut head = CsvHeader {
        columns: header,
        text_col: 0,
        id_col: None,
        source_name,
    };
    head.text_col = head.column(&spec.text_column)?;
    head.id_col = spec.id_column.as_deref().map(|c| head.column(c)).transpose()?;
    let (label_set, layout) = head.label_layout(bytes, spec, labels)?;
    let (text_col, id_col) = (head.text_col, head.id_col);

    let mut out = ReadOutcome::default();
    let mut record = csv::ByteRecord::new();
    let mut row_number = 0usize;
    loop {
        let line = reader.position().line() as usize;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line() as usize);
                // A CSV syntax error leaves the reader's state unknown: stop even in lenient mode.
                return Err(DataError::row(source_name, line, format!("CSV error: {e}")));
            }
        }
        let line = record.position().map_or(line, |p| p.line() as usize);
        row_number += 1;
        if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        match csv_row(&record, text_col, id_col, &layout, &label_set, row_number) {
            Ok(example) => out.examples.push(example),
            Err(reason) => out.reject(mode, source_name, line, reason)?,
        }
    }
    Ok((label_set, out))
}

/// What the header of a CSV says: its columns, and where the text and id are.
struct CsvHeader<'a> {
    columns: Vec<String>,
    text_col: usize,
    id_col: Option<usize>,
    source_name: &'a str,
}

impl CsvHeader<'_> {
    fn error(&self, message: String) -> DataError {
        DataError::File {
            source_name: self.source_name.to_string(),
            message,
        }
    }

    fn column(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| self.error(format!("no column {name:?} in header {:?}", self.columns)))
    }

    /// The label set and where the labels are: given, or inferred from the file.
    fn label_layout(&self, bytes: &[u8], spec: &CsvSpec, labels: Option<&LabelSet>) -> Result<(LabelSet, LabelLayout)> {
        match &spec.labels {
            CsvLabels::Joined { column: name } => {
                let col = self.column(name)?;
                let set = match labels {
                    Some(set) => set.clone(),
                    None => infer_joined_labels(bytes, spec.delimiter, col).map_err(|e| self.error(e))?,
                };
                Ok((set, LabelLayout::Joined(col)))
            }
            CsvLabels::OneHot { columns } => {
                let names: Vec<String> = match columns {
                    Some(cols) => cols.clone(),
                    None => self
                        .columns
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != self.text_col && Some(*i) != self.id_col)
                        .map(|(_, h)| h.clone())
                        .collect(),
                };
                let cols = names.iter().map(|n| self.column(n)).collect::<Result<Vec<_>>>()?;
                let set = LabelSet::new(names.clone()).map_err(|e| self.error(e.to_string()))?;
                if let Some(given) = labels.filter(|given| given.names() != set.names()) {
                    return Err(self.error(format!(
                        "label columns {:?} differ from the expected labels {:?}",
                        set.names(),
                        given.names()
                    )));
                }
                Ok((set, LabelLayout::OneHot(cols)))
            }
        }
    }
}

/// Column positions of the labels in a CSV record.
enum LabelLayout {
    Joined(usize),
    OneHot(Vec<usize>),
}

fn field<'r>(record: &'r csv::ByteRecord, col: usize, what: &str) -> std::result::Result<&'r str, String> {
    let bytes = record
        .get(col)
        .ok_or_else(|| format!("missing {what} column {} (row has {} columns)", col + 1, record.len()))?;
    std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8 in the {what} column at byte {}", e.valid_up_to()))
}

fn csv_row(
    record: &csv::ByteRecord,
    text_col: usize,
    id_col: Option<usize>,
    layout: &LabelLayout,
    labels: &LabelSet,
    row_number: usize,
) -> std::result::Result<Example, String> {
    let text = field(record, text_col, "text")?;
    if text.trim().is_empty() {
        return Err("empty text".into());
    }
    let id = match id_col {
        Some(col) => {
            let id = field(record, col, "id")?.trim();
            if id.is_empty() {
                return Err("empty id".into());
            }
            id.to_string()
        }
        None => row_number.to_string(),
    };
    let label_ids = match layout {
        LabelLayout::Joined(col) => {
            let value = field(record, *col, "labels")?;
            if value.trim().is_empty() {
                return Err("no labels".into());
            }
            parse_label_list(value, labels)?
        }
        LabelLayout::OneHot(cols) => {
            let mut ids = Vec::new();
            for (label, &col) in cols.iter().enumerate() {
                let name = labels.name(label).unwrap_or_default();
                match field(record, col, name)?.trim() {
                    "1" | "1.0" | "true" => ids.push(label),
                    "0" | "0.0" | "false" | "" => {}
                    other => return Err(format!("column {name:?} must be 0 or 1, found {other:?}")),
                }
            }
            ids
        }
    };
    Ok(Example {
        id,
        text: text.to_string(),
        labels: label_ids,
    })
}

/// The sorted label names that appear in a joined-labels column.
fn infer_joined_labels(bytes: &[u8], delimiter: u8, col: usize) -> std::result::Result<LabelSet, String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(strip_bom(bytes));
    let mut names = std::collections::BTreeSet::new();
    for record in reader.byte_records() {
        let Ok(record) = record else { continue };
        let Some(Ok(value)) = record.get(col).map(std::str::from_utf8) else {
            continue;
        };
        for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if token.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "labels are given as ids ({token:?}): pass the label names (a labels file) to read them"
                ));
            }
            names.insert(token.to_string());
        }
    }
    LabelSet::new(names).map_err(|e| e.to_string())
}

/// Reads a multi-label CSV file; see [`parse_csv`].
pub fn read_csv(
    path: impl AsRef<Path>,
    spec: &CsvSpec,
    labels: Option<&LabelSet>,
    mode: ReadMode,
) -> Result<(LabelSet, ReadOutcome)> {
    let path = path.as_ref();
    parse_csv(&read_file(path)?, &path.display().to_string(), spec, labels, mode)
}
