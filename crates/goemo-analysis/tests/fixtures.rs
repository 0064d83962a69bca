//! The document's statistics equal what scikit-learn, scipy and numpy computed on the same inputs
//! (`scripts/make_analysis_fixtures.py`), to 1e-9: calibration (goemo-metrics), combinations,
//! co-occurrence and Welch's t (goemo-stats).

use goemo_analysis::{combos, cooccurrence_pairs, welch_t_test};
use goemo_metrics::calibration;
use ndarray::Array2;
use serde_json::Value;

const TOLERANCE: f64 = 1e-9;

fn doc() -> Value {
    serde_json::from_str(include_str!("fixtures/analysis_cases.json")).unwrap()
}

fn matrix<T>(v: &Value, f: impl Fn(&Value) -> T) -> Array2<T> {
    let rows = v.as_array().unwrap();
    let cols = rows[0].as_array().unwrap().len();
    Array2::from_shape_vec(
        (rows.len(), cols),
        rows.iter().flat_map(|r| r.as_array().unwrap().iter().map(&f)).collect(),
    )
    .unwrap()
}

/// A number, or `None`/non-finite on both sides (an undefined lift or PMI).
fn close(what: &str, got: f64, want: &Value) {
    match want.as_f64() {
        Some(w) => assert!((got - w).abs() <= TOLERANCE, "{what}: {got}, reference {w}"),
        None => assert!(!got.is_finite(), "{what}: {got}, reference undefined"),
    }
}

#[test]
fn calibration_combinations_cooccurrence_and_welch_equal_the_references() {
    let doc = doc();
    let labels: Vec<String> = serde_json::from_value(doc["labels"].clone()).unwrap();
    let probs = matrix(&doc["probabilities"], |v| v.as_f64().unwrap());
    let targets = matrix(&doc["targets"], |v| v.as_i64().unwrap() == 1);
    let predicted = matrix(&doc["predicted"], |v| v.as_i64().unwrap() == 1);
    let expected = &doc["expected"];

    // goemo-metrics' calibration, which the document's tables and charts show.
    let (per_class, micro) = calibration(probs.view(), targets.view()).unwrap();
    for (j, label) in labels.iter().enumerate() {
        close(&format!("brier {label}"), per_class[j].brier, &expected["brier"][j]);
        close(&format!("ece {label}"), per_class[j].ece, &expected["ece"][j]);
    }
    close("brier micro", micro.brier, &expected["brier_micro"]);

    let want = expected["combos"].as_array().unwrap();
    let got = combos(targets.view(), predicted.view(), &labels, usize::MAX);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.labels, w["labels"].as_str().unwrap());
        assert_eq!(g.count as u64, w["count"].as_u64().unwrap(), "{}", g.labels);
        close(&format!("exact {}", g.labels), g.exact_match, &w["exact_match"]);
        close(&format!("partial {}", g.labels), g.partial_match, &w["partial_match"]);
        close(&format!("jaccard {}", g.labels), g.mean_jaccard, &w["mean_jaccard"]);
    }

    let want = expected["pairs"].as_array().unwrap();
    let got = cooccurrence_pairs(targets.view(), predicted.view(), &labels);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        let pair = format!("{}/{}", g.a, g.b);
        assert_eq!(
            (g.a.as_str(), g.b.as_str()),
            (w["a"].as_str().unwrap(), w["b"].as_str().unwrap())
        );
        assert_eq!(g.count_true as u64, w["count_true"].as_u64().unwrap(), "{pair}");
        assert_eq!(
            g.count_predicted as u64,
            w["count_predicted"].as_u64().unwrap(),
            "{pair}"
        );
        close(&format!("P(b|a) {pair}"), g.p_b_given_a, &w["p_b_given_a"]);
        close(&format!("lift {pair}"), g.lift, &w["lift"]);
        close(&format!("pmi {pair}"), g.pmi, &w["pmi"]);
    }

    let welch = &expected["welch"];
    let sample = |key: &str| -> Vec<f64> { serde_json::from_value(welch[key].clone()).unwrap() };
    let t = welch_t_test(&sample("a"), &sample("b")).unwrap();
    close("welch t", t.statistic, &welch["statistic"]);
    close("welch dof", t.dof, &welch["dof"]);
    close("welch p", t.p_value, &welch["p_value"]);
}
