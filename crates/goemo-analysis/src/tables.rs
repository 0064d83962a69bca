//! The document's tables, each built once as a [`Table`] and used both in the Markdown and, with
//! a `model` column and full precision, as a CSV file.

use std::collections::BTreeMap;

use goemo_report::{Column, Table};

use crate::compare::{ClassCalibration, Comparison, EmotionRow, StrategyRow, SweepPoint, METRICS};
use crate::stats::{Combo, PairStats};

/// Digits of the numbers in CSV files; the Markdown shows four.
pub(crate) const CSV_DIGITS: usize = 6;

/// A number with `digits` decimals, `n/a` when missing or not finite.
pub(crate) fn num(v: Option<f64>, digits: usize) -> String {
    v.filter(|v| v.is_finite())
        .map_or("n/a".into(), |v| format!("{v:.digits$}"))
}

/// A count that may be a seeds' mean: whole numbers without decimals.
pub(crate) fn count(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A bootstrap p-value of B `resamples` as a table prints it: below the smallest p the
/// resampling can give, `family`/(B+1) (1 for one test, m for a Holm-adjusted family of m), it
/// is printed as that bound.
pub(crate) fn p_value(p: f64, resamples: usize, family: usize) -> String {
    let floor = family as f64 / (resamples as f64 + 1.0);
    if p < floor {
        format!("< {floor:.4}")
    } else {
        format!("{p:.4}")
    }
}

/// `mean ± std` when there is a spread, else the mean alone.
pub(crate) fn with_spread(mean: Option<f64>, std: Option<f64>, digits: usize) -> String {
    match std {
        Some(s) => format!("{} ± {}", num(mean, digits), num(Some(s), digits)),
        None => num(mean, digits),
    }
}

/// Per-emotion rows: F1, precision, recall and AUC (mean ± std over seeds in Markdown; the std
/// in its own columns in CSV), support and texts predicted.
pub(crate) fn per_emotion(rows: &[&EmotionRow], csv: bool) -> Table {
    let mut t = if csv {
        Table::with_text_columns(
            &[
                "rank",
                "label",
                "f1",
                "f1_std",
                "precision",
                "precision_std",
                "recall",
                "recall_std",
                "auc",
                "auc_std",
                "support",
                "predicted",
            ],
            2,
        )
    } else {
        Table::new([
            Column::number("rank"),
            Column::text("emotion"),
            Column::number("F1"),
            Column::number("precision"),
            Column::number("recall"),
            Column::number("AUC"),
            Column::number("support"),
            Column::number("predicted"),
        ])
    };
    for r in rows {
        let mut cells = vec![r.rank.to_string(), r.label.clone()];
        let pairs = [
            (Some(r.f1), r.f1_std),
            (Some(r.precision), r.precision_std),
            (Some(r.recall), r.recall_std),
            (r.auc, r.auc_std),
        ];
        for (mean, std) in pairs {
            if csv {
                cells.push(num(mean, CSV_DIGITS));
                cells.push(std.map_or(String::new(), |s| format!("{s:.CSV_DIGITS$}")));
            } else {
                cells.push(with_spread(mean, std, 4));
            }
        }
        cells.push(r.support.to_string());
        cells.push(count(r.predicted));
        t.row(cells);
    }
    t
}

/// One row per threshold strategy: its F1, precision and recall (micro, macro) on test and the
/// labels it never predicts.
pub(crate) fn strategies(rows: &BTreeMap<String, Vec<StrategyRow>>, csv: bool) -> Table {
    let digits = if csv { CSV_DIGITS } else { 4 };
    let mut names = vec!["model", "strategy", "threshold"];
    if csv {
        names.extend(METRICS[2..].iter().copied());
        names.push("never_predicted");
    } else {
        names.extend([
            "micro F1",
            "macro F1",
            "micro P",
            "macro P",
            "micro R",
            "macro R",
            "never predicted",
        ]);
    }
    let mut t = Table::with_text_columns(&names, 2);
    for (model, strategies) in rows {
        for r in strategies {
            let mut cells = vec![model.clone(), r.strategy.clone(), num(r.threshold, digits)];
            cells.extend(
                [
                    r.f1_micro,
                    r.f1_macro,
                    r.precision_micro,
                    r.precision_macro,
                    r.recall_micro,
                    r.recall_macro,
                ]
                .map(|v| num(Some(v), digits)),
            );
            cells.push(count(r.never_predicted));
            t.row(cells);
        }
    }
    t
}

/// The global-threshold sweep of every model (CSV only).
pub(crate) fn sweep(rows: &BTreeMap<String, Vec<SweepPoint>>) -> Table {
    let mut names = vec!["model", "threshold"];
    names.extend(METRICS[2..].iter().copied());
    names.extend(["labels_predicted", "mean_labels_per_example"]);
    let mut t = Table::with_text_columns(&names, 1);
    for (model, points) in rows {
        for p in points {
            let mut cells = vec![model.clone(), format!("{:.2}", p.threshold)];
            cells.extend(
                [
                    Some(p.f1_micro),
                    Some(p.f1_macro),
                    p.precision_micro,
                    Some(p.precision_macro),
                    Some(p.recall_micro),
                    Some(p.recall_macro),
                ]
                .map(|v| num(v, CSV_DIGITS)),
            );
            cells.push(count(p.labels_predicted));
            cells.push(num(Some(p.mean_labels_per_example), CSV_DIGITS));
            t.row(cells);
        }
    }
    t
}

/// Per-class thresholds fitted on dev (the seeds' mean), per model (CSV only).
pub(crate) fn per_class_thresholds(c: &Comparison) -> Table {
    let mut t = Table::with_text_columns(&["model", "label", "threshold"], 2);
    for m in &c.models {
        if let Some(fitted) = fitted_thresholds(c, &m.name) {
            for (label, value) in m.labels.iter().zip(fitted) {
                t.row([m.name.clone(), label.clone(), format!("{value:.CSV_DIGITS$}")]);
            }
        }
    }
    t
}

/// A model's per-class thresholds fitted on dev, when its comparison has them.
pub(crate) fn fitted_thresholds<'a>(c: &'a Comparison, model: &str) -> Option<&'a [f64]> {
    c.thresholds
        .get(model)?
        .iter()
        .find(|r| r.strategy == "per-class")?
        .thresholds
        .as_deref()
}

/// Per emotion calibration of every model (CSV only).
pub(crate) fn calibration(c: &Comparison) -> Table {
    let names = [
        "model",
        "label",
        "brier",
        "baseline_brier",
        "log_loss",
        "ece",
        "ece_equal_mass",
        "support",
    ];
    let mut t = Table::with_text_columns(&names, 2);
    for (model, k) in &c.calibration {
        for x in &k.per_class {
            let ClassCalibration {
                brier,
                baseline_brier,
                log_loss,
                ece,
                ece_equal_mass,
                ..
            } = x;
            let mut cells = vec![model.clone(), x.label.clone()];
            cells.extend([brier, baseline_brier, log_loss, ece, ece_equal_mass].map(|v| format!("{v:.CSV_DIGITS$}")));
            cells.push(x.support.to_string());
            t.row(cells);
        }
    }
    t
}

/// The most frequent true label combinations and how the predictions matched them.
pub(crate) fn combos(rows: &[Combo], digits: usize) -> Table {
    let names = ["labels", "count", "exact_match", "partial_match", "mean_jaccard"];
    let mut t = Table::with_text_columns(&names, 1);
    for r in rows {
        let mut cells = vec![];
        cells.push(if r.labels.is_empty() {
            "(none)".into()
        } else {
            r.labels.clone()
        });
        cells.push(r.count.to_string());
        cells.extend([r.exact_match, r.partial_match, r.mean_jaccard].map(|v| format!("{v:.digits$}")));
        t.row(cells);
    }
    t
}

/// Label pairs with their true and predicted co-occurrence, lift and PMI (CSV only).
pub(crate) fn cooccurrence(rows: &BTreeMap<String, Vec<PairStats>>) -> Table {
    let names = [
        "model",
        "a",
        "b",
        "count_true",
        "count_predicted",
        "p_b_given_a",
        "lift",
        "pmi_bits",
    ];
    let mut t = Table::with_text_columns(&names, 3);
    for (model, pairs) in rows {
        for p in pairs {
            t.row([
                model.clone(),
                p.a.clone(),
                p.b.clone(),
                p.count_true.to_string(),
                count(p.count_predicted),
                format!("{:.CSV_DIGITS$}", p.p_b_given_a),
                format!("{:.CSV_DIGITS$}", p.lift),
                format!("{:.CSV_DIGITS$}", p.pmi),
            ]);
        }
    }
    t
}

/// A table of several models' rows with a leading `model` column.
pub(crate) fn with_model_column<'a>(tables: impl IntoIterator<Item = (&'a String, Table)>) -> Table {
    let mut out: Option<Table> = None;
    for (model, t) in tables {
        let table = out
            .get_or_insert_with(|| Table::new(std::iter::once(Column::text("model")).chain(t.columns.iter().cloned())));
        for row in t.rows {
            table.row(std::iter::once(model.clone()).chain(row));
        }
    }
    out.unwrap_or_default()
}
