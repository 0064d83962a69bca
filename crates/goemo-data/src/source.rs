//! [`DataSource`]: where labelled splits come from. GoEmotions' TSV folder, a set of CSV files
//! and an in-memory [`Dataset`] implement it; a downstream crate brings its own data by
//! implementing it too.

use std::path::PathBuf;

use crate::dataset::{Dataset, Split};
use crate::error::Result;
use crate::labels::LabelSet;
use crate::readers::{load_goemotions, read_csv, CsvSpec, ReadMode};

/// Labelled train, dev and test splits with their [`LabelSet`].
///
/// ```
/// use goemo_data::{DataSource, Dataset, Example, LabelSet};
///
/// let example = |id: &str, text: &str, labels: Vec<usize>| Example { id: id.into(), text: text.into(), labels };
/// let data = Dataset {
///     labels: LabelSet::new(["joy", "anger"])?,
///     train: vec![example("1", "so happy", vec![0]), example("2", "furious", vec![1])],
///     dev: vec![example("3", "glad", vec![0])],
///     test: vec![example("4", "mad", vec![1])],
/// };
/// // An in-memory data set is a source of itself.
/// assert_eq!(data.load()?.train.len(), 2);
/// # Ok::<(), goemo_data::DataError>(())
/// ```
pub trait DataSource {
    /// What the data is, for logs and run records.
    fn describe(&self) -> String;

    /// Reads every split; an error names the file and line of a bad row.
    fn load(&self) -> Result<Dataset>;
}

/// The GoEmotions release: `train.tsv`, `dev.tsv`, `test.tsv` (and optionally `labels.txt`) in
/// one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoEmotionsTsv {
    /// The folder holding `train.tsv`, `dev.tsv` and `test.tsv`.
    pub dir: PathBuf,
    /// Whether a bad row stops reading or is skipped.
    pub mode: ReadMode,
}

impl GoEmotionsTsv {
    /// The folder, read strictly (the first malformed row is an error).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        GoEmotionsTsv {
            dir: dir.into(),
            mode: ReadMode::Strict,
        }
    }
}

impl DataSource for GoEmotionsTsv {
    fn describe(&self) -> String {
        format!("GoEmotions TSV in {}", self.dir.display())
    }

    fn load(&self) -> Result<Dataset> {
        Ok(load_goemotions(&self.dir, self.mode)?.dataset)
    }
}

/// Three multi-label CSV files, one per split, read with one [`CsvSpec`]. The label set is the
/// one given, or the one the train file yields (dev and test must use the same labels).
#[derive(Debug, Clone)]
pub struct CsvSplits {
    /// The training split.
    pub train: PathBuf,
    /// The dev split.
    pub dev: PathBuf,
    /// The test split.
    pub test: PathBuf,
    /// Columns and delimiter.
    pub spec: CsvSpec,
    /// The label set; `None`: the labels the training split names, in order.
    pub labels: Option<LabelSet>,
    /// Whether a bad row stops reading or is skipped.
    pub mode: ReadMode,
}

impl DataSource for CsvSplits {
    fn describe(&self) -> String {
        format!(
            "CSV files {}, {}, {}",
            self.train.display(),
            self.dev.display(),
            self.test.display()
        )
    }

    fn load(&self) -> Result<Dataset> {
        let (labels, train) = read_csv(&self.train, &self.spec, self.labels.as_ref(), self.mode)?;
        let (_, dev) = read_csv(&self.dev, &self.spec, Some(&labels), self.mode)?;
        let (_, test) = read_csv(&self.test, &self.spec, Some(&labels), self.mode)?;
        Ok(Dataset {
            labels,
            train: train.examples,
            dev: dev.examples,
            test: test.examples,
        })
    }
}

impl DataSource for Dataset {
    fn describe(&self) -> String {
        let sizes: Vec<String> = Split::ALL
            .iter()
            .map(|&s| format!("{} {}", self.split(s).len(), s))
            .collect();
        format!("in-memory data ({}; {} labels)", sizes.join(", "), self.labels.len())
    }

    fn load(&self) -> Result<Dataset> {
        Ok(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_splits_share_the_train_files_labels() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, body).unwrap();
            path
        };
        let source = CsvSplits {
            train: write("train.csv", "text,labels\nyay,joy\nugh,anger\n"),
            dev: write("dev.csv", "text,labels\nhm,joy\n"),
            test: write("test.csv", "text,labels\nno,sadness\n"),
            spec: CsvSpec::joined("text", "labels"),
            labels: None,
            mode: ReadMode::Strict,
        };
        // "sadness" is not a label of the train file: the error names the test file.
        let err = source.load().unwrap_err().to_string();
        assert!(err.contains("test.csv") && err.contains("sadness"), "{err}");
        let source = CsvSplits {
            test: write("test.csv", "text,labels\nno,anger\n"),
            ..source
        };
        let data = source.load().unwrap();
        assert_eq!(data.labels.names(), ["anger", "joy"]);
        assert_eq!((data.train.len(), data.dev.len(), data.test.len()), (2, 1, 1));
        assert_eq!(data.test[0].labels, vec![0]);
        assert!(source.describe().contains("train.csv"));
    }
}
