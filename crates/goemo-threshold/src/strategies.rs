//! The strategies and the thresholds they fit.

use std::cmp::Ordering;

use goemo_metrics::{validate, Value};
use ndarray::{Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Result, ThresholdError};

/// Fitted thresholds: what a strategy learnt, ready to apply and to serialise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum Thresholds {
    /// One threshold for every label.
    Global {
        /// The threshold.
        threshold: f64,
    },
    /// One threshold per label, in label order.
    PerClass {
        /// One threshold per label.
        thresholds: Vec<f64>,
    },
    /// The `k` highest-scoring labels of each example, those under `min_score` excepted.
    TopK {
        /// Labels kept per example.
        k: usize,
        /// Labels scoring under this are dropped even when in the top k.
        min_score: Option<f64>,
    },
}

impl Thresholds {
    /// Reads thresholds saved by [`Thresholds::write`], checking a per-class file against the
    /// number of labels it will be applied to.
    pub fn read(path: impl AsRef<std::path::Path>, labels: usize) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ThresholdError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let thresholds: Thresholds = serde_json::from_str(&text).map_err(|e| ThresholdError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if let Thresholds::PerClass { thresholds } = &thresholds {
            if thresholds.len() != labels {
                return Err(ThresholdError::FileWidth {
                    path: path.to_path_buf(),
                    expected: labels,
                    found: thresholds.len(),
                });
            }
        }
        Ok(thresholds)
    }

    /// Writes the thresholds as JSON, atomically.
    pub fn write(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        Ok(goemo_fs::write_json_atomic(path, self)?)
    }

    /// Predictions for scores: `score >= threshold`, or the top k per row.
    pub fn apply<S: Value>(&self, scores: ArrayView2<'_, S>) -> Result<Array2<bool>> {
        match self {
            Thresholds::Global { threshold } => Ok(scores.mapv(|s| s.to_f64() >= *threshold)),
            Thresholds::PerClass { thresholds } => {
                if thresholds.len() != scores.ncols() {
                    return Err(ThresholdError::WrongWidth {
                        expected: thresholds.len(),
                        found: scores.ncols(),
                    });
                }
                let mut out = Array2::from_elem(scores.raw_dim(), false);
                ndarray::Zip::from(out.rows_mut())
                    .and(scores.rows())
                    .for_each(|mut o, s| {
                        for ((o, s), t) in o.iter_mut().zip(s.iter()).zip(thresholds) {
                            *o = s.to_f64() >= *t;
                        }
                    });
                Ok(out)
            }
            Thresholds::TopK { k, min_score } => {
                let mut out = Array2::from_elem(scores.raw_dim(), false);
                ndarray::Zip::from(out.rows_mut())
                    .and(scores.rows())
                    .for_each(|mut o, s| {
                        let mut order: Vec<usize> = (0..s.len()).collect();
                        // Highest first; equal scores keep label order.
                        order.sort_by(|&a, &b| s[b].to_f64().total_cmp(&s[a].to_f64()).then(a.cmp(&b)));
                        for &c in order.iter().take(*k) {
                            if min_score.is_none_or(|m| s[c].to_f64() >= m) {
                                o[c] = true;
                            }
                        }
                    });
                Ok(out)
            }
        }
    }

    /// The per-label thresholds, where the strategy has them (top-k has none).
    pub fn per_class(&self, n_labels: usize) -> Option<Vec<f64>> {
        match self {
            Thresholds::Global { threshold } => Some(vec![*threshold; n_labels]),
            Thresholds::PerClass { thresholds } => Some(thresholds.clone()),
            Thresholds::TopK { .. } => None,
        }
    }

    /// A short description, e.g. `per_class (28 thresholds)`.
    pub fn describe(&self) -> String {
        match self {
            Thresholds::Global { threshold } => format!("global {threshold:.4}"),
            Thresholds::PerClass { thresholds } => format!("per class ({} thresholds)", thresholds.len()),
            Thresholds::TopK { k, min_score: None } => format!("top-{k}"),
            Thresholds::TopK { k, min_score: Some(m) } => format!("top-{k} (min score {m})"),
        }
    }
}

/// A way of choosing thresholds; strategies that learn from data are fitted on dev, never on the
/// set they are evaluated on.
pub trait ThresholdStrategy: Send + Sync {
    /// The strategy's name as used on command lines.
    fn name(&self) -> &'static str;
    /// Whether `fit` learns from its data (a fixed global threshold does not).
    fn needs_fit(&self) -> bool;
    /// Fits thresholds on scores and 0/1 targets.
    fn fit(&self, scores: ArrayView2<'_, f64>, targets: ArrayView2<'_, bool>) -> Result<Thresholds>;
}

/// A fixed threshold for every label (0.5 is the usual one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Global(pub f64);

impl ThresholdStrategy for Global {
    fn name(&self) -> &'static str {
        "global"
    }
    fn needs_fit(&self) -> bool {
        false
    }
    fn fit(&self, _: ArrayView2<'_, f64>, _: ArrayView2<'_, bool>) -> Result<Thresholds> {
        if !self.0.is_finite() {
            return Err(ThresholdError::InvalidOption(format!(
                "threshold {} is not finite",
                self.0
            )));
        }
        Ok(Thresholds::Global { threshold: self.0 })
    }
}

/// The average of F1 that an optimal global threshold maximises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum F1Average {
    /// F1 of the pooled counts.
    Micro,
    /// Mean of the labels' F1.
    Macro,
}

/// The single threshold that maximises micro or macro F1 on the fit set, found exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimalGlobal(pub F1Average);

/// Each label's F1-optimal threshold on the fit set, found exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerClass;

/// The `k` best labels of each example, optionally only those scoring at least `min_score`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopK {
    /// Labels kept per example.
    pub k: usize,
    /// Labels scoring under this are dropped even when in the top k.
    pub min_score: Option<f64>,
}

impl ThresholdStrategy for TopK {
    fn name(&self) -> &'static str {
        "top-k"
    }
    fn needs_fit(&self) -> bool {
        false
    }
    fn fit(&self, _: ArrayView2<'_, f64>, _: ArrayView2<'_, bool>) -> Result<Thresholds> {
        if self.k == 0 {
            return Err(ThresholdError::InvalidOption("top-k needs k >= 1".into()));
        }
        Ok(Thresholds::TopK {
            k: self.k,
            min_score: self.min_score,
        })
    }
}

/// The threshold that separates the score `chosen` (predicted) from the next lower distinct score
/// `below` (not predicted): their midpoint, so that a score slightly under `chosen` on new data
/// is treated like `chosen`; `chosen` itself when the midpoint cannot be told apart from `below`.
fn between(chosen: f64, below: Option<f64>) -> f64 {
    match below {
        Some(b) => {
            let mid = chosen / 2.0 + b / 2.0;
            if mid > b && mid <= chosen {
                mid
            } else {
                chosen
            }
        }
        None => chosen,
    }
}

fn descending(a: f64, b: f64) -> Ordering {
    b.total_cmp(&a)
}

/// The F1-optimal threshold of one label, by one sort and one sweep over distinct scores.
///
/// Ties in F1 go to the highest threshold (fewest predictions). A label without positives in the
/// fit set gets a threshold just above its highest score, so it predicts nothing there.
pub(crate) fn best_f1_threshold(scores: ArrayView1<'_, f64>, targets: ArrayView1<'_, bool>) -> (f64, f64) {
    let mut pairs: Vec<(f64, bool)> = scores.iter().copied().zip(targets.iter().copied()).collect();
    pairs.sort_unstable_by(|a, b| descending(a.0, b.0));
    let positives = pairs.iter().filter(|p| p.1).count() as f64;
    let max = pairs.first().map_or(0.0, |p| p.0);
    if positives == 0.0 {
        return (max.next_up(), 0.0);
    }
    let (mut tp, mut fp) = (0.0, 0.0);
    let (mut best_f1, mut best_at) = (-1.0, 0usize);
    for (i, &(s, positive)) in pairs.iter().enumerate() {
        if positive {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if pairs.get(i + 1).is_none_or(|next| next.0 != s) {
            let f1 = 2.0 * tp / (tp + positives + fp);
            if f1 > best_f1 {
                best_f1 = f1;
                best_at = i;
            }
        }
    }
    let below = pairs.get(best_at + 1).map(|p| p.0);
    (between(pairs[best_at].0, below), best_f1)
}

impl ThresholdStrategy for PerClass {
    fn name(&self) -> &'static str {
        "per-class"
    }
    fn needs_fit(&self) -> bool {
        true
    }
    fn fit(&self, scores: ArrayView2<'_, f64>, targets: ArrayView2<'_, bool>) -> Result<Thresholds> {
        validate(scores, targets)?;
        let thresholds = (0..scores.ncols())
            .into_par_iter()
            .map(|c| best_f1_threshold(scores.column(c), targets.column(c)).0)
            .collect();
        Ok(Thresholds::PerClass { thresholds })
    }
}

impl ThresholdStrategy for OptimalGlobal {
    fn name(&self) -> &'static str {
        "optimal-global"
    }
    fn needs_fit(&self) -> bool {
        true
    }
    fn fit(&self, scores: ArrayView2<'_, f64>, targets: ArrayView2<'_, bool>) -> Result<Thresholds> {
        validate(scores, targets)?;
        Ok(Thresholds::Global {
            threshold: optimal_global(scores, targets, self.0).0,
        })
    }
}

/// The global threshold maximising micro or macro F1, and that F1: one sort of all cells, then a
/// sweep that updates only the class whose cell crosses the threshold.
pub(crate) fn optimal_global(
    scores: ArrayView2<'_, f64>,
    targets: ArrayView2<'_, bool>,
    average: F1Average,
) -> (f64, f64) {
    let c = scores.ncols();
    let mut cells: Vec<(f64, u32, bool)> = scores
        .indexed_iter()
        .zip(targets.iter())
        .map(|(((_, j), &s), &t)| (s, j as u32, t))
        .collect();
    cells.par_sort_unstable_by(|a, b| descending(a.0, b.0));
    let positives: Vec<f64> = (0..c)
        .map(|j| targets.column(j).iter().filter(|&&t| t).count() as f64)
        .collect();
    let total_positives: f64 = positives.iter().sum();
    let (mut tp, mut fp) = (vec![0.0; c], vec![0.0; c]);
    let f1 = |tp: f64, fp: f64, p: f64| if tp == 0.0 { 0.0 } else { 2.0 * tp / (tp + p + fp) };
    let (mut sum_tp, mut sum_fp, mut macro_sum) = (0.0, 0.0, 0.0);
    let max = cells.first().map_or(0.0, |x| x.0);
    // Predicting nothing scores 0; any threshold must beat it.
    let (mut best, mut best_at) = (0.0, None);
    for (i, &(s, j, positive)) in cells.iter().enumerate() {
        let j = j as usize;
        let before = f1(tp[j], fp[j], positives[j]);
        if positive {
            tp[j] += 1.0;
            sum_tp += 1.0;
        } else {
            fp[j] += 1.0;
            sum_fp += 1.0;
        }
        macro_sum += f1(tp[j], fp[j], positives[j]) - before;
        if cells.get(i + 1).is_none_or(|next| next.0 != s) {
            let value = match average {
                F1Average::Micro => f1(sum_tp, sum_fp, total_positives),
                F1Average::Macro => macro_sum / c as f64,
            };
            if value > best + 1e-12 {
                best = value;
                best_at = Some(i);
            }
        }
    }
    match best_at {
        Some(i) => (between(cells[i].0, cells.get(i + 1).map(|x| x.0)), best),
        None => (max.next_up(), 0.0),
    }
}

/// A threshold strategy by name, as configs and command lines give it: `global`,
/// `optimal-global` (micro F1; `optimal-global-micro` is accepted too), `optimal-global-macro`,
/// `per-class`, `top-k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StrategyKind {
    /// 0.5 for every label.
    Global,
    /// The one threshold that maximises dev micro F1.
    OptimalGlobalMicro,
    /// The one threshold that maximises dev macro F1.
    OptimalGlobalMacro,
    /// Each label's threshold maximises its dev F1.
    #[default]
    PerClass,
    /// The best-scoring label of each example.
    TopK,
}

impl StrategyKind {
    /// Every strategy, in the order reports list them.
    pub const ALL: [StrategyKind; 5] = [
        StrategyKind::Global,
        StrategyKind::OptimalGlobalMicro,
        StrategyKind::OptimalGlobalMacro,
        StrategyKind::PerClass,
        StrategyKind::TopK,
    ];

    /// The name configs use.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Global => "global",
            StrategyKind::OptimalGlobalMicro => "optimal-global",
            StrategyKind::OptimalGlobalMacro => "optimal-global-macro",
            StrategyKind::PerClass => "per-class",
            StrategyKind::TopK => "top-k",
        }
    }

    /// The strategy, with the global threshold, k and top-k's minimum score it may need.
    pub fn build(self, threshold: f64, k: usize, min_score: Option<f64>) -> Box<dyn ThresholdStrategy> {
        match self {
            StrategyKind::Global => Box::new(Global(threshold)),
            StrategyKind::OptimalGlobalMicro => Box::new(OptimalGlobal(F1Average::Micro)),
            StrategyKind::OptimalGlobalMacro => Box::new(OptimalGlobal(F1Average::Macro)),
            StrategyKind::PerClass => Box::new(PerClass),
            StrategyKind::TopK => Box::new(TopK { k, min_score }),
        }
    }
}

impl std::fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for StrategyKind {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Self> {
        if s == "optimal-global-micro" {
            return Ok(StrategyKind::OptimalGlobalMicro);
        }
        StrategyKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            ThresholdError::InvalidOption(format!(
                "unknown threshold strategy {s:?} (expected global, optimal-global, optimal-global-macro, per-class or top-k)"
            ))
        })
    }
}

/// A strategy by its command-line name (see [`StrategyKind`]).
pub fn parse_strategy(
    name: &str,
    threshold: f64,
    k: usize,
    min_score: Option<f64>,
) -> Result<Box<dyn ThresholdStrategy>> {
    Ok(name.parse::<StrategyKind>()?.build(threshold, k, min_score))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn strategy_names_round_trip() {
        for kind in StrategyKind::ALL {
            assert_eq!(kind.name().parse::<StrategyKind>().unwrap(), kind);
        }
        assert_eq!(
            "optimal-global-micro".parse::<StrategyKind>().unwrap(),
            StrategyKind::OptimalGlobalMicro
        );
        let e = "best".parse::<StrategyKind>().unwrap_err().to_string();
        assert!(e.contains("\"best\"") && e.contains("per-class"), "{e}");
    }

    #[test]
    fn per_class_threshold_is_the_midpoint_below_the_best_cut() {
        // Best F1 cuts after 0.8 (tp 2, fp 0, fn 0): threshold between 0.8 and 0.4.
        let (t, f1) = best_f1_threshold(
            array![0.9, 0.8, 0.4, 0.1].view(),
            array![true, true, false, false].view(),
        );
        assert_eq!((t, f1), (0.6000000000000001, 1.0));
        // Equal scores are cut together: the tie at 0.5 holds one positive and one negative.
        let (t, f1) = best_f1_threshold(array![0.5, 0.5, 0.2].view(), array![true, false, false].view());
        assert_eq!((t, f1), (0.35, 2.0 / 3.0));
        // No positive: nothing is predicted on the fit set.
        let (t, _) = best_f1_threshold(array![0.3, 0.7].view(), array![false, false].view());
        assert!(t > 0.7 && t < 0.7 + 1e-12);
    }

    #[test]
    fn top_k_with_minimum_and_ties_in_label_order() {
        let scores = array![[0.1, 0.5, 0.5, 0.2], [0.05, 0.01, 0.02, 0.03]];
        let top2 = TopK { k: 2, min_score: None }
            .fit(scores.view(), ndarray::Array2::from_elem((2, 4), false).view())
            .unwrap();
        assert_eq!(
            top2.apply(scores.view()).unwrap(),
            array![[false, true, true, false], [true, false, false, true]]
        );
        let min = Thresholds::TopK {
            k: 1,
            min_score: Some(0.1),
        };
        assert_eq!(
            min.apply(scores.view()).unwrap(),
            array![[false, true, false, false], [false, false, false, false]]
        );
    }

    #[test]
    fn thresholds_round_trip_through_json() {
        let t = Thresholds::PerClass {
            thresholds: vec![0.25, 0.7],
        };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"strategy":"per_class","thresholds":[0.25,0.7]}"#);
        assert_eq!(serde_json::from_str::<Thresholds>(&json).unwrap(), t);
        let err = t.apply(array![[0.1, 0.2, 0.3]].view()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "thresholds for 2 labels applied to scores with 3 columns"
        );
    }

    #[test]
    fn unknown_strategy_is_an_error() {
        assert!(parse_strategy("best", 0.5, 1, None).is_err());
        assert_eq!(parse_strategy("per-class", 0.5, 1, None).unwrap().name(), "per-class");
    }
}
