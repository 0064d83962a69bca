//! Label sets: ordered names with a reverse lookup.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// The 28 GoEmotions labels in id order (id 27 is `neutral`).
pub const GOEMOTIONS_LABELS: [&str; 28] = [
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "gratitude",
    "grief",
    "joy",
    "love",
    "nervousness",
    "optimism",
    "pride",
    "realization",
    "relief",
    "remorse",
    "sadness",
    "surprise",
    "neutral",
];

/// An ordered set of label names; a label's id is its position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct LabelSet {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl LabelSet {
    /// Builds a label set; names must be unique and non-empty.
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Result<Self> {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        let mut index = HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(DataError::InvalidOption(format!("label {i} has an empty name")));
            }
            if index.insert(name.clone(), i).is_some() {
                return Err(DataError::InvalidOption(format!("label {name:?} appears twice")));
            }
        }
        if names.is_empty() {
            return Err(DataError::InvalidOption("a label set needs at least one label".into()));
        }
        Ok(LabelSet { names, index })
    }

    /// The 28 GoEmotions labels.
    pub fn goemotions() -> Self {
        Self::new(GOEMOTIONS_LABELS).expect("built-in labels are unique")
    }

    /// Reads one label name per line (GoEmotions' `emotions.txt` / `labels.txt`); blank lines are skipped.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let names: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        Self::new(names).map_err(|e| DataError::File {
            source_name: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Always false: a label set has at least one label.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Label names in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The name of label `id`, if it exists.
    pub fn name(&self, id: usize) -> Option<&str> {
        self.names.get(id).map(String::as_str)
    }

    /// The id of a label name, if it exists.
    pub fn id(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The id of a label name, or an error listing the known names.
    pub fn require(&self, name: &str) -> Result<usize> {
        self.id(name).ok_or_else(|| DataError::UnknownLabel {
            name: name.to_string(),
            known: self.names.join(", "),
        })
    }
}

impl From<Vec<String>> for LabelSet {
    fn from(names: Vec<String>) -> Self {
        // Deserialisation path: duplicates keep the first id rather than failing inside serde.
        let mut index = HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            index.entry(n.clone()).or_insert(i);
        }
        LabelSet { names, index }
    }
}

impl From<LabelSet> for Vec<String> {
    fn from(set: LabelSet) -> Self {
        set.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goemotions_ids_match_the_published_file() {
        let labels = LabelSet::goemotions();
        let published = include_str!("../assets/labels.txt");
        let from_file: Vec<&str> = published.lines().collect();
        assert_eq!(labels.names(), from_file.as_slice());
        assert_eq!(labels.id("neutral"), Some(27));
        assert_eq!(labels.id("grief"), Some(16));
    }

    #[test]
    fn duplicates_and_unknown_names_are_errors() {
        assert!(LabelSet::new(["a", "b", "a"]).is_err());
        let err = LabelSet::goemotions().require("happiness").unwrap_err();
        assert!(err.to_string().contains("happiness"));
    }
}
