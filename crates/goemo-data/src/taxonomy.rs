//! Label taxonomies: the original 28 labels, Ekman's six emotions and sentiment, each plus neutral.
//!
//! The groupings are the ones published with GoEmotions (`ekman_mapping.json`,
//! `sentiment_dict.json`), built into the crate. They apply to gold labels (an example carries a
//! group when it carries any member) and to predicted scores (a group's score is the max of its
//! members' scores).

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, Example, Split};
use crate::error::{DataError, Result};
use crate::labels::LabelSet;

const EKMAN_JSON: &str = include_str!("../assets/ekman_mapping.json");
const SENTIMENT_JSON: &str = include_str!("../assets/sentiment_dict.json");

/// Which label space to train and evaluate in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Taxonomy {
    /// The 28 GoEmotions labels.
    #[default]
    Original,
    /// anger, disgust, fear, joy, sadness, surprise, neutral.
    Ekman,
    /// positive, negative, ambiguous, neutral.
    Sentiment,
}

impl std::str::FromStr for Taxonomy {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "original" => Ok(Taxonomy::Original),
            "ekman" => Ok(Taxonomy::Ekman),
            "sentiment" => Ok(Taxonomy::Sentiment),
            other => Err(DataError::InvalidOption(format!(
                "unknown taxonomy {other:?} (expected original, ekman or sentiment)"
            ))),
        }
    }
}

/// A mapping from fine labels to groups; each fine label belongs to exactly one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxonomyMap {
    /// The group labels, in their published order with `neutral` last.
    pub groups: LabelSet,
    /// `group_of[fine_id]` is the group id of each fine label.
    pub group_of: Vec<usize>,
}

impl TaxonomyMap {
    /// The mapping of `taxonomy` over `fine` labels (which must contain every GoEmotions emotion).
    pub fn new(taxonomy: Taxonomy, fine: &LabelSet) -> Result<Self> {
        let json = match taxonomy {
            Taxonomy::Original => {
                return Ok(TaxonomyMap {
                    groups: fine.clone(),
                    group_of: (0..fine.len()).collect(),
                })
            }
            Taxonomy::Ekman => EKMAN_JSON,
            Taxonomy::Sentiment => SENTIMENT_JSON,
        };
        // serde_json keeps insertion order only with a feature; the published order is recovered
        // from the position of each key in the text.
        let groups: BTreeMap<String, Vec<String>> =
            serde_json::from_str(json).map_err(|e| DataError::InvalidOption(format!("taxonomy file: {e}")))?;
        let mut names: Vec<&String> = groups.keys().collect();
        names.sort_by_key(|k| json.find(&format!("\"{k}\"")).unwrap_or(usize::MAX));
        let mut group_names: Vec<String> = names.iter().map(|s| (*s).clone()).collect();
        group_names.push("neutral".into());
        let group_set = LabelSet::new(group_names)?;
        let mut group_of = vec![usize::MAX; fine.len()];
        for (group, members) in &groups {
            let g = group_set.require(group)?;
            for member in members {
                group_of[fine.require(member)?] = g;
            }
        }
        let neutral = group_set.require("neutral")?;
        if let Some(n) = fine.id("neutral") {
            group_of[n] = neutral;
        }
        if let Some(orphan) = group_of.iter().position(|&g| g == usize::MAX) {
            return Err(DataError::InvalidOption(format!(
                "label {:?} has no group in the {taxonomy:?} taxonomy",
                fine.name(orphan).unwrap_or_default()
            )));
        }
        Ok(TaxonomyMap {
            groups: group_set,
            group_of,
        })
    }

    /// Maps examples' fine labels to group labels.
    pub fn map_examples(&self, examples: &[Example]) -> Vec<Example> {
        examples
            .iter()
            .map(|e| {
                let mut labels: Vec<usize> = e.labels.iter().map(|&l| self.group_of[l]).collect();
                labels.sort_unstable();
                labels.dedup();
                Example { labels, ..e.clone() }
            })
            .collect()
    }

    /// Maps every split of `dataset` to the groups, which become its label set.
    pub fn apply(&self, dataset: &mut Dataset) {
        for split in Split::ALL {
            let mapped = self.map_examples(dataset.split(split));
            *dataset.split_mut(split) = mapped;
        }
        dataset.labels = self.groups.clone();
    }

    /// Maps N×fine scores to N×groups: a group's score is the max of its members' scores.
    pub fn map_scores(&self, scores: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        if scores.ncols() != self.group_of.len() {
            return Err(DataError::InvalidOption(format!(
                "scores have {} columns, the taxonomy maps {} labels",
                scores.ncols(),
                self.group_of.len()
            )));
        }
        let mut out = Array2::from_elem((scores.nrows(), self.groups.len()), f32::NEG_INFINITY);
        for (fine, column) in scores.axis_iter(Axis(1)).enumerate() {
            let mut target = out.column_mut(self.group_of[fine]);
            target.zip_mut_with(&column, |t, &s| *t = t.max(s));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ekman_groups_in_published_order_with_neutral_last() {
        let map = TaxonomyMap::new(Taxonomy::Ekman, &LabelSet::goemotions()).unwrap();
        assert_eq!(
            map.groups.names(),
            ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
        );
        let fine = LabelSet::goemotions();
        assert_eq!(map.group_of[fine.id("annoyance").unwrap()], 0);
        assert_eq!(map.group_of[fine.id("grief").unwrap()], 4);
        assert_eq!(map.group_of[fine.id("neutral").unwrap()], 6);
    }

    #[test]
    fn sentiment_covers_every_label() {
        let fine = LabelSet::goemotions();
        let map = TaxonomyMap::new(Taxonomy::Sentiment, &fine).unwrap();
        assert_eq!(map.groups.names(), ["positive", "negative", "ambiguous", "neutral"]);
        assert_eq!(map.group_of[fine.id("surprise").unwrap()], 2);
    }

    #[test]
    fn scores_take_the_max_of_members_and_labels_the_union() {
        let fine = LabelSet::goemotions();
        let map = TaxonomyMap::new(Taxonomy::Sentiment, &fine).unwrap();
        let mut scores = Array2::<f32>::zeros((1, 28));
        scores[[0, fine.id("joy").unwrap()]] = 0.7;
        scores[[0, fine.id("love").unwrap()]] = 0.9;
        scores[[0, fine.id("fear").unwrap()]] = 0.2;
        let grouped = map.map_scores(scores.view()).unwrap();
        assert_eq!(grouped.row(0).to_vec(), vec![0.9, 0.2, 0.0, 0.0]);

        let example = Example {
            id: "x".into(),
            text: "t".into(),
            labels: vec![fine.id("joy").unwrap(), fine.id("love").unwrap(), 27],
        };
        assert_eq!(map.map_examples(std::slice::from_ref(&example))[0].labels, vec![0, 3]);

        let mut dataset = Dataset {
            labels: fine,
            train: vec![example.clone()],
            dev: vec![],
            test: vec![example],
        };
        map.apply(&mut dataset);
        assert_eq!(dataset.labels, map.groups);
        assert_eq!(
            (dataset.train[0].labels.clone(), dataset.test[0].labels.clone()),
            (vec![0, 3], vec![0, 3])
        );
    }
}
