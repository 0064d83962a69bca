//! Score and target matrices in CSV: one column per label, an optional header of label names;
//! and the trainer's prediction files (`id,text,true_labels,pred_labels,<one column per label>`).

use std::path::Path;

use ndarray::{Array2, ArrayView2};

use crate::error::{DataError, Result};

/// The leading columns of a prediction file, before one probability column per label.
pub const PREDICTION_COLUMNS: [&str; 4] = ["id", "text", "true_labels", "pred_labels"];

/// A matrix read from CSV, with the label names of its header when it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledMatrix {
    /// Column names, when the file has a header.
    pub labels: Option<Vec<String>>,
    /// The values, one row per line.
    pub values: Array2<f64>,
}

/// A prediction file: per example its id, text, true and predicted labels, and every label's
/// probability.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionFile {
    /// Label names, in column order.
    pub labels: Vec<String>,
    /// Example ids.
    pub ids: Vec<String>,
    /// Example texts.
    pub texts: Vec<String>,
    /// N×C probabilities, each in [0, 1].
    pub scores: Array2<f64>,
    /// N×C multi-hot targets from `true_labels`.
    pub targets: Array2<f64>,
    /// N×C labels the run predicted (`pred_labels`: its deployed thresholds).
    pub predicted: Array2<bool>,
}

/// The rows of a prediction file to write: every slice and matrix has one row per example.
#[derive(Debug, Clone, Copy)]
pub struct PredictionRows<'a> {
    /// Label names, in column order.
    pub labels: &'a [String],
    /// Example ids.
    pub ids: &'a [String],
    /// Example texts.
    pub texts: &'a [String],
    /// True labels.
    pub targets: ArrayView2<'a, bool>,
    /// Predicted labels.
    pub predicted: ArrayView2<'a, bool>,
    /// Written at full f64 precision (shortest round-trip form), so that a file read back gives
    /// the very values its run decided on.
    pub probabilities: ArrayView2<'a, f64>,
}

/// Writes a prediction file (`id,text,true_labels,pred_labels,<labels>`, label lists
/// comma-joined names), atomically: the one writer of the format [`read_prediction_csv`] reads.
pub fn write_prediction_csv(path: &Path, rows: &PredictionRows<'_>) -> Result<()> {
    let (n, c) = (rows.ids.len(), rows.labels.len());
    let shapes = [rows.targets.dim(), rows.predicted.dim(), rows.probabilities.dim()];
    if rows.texts.len() != n || shapes.iter().any(|&d| d != (n, c)) {
        return Err(DataError::File {
            source_name: path.display().to_string(),
            message: format!(
                "{n} ids, {} texts and {c} labels against targets, predictions and probabilities of {shapes:?}",
                rows.texts.len()
            ),
        });
    }
    let names = |row: ndarray::ArrayView1<'_, bool>| {
        rows.labels
            .iter()
            .zip(row)
            .filter(|(_, &on)| on)
            .map(|(l, _)| l.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let header: Vec<&str> = PREDICTION_COLUMNS
        .iter()
        .copied()
        .chain(rows.labels.iter().map(String::as_str))
        .collect();
    let records = (0..n).map(|i| {
        let leading = [
            rows.ids[i].clone(),
            rows.texts[i].clone(),
            names(rows.targets.row(i)),
            names(rows.predicted.row(i)),
        ];
        leading
            .into_iter()
            .chain(rows.probabilities.row(i).iter().map(std::string::ToString::to_string))
            .collect::<Vec<_>>()
    });
    goemo_fs::write_csv_atomic(path, &header, records)?;
    Ok(())
}

fn reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes))
}

fn records(bytes: &[u8], source: &str) -> Result<Vec<(usize, csv::StringRecord)>> {
    let mut out = Vec::new();
    for record in reader(bytes).into_records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            DataError::row(source, line, format!("CSV error: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        out.push((line, record));
    }
    Ok(out)
}

fn number(field: &str, source: &str, line: usize, column: usize) -> Result<f64> {
    let value: f64 = field.trim().parse().map_err(|_| {
        DataError::row(
            source,
            line,
            format!("column {}: {field:?} is not a number", column + 1),
        )
    })?;
    if !value.is_finite() {
        return Err(DataError::row(
            source,
            line,
            format!("column {}: {field:?} is not finite", column + 1),
        ));
    }
    Ok(value)
}

/// Parses a numeric matrix; the first row is a header of label names when any of its fields is
/// not a number. Every row must have the header's (or first row's) width.
pub fn parse_matrix_csv(bytes: &[u8], source: &str) -> Result<LabelledMatrix> {
    let rows = records(bytes, source)?;
    let Some((_, first)) = rows.first() else {
        return Err(DataError::File {
            source_name: source.into(),
            message: "no rows".into(),
        });
    };
    let has_header = first.iter().any(|f| f.trim().parse::<f64>().is_err());
    let labels = has_header.then(|| first.iter().map(|f| f.trim().to_string()).collect::<Vec<_>>());
    let width = first.len();
    let body = &rows[usize::from(has_header)..];
    if body.is_empty() {
        return Err(DataError::File {
            source_name: source.into(),
            message: "a header but no data rows".into(),
        });
    }
    let mut values = Vec::with_capacity(body.len() * width);
    for (line, record) in body {
        if record.len() != width {
            return Err(DataError::row(
                source,
                *line,
                format!("{} columns, expected {width}", record.len()),
            ));
        }
        for (column, field) in record.iter().enumerate() {
            values.push(number(field, source, *line, column)?);
        }
    }
    let values = Array2::from_shape_vec((body.len(), width), values).expect("rows checked to have equal width");
    Ok(LabelledMatrix { labels, values })
}

/// Reads a numeric matrix CSV file; see [`parse_matrix_csv`].
pub fn read_matrix_csv(path: impl AsRef<Path>) -> Result<LabelledMatrix> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse_matrix_csv(&bytes, &path.display().to_string())
}

/// True when the bytes start with a prediction file's header.
pub fn is_prediction_csv(bytes: &[u8]) -> bool {
    let mut rows = reader(bytes).into_records();
    matches!(rows.next(), Some(Ok(h)) if h.len() > 4 && h.iter().take(4).eq(PREDICTION_COLUMNS))
}

/// Parses a prediction file: the one reader of the format [`write_prediction_csv`] writes.
/// `true_labels` and `pred_labels` hold comma-joined label names (empty for none); a name that
/// is not a column, a probability that is not a number in [0, 1] or a short row is an error
/// naming the file, the line and the column.
pub fn parse_prediction_csv(bytes: &[u8], source: &str) -> Result<PredictionFile> {
    let rows = records(bytes, source)?;
    let Some((_, header)) = rows.first() else {
        return Err(DataError::File {
            source_name: source.into(),
            message: "no rows".into(),
        });
    };
    if !(header.len() > 4 && header.iter().take(4).eq(PREDICTION_COLUMNS)) {
        return Err(DataError::File {
            source_name: source.into(),
            message: format!(
                "header must start with {} and name one column per label",
                PREDICTION_COLUMNS.join(",")
            ),
        });
    }
    let labels: Vec<String> = header.iter().skip(4).map(|h| h.trim().to_string()).collect();
    let label_set = crate::LabelSet::new(labels.clone()).map_err(|e| DataError::File {
        source_name: source.into(),
        message: e.to_string(),
    })?;
    let (n, c) = (rows.len() - 1, labels.len());
    let mut scores = Array2::zeros((n, c));
    let mut targets = Array2::zeros((n, c));
    let mut predicted = Array2::from_elem((n, c), false);
    let (mut ids, mut texts) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for (row, (line, record)) in rows[1..].iter().enumerate() {
        if record.len() != c + 4 {
            return Err(DataError::row(
                source,
                *line,
                format!("{} columns, expected {}", record.len(), c + 4),
            ));
        }
        ids.push(record[0].to_string());
        texts.push(record[1].to_string());
        for name in record[2].split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let id = label_set
                .id(name)
                .ok_or_else(|| DataError::row(source, *line, format!("true label {name:?} is not a column")))?;
            targets[[row, id]] = 1.0;
        }
        for name in record[3].split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let id = label_set
                .id(name)
                .ok_or_else(|| DataError::row(source, *line, format!("predicted label {name:?} is not a column")))?;
            predicted[[row, id]] = true;
        }
        for (j, field) in record.iter().skip(4).enumerate() {
            let p = number(field, source, *line, j + 4).map_err(|_| {
                DataError::row(
                    source,
                    *line,
                    format!("column {} ({}): {field:?} is not a number", j + 5, labels[j]),
                )
            })?;
            if !(0.0..=1.0).contains(&p) {
                return Err(DataError::row(
                    source,
                    *line,
                    format!(
                        "column {} ({}): probability {field} is outside [0, 1]",
                        j + 5,
                        labels[j]
                    ),
                ));
            }
            scores[[row, j]] = p;
        }
    }
    if n == 0 {
        return Err(DataError::File {
            source_name: source.into(),
            message: "a header but no data rows".into(),
        });
    }
    Ok(PredictionFile {
        labels,
        ids,
        texts,
        scores,
        targets,
        predicted,
    })
}

/// Reads a prediction file; see [`parse_prediction_csv`].
pub fn read_prediction_csv(path: impl AsRef<Path>) -> Result<PredictionFile> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse_prediction_csv(&bytes, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_written_prediction_file_reads_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("predictions_test.csv");
        let labels = vec!["joy".to_string(), "anger".to_string()];
        let probabilities = ndarray::array![[0.1 + 0.2, 1.0 / 3.0], [1e-17, 0.999_999_999_999_9]];
        let (targets, predicted) = (
            ndarray::array![[true, true], [false, false]],
            ndarray::array![[false, true], [false, false]],
        );
        let rows = PredictionRows {
            labels: &labels,
            ids: &["a".into(), "b".into()],
            texts: &["one, \"quoted\"".into(), "two\nlines".into()],
            targets: targets.view(),
            predicted: predicted.view(),
            probabilities: probabilities.view(),
        };
        write_prediction_csv(&path, &rows).unwrap();
        let back = read_prediction_csv(&path).unwrap();
        assert_eq!(back.scores, probabilities, "full f64 precision");
        assert_eq!(back.texts, ["one, \"quoted\"", "two\nlines"]);
        assert_eq!(back.targets, ndarray::array![[1.0, 1.0], [0.0, 0.0]]);
        assert_eq!(back.predicted, predicted);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("id,text,true_labels,pred_labels,joy,anger\n"),
            "{text}"
        );
        assert!(text.contains(",\"joy,anger\",anger,"), "{text}");
        let short = PredictionRows {
            ids: &["a".into()],
            ..rows
        };
        let e = write_prediction_csv(&path, &short).unwrap_err().to_string();
        assert!(e.contains("predictions_test.csv") && e.contains("1 ids"), "{e}");
    }

    use super::*;

    #[test]
    fn header_is_optional() {
        let with = parse_matrix_csv(b"joy,anger\n0.5,0.25\n1,0\n", "s.csv").unwrap();
        assert_eq!(with.labels.unwrap(), ["joy", "anger"]);
        assert_eq!(with.values, ndarray::array![[0.5, 0.25], [1.0, 0.0]]);
        let without = parse_matrix_csv(b"0.5,0.25\r\n1,0\r\n", "s.csv").unwrap();
        assert_eq!((without.labels, without.values.nrows()), (None, 2));
    }

    #[test]
    fn bad_cells_name_file_line_and_column() {
        let err = parse_matrix_csv(b"a,b\n0.1,0.2\n0.3,x\n", "s.csv").unwrap_err();
        assert_eq!(err.to_string(), "s.csv:3: column 2: \"x\" is not a number");
        let err = parse_matrix_csv(b"0.1,0.2\n0.3\n", "s.csv").unwrap_err();
        assert_eq!(err.to_string(), "s.csv:2: 1 columns, expected 2");
        let err = parse_matrix_csv(b"0.1,NaN\n", "s.csv").unwrap_err();
        assert!(err.to_string().contains("not finite"));
        assert!(parse_matrix_csv(b"", "s.csv").is_err());
        assert!(parse_matrix_csv(b"a,b\n", "s.csv").is_err());
    }

    #[test]
    fn prediction_files_carry_targets() {
        let csv = "id,text,true_labels,pred_labels,joy,anger\n\
                   e1,\"Great, thanks\",\"joy,anger\",joy,0.9,0.4\n\
                   e2,meh,,,0.1,0.2\n";
        assert!(is_prediction_csv(csv.as_bytes()));
        let p = parse_prediction_csv(csv.as_bytes(), "p.csv").unwrap();
        assert_eq!(p.labels, ["joy", "anger"]);
        assert_eq!(p.texts[0], "Great, thanks");
        assert_eq!(p.targets, ndarray::array![[1.0, 1.0], [0.0, 0.0]]);
        assert_eq!(p.scores[[0, 1]], 0.4);
        let err = parse_prediction_csv(b"id,text,true_labels,pred_labels,joy\ne1,t,love,,0.5\n", "p.csv").unwrap_err();
        assert_eq!(err.to_string(), "p.csv:2: true label \"love\" is not a column");
        let err = parse_prediction_csv(b"id,text,true_labels,pred_labels,joy\ne1,t,,joy,1.5\n", "p.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "p.csv:2: column 5 (joy): probability 1.5 is outside [0, 1]"
        );
        let err = parse_prediction_csv(b"id,text,true_labels,pred_labels,joy\ne1,t,,fear,0.5\n", "p.csv").unwrap_err();
        assert_eq!(err.to_string(), "p.csv:2: predicted label \"fear\" is not a column");
    }
}
