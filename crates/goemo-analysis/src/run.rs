//! Run folders: the prediction files (`id,text,true_labels,pred_labels,<one probability column
//! per label>`) and, when present, `metrics.json`.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde_json::Value;

use crate::{AnalysisError, Result};

/// One split's predictions: rows in file order.
#[derive(Debug, Clone)]
pub struct Predictions {
    /// The file read.
    pub path: PathBuf,
    /// Label names, in column order.
    pub labels: Vec<String>,
    /// Example ids.
    pub ids: Vec<String>,
    /// Example texts.
    pub texts: Vec<String>,
    /// The run's probabilities, one row per example.
    pub probabilities: Array2<f64>,
    /// True labels.
    pub targets: Array2<bool>,
    /// The labels the run predicted (its deployed thresholds).
    pub predicted: Array2<bool>,
}

impl Predictions {
    /// Reads a prediction file through goemo-data's one reader of the format; a malformed row,
    /// an unknown label or a probability that is not a number in [0, 1] is an error naming the
    /// file, the line and the column.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let bytes = std::fs::read(&path).map_err(|e| AnalysisError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if !goemo_data::is_prediction_csv(&bytes) {
            return Err(AnalysisError::File {
                path,
                message: format!(
                    "not a prediction file: the header must start with {} and name one column per label",
                    goemo_data::PREDICTION_COLUMNS.join(",")
                ),
            });
        }
        let file = goemo_data::parse_prediction_csv(&bytes, &path.display().to_string())
            .map_err(|e| AnalysisError::Input(e.to_string()))?;
        Ok(Predictions {
            path,
            labels: file.labels,
            ids: file.ids,
            texts: file.texts,
            probabilities: file.scores,
            targets: file.targets.mapv(|v| v > 0.5),
            predicted: file.predicted,
        })
    }
}

/// A run folder: its dev and test predictions and its record (`metrics.json`, when there).
#[derive(Debug, Clone)]
pub struct RunFolder {
    /// The run folder.
    pub dir: PathBuf,
    /// Dev predictions.
    pub dev: Predictions,
    /// Test predictions.
    pub test: Predictions,
    /// `metrics.json`, when there.
    pub record: Option<Value>,
}

impl RunFolder {
    /// Reads `predictions_dev.csv`, `predictions_test.csv` and `metrics.json` from `dir`.
    pub fn read(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        for name in ["predictions_dev.csv", "predictions_test.csv"] {
            if !dir.join(name).is_file() {
                return Err(AnalysisError::File {
                    path: dir.clone(),
                    message: format!("not a run folder: {name} is missing"),
                });
            }
        }
        let dev = Predictions::read(dir.join("predictions_dev.csv"))?;
        let test = Predictions::read(dir.join("predictions_test.csv"))?;
        if dev.labels != test.labels {
            return Err(AnalysisError::File {
                path: dir,
                message: "its dev and test prediction files name different labels".into(),
            });
        }
        let record_path = dir.join("metrics.json");
        let record = match std::fs::read_to_string(&record_path) {
            Ok(text) => Some(serde_json::from_str(&text).map_err(|e| AnalysisError::File {
                path: record_path,
                message: e.to_string(),
            })?),
            Err(_) => None,
        };
        Ok(RunFolder { dir, dev, test, record })
    }

    /// A number of the record at a JSON pointer (`/train_seconds`).
    /// The labels' training frequencies as the run recorded them (`calibration.test.base_rates`
    /// in metrics.json); for runs that did not record them, the dev set's frequencies.
    pub fn base_rates(&self) -> Vec<f64> {
        let labels = self.dev.labels.len();
        let recorded: Option<Vec<f64>> = self
            .record
            .as_ref()
            .and_then(|r| r.pointer("/calibration/test/base_rates"))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .filter(|v: &Vec<f64>| v.len() == labels);
        recorded.unwrap_or_else(|| {
            let n = self.dev.targets.nrows().max(1) as f64;
            (0..labels)
                .map(|j| self.dev.targets.column(j).iter().filter(|&&y| y).count() as f64 / n)
                .collect()
        })
    }

    /// The number at a JSON pointer of `metrics.json` (`/test/auc_micro`), when there.
    pub fn number(&self, pointer: &str) -> Option<f64> {
        self.record.as_ref()?.pointer(pointer)?.as_f64()
    }

    /// A string of the record at a JSON pointer.
    pub fn text(&self, pointer: &str) -> Option<String> {
        let v = self.record.as_ref()?.pointer(pointer)?;
        Some(v.as_str().map_or_else(|| v.to_string(), String::from))
    }

    /// The best inference rate of `bench.csv` (written by `bench_inference --out`) with
    /// tokenization included, in texts per second, and its batch size; `None` without the file.
    /// A file that is there but unreadable is an error naming it and the line.
    pub fn inference_rate(&self) -> Result<Option<(f64, u64)>> {
        let path = self.dir.join("bench.csv");
        if !path.is_file() {
            return Ok(None);
        }
        let error = |line: u64, message: String| AnalysisError::Line {
            path: path.clone(),
            line,
            message,
        };
        let mut reader = csv::Reader::from_path(&path).map_err(|e| error(1, e.to_string()))?;
        let header = reader.headers().map_err(|e| error(1, e.to_string()))?.clone();
        let column = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| error(1, format!("no column {name}")))
        };
        let (batch, rate, tokenization) = (column("batch_size")?, column("texts_per_s")?, column("tokenization")?);
        let mut best: Option<(f64, u64)> = None;
        for (i, record) in reader.records().enumerate() {
            let line = i as u64 + 2;
            let record = record.map_err(|e| error(line, e.to_string()))?;
            if &record[tokenization] != "included" {
                continue;
            }
            let parse = |c: usize| -> Result<f64> {
                record[c]
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| error(line, format!("{}: {:?} is not a number", &header[c], &record[c])))
            };
            let (r, b) = (parse(rate)?, parse(batch)? as u64);
            if best.is_none_or(|(top, _)| r > top) {
                best = Some((r, b));
            }
        }
        Ok(best)
    }

    /// Files of the folder and of its subfolders (one level) with their sizes in bytes.
    pub fn artifacts(&self) -> Vec<(String, u64)> {
        fn entries(dir: &Path) -> Vec<(String, std::fs::Metadata)> {
            std::fs::read_dir(dir)
                .map(|it| {
                    it.flatten()
                        .filter_map(|e| Some((e.file_name().to_string_lossy().into_owned(), e.metadata().ok()?)))
                        .collect()
                })
                .unwrap_or_default()
        }
        let mut files = vec![];
        for (name, meta) in entries(&self.dir) {
            if meta.is_file() {
                files.push((name, meta.len()));
            } else if meta.is_dir() {
                for (inner, m) in entries(&self.dir.join(&name)) {
                    if m.is_file() {
                        files.push((format!("{name}/{inner}"), m.len()));
                    }
                }
            }
        }
        files.sort();
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_a_prediction_file_and_names_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let good =
            "id,text,true_labels,pred_labels,joy,anger\na,\"hi, you\",joy,\"joy,anger\",0.9,0.6\nb,no,anger,,0.1,0.4\n";
        let p = Predictions::read(write(dir.path(), "good.csv", good)).unwrap();
        assert_eq!(p.labels, ["joy", "anger"]);
        assert_eq!(p.ids, ["a", "b"]);
        assert!(p.targets[[0, 0]] && !p.targets[[0, 1]] && p.targets[[1, 1]]);
        assert!(p.predicted[[0, 1]] && !p.predicted[[1, 0]]);
        assert_eq!(p.probabilities[[1, 1]], 0.4);

        let bad = |text: &str| {
            Predictions::read(write(dir.path(), "bad.csv", text))
                .unwrap_err()
                .to_string()
        };
        let header = "id,text,true_labels,pred_labels,joy,anger\n";
        let e = bad(&format!("{header}a,t,joy,,0.9,NaN\n"));
        assert!(
            e.contains("bad.csv:2") && e.contains("anger") && e.contains("not"),
            "{e}"
        );
        let e = bad(&format!("{header}a,t,joy,,0.9,0.1\nb,t,joy,,1.5,0.1\n"));
        assert!(e.contains("bad.csv:3") && e.contains("joy") && e.contains("1.5"), "{e}");
        let e = bad(&format!("{header}a,t,fear,,0.9,0.1\n"));
        assert!(e.contains("label \"fear\" is not a column"), "{e}");
        let e = bad(&format!("{header}a,t,joy,,x,0.1\n"));
        assert!(e.contains("not a number"), "{e}");
        let e = bad("id,text,joy\n");
        assert!(e.contains("not a prediction file"), "{e}");
        let e = RunFolder::read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("predictions_dev.csv is missing"), "{e}");

        // bench.csv: the best rate with tokenization included.
        write(dir.path(), "predictions_dev.csv", good);
        write(dir.path(), "predictions_test.csv", good);
        let run = RunFolder::read(dir.path()).unwrap();
        assert_eq!(run.inference_rate().unwrap(), None);
        let bench = "batch_size,batches,mean_ms,std_ms,p50_ms,p95_ms,p99_ms,texts_per_s,tokenization,peak_rss_mib\n\
                     1,10,5,1,5,6,7,200.5,included,300\n\
                     8,10,20,1,20,21,22,400.0,included,300\n\
                     8,10,15,1,15,16,17,533.3,excluded,300\n";
        write(dir.path(), "bench.csv", bench);
        assert_eq!(run.inference_rate().unwrap(), Some((400.0, 8)));
        write(dir.path(), "bench.csv", &bench.replace("400.0", "fast"));
        let e = run.inference_rate().unwrap_err().to_string();
        assert!(e.contains("bench.csv, line 3") && e.contains("texts_per_s"), "{e}");
    }
}
