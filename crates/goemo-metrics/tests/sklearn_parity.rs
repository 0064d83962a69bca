//! Every metric equals what scikit-learn computed on the same inputs (fixtures made by
//! `scripts/make_metric_fixtures.py`), to 1e-9.

use goemo_metrics::{calibration, target_mask, MetricReport, MetricsError};
use ndarray::Array2;
use serde_json::Value;

const TOLERANCE: f64 = 1e-9;

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, c) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, c), rows.concat()).unwrap()
}

fn cases() -> Vec<Value> {
    let text = include_str!("fixtures/sklearn_cases.json");
    let doc: Value = serde_json::from_str(text).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

fn close(name: &str, case: &str, got: Option<f64>, want: &Value) {
    match (got, want.as_f64()) {
        (Some(g), Some(w)) => assert!((g - w).abs() <= TOLERANCE, "{case}: {name} = {g}, scikit-learn {w}"),
        (None, None) => {}
        (g, _) => panic!("{case}: {name} = {g:?}, scikit-learn {want}"),
    }
}

#[test]
fn report_matches_scikit_learn() {
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let scores = matrix(&case["scores"]);
        let targets = matrix(&case["targets"]);
        let threshold = case["threshold"].as_f64().unwrap();
        let predictions = scores.mapv(|s| s >= threshold);
        let labels: Vec<String> = (0..scores.ncols()).map(|i| format!("label_{i}")).collect();
        let r = MetricReport::compute(scores.view(), targets.view(), predictions.view(), &labels, None).unwrap();
        let e = &case["expected"];
        let headline = [
            ("auc_micro", r.auc_micro),
            ("auc_macro", r.auc_macro),
            ("auc_weighted", r.auc_weighted),
            ("ap_micro", r.ap_micro),
            ("ap_macro", r.ap_macro),
            ("f1_micro", Some(r.f1_micro)),
            ("f1_macro", Some(r.f1_macro)),
            ("f1_weighted", Some(r.f1_weighted)),
            ("f1_samples", Some(r.f1_samples)),
            ("precision_micro", Some(r.precision_micro)),
            ("precision_macro", Some(r.precision_macro)),
            ("recall_micro", Some(r.recall_micro)),
            ("recall_macro", Some(r.recall_macro)),
            ("subset_accuracy", Some(r.subset_accuracy)),
            ("hamming_loss", Some(r.hamming_loss)),
        ];
        for (key, got) in headline {
            close(key, name, got, &e[key]);
        }
        for (i, m) in r.per_class.iter().enumerate() {
            close("auc", name, m.auc, &e["per_class_auc"][i]);
            close("ap", name, m.ap, &e["per_class_ap"][i]);
            close("f1", name, Some(m.f1), &e["per_class_f1"][i]);
            close("precision", name, Some(m.precision), &e["per_class_precision"][i]);
            close("recall", name, Some(m.recall), &e["per_class_recall"][i]);
            assert_eq!(Some(m.support), e["per_class_support"][i].as_u64(), "{name}: support");
            assert_eq!(m.tp + m.fp + m.fn_ + m.tn, scores.nrows() as u64);
        }
        let (per_class, micro) = calibration(scores.view(), target_mask(targets.view()).view()).unwrap();
        for (i, c) in per_class.iter().enumerate() {
            close("brier", name, Some(c.brier), &e["per_class_brier"][i]);
            close("log_loss", name, Some(c.log_loss), &e["per_class_log_loss"][i]);
        }
        close("brier_micro", name, Some(micro.brier), &e["brier_micro"]);
        close("log_loss_micro", name, Some(micro.log_loss), &e["log_loss_micro"]);
    }
}

#[test]
fn undefined_auc_is_listed_not_zero() {
    let case = cases()
        .into_iter()
        .find(|c| c["name"] == "no_positive_and_no_prediction")
        .unwrap();
    let scores = matrix(&case["scores"]);
    let targets = matrix(&case["targets"]);
    let predictions = scores.mapv(|s| s >= 0.5);
    let labels: Vec<String> = (0..6).map(|i| format!("label_{i}")).collect();
    let r = MetricReport::compute(scores.view(), targets.view(), predictions.view(), &labels, None).unwrap();
    assert_eq!(r.undefined_auc_labels, vec!["label_2"]);
    assert_eq!(r.per_class[2].auc, None);
    assert_eq!(r.never_predicted(), vec!["label_4"]);
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["per_class"][2]["auc"].is_null());
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    let mut expected = vec![
        "auc_micro",
        "auc_macro",
        "auc_weighted",
        "f1_micro",
        "f1_macro",
        "f1_weighted",
        "f1_samples",
        "precision_micro",
        "precision_macro",
        "recall_micro",
        "recall_macro",
        "subset_accuracy",
        "hamming_loss",
        "ap_micro",
        "ap_macro",
        "undefined_auc_labels",
        "per_class",
    ];
    expected.sort_unstable();
    let mut keys: Vec<&str> = keys.into_iter().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, expected);
    let class_keys: Vec<&str> = json["per_class"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "label",
        "auc",
        "ap",
        "f1",
        "precision",
        "recall",
        "support",
        "tp",
        "fp",
        "fn",
        "tn",
        "threshold",
    ] {
        assert!(class_keys.contains(&k), "per_class lacks {k}");
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let labels = vec!["a".to_string(), "b".to_string()];
    let ok_targets = ndarray::array![[1.0, 0.0], [0.0, 1.0]];
    let preds = ndarray::array![[true, false], [false, true]];
    let nan = ndarray::array![[0.5, f64::NAN], [0.1, 0.2]];
    let err = MetricReport::compute(nan.view(), ok_targets.view(), preds.view(), &labels, None).unwrap_err();
    assert!(
        matches!(err, MetricsError::NonFiniteScore { row: 0, col: 1, .. }),
        "{err}"
    );
    let inf = ndarray::array![[0.5, 0.1], [f64::INFINITY, 0.2]];
    assert!(MetricReport::compute(inf.view(), ok_targets.view(), preds.view(), &labels, None).is_err());
    let bad_targets = ndarray::array![[1.0, 0.5], [0.0, 1.0]];
    let scores = ndarray::array![[0.5, 0.1], [0.3, 0.2]];
    let err = MetricReport::compute(scores.view(), bad_targets.view(), preds.view(), &labels, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "target at row 0, column 1 is 0.5 (targets must be 0 or 1)"
    );
    let wide = ndarray::array![[0.5, 0.1, 0.3], [0.3, 0.2, 0.1]];
    let err = MetricReport::compute(wide.view(), ok_targets.view(), preds.view(), &labels, None).unwrap_err();
    assert!(err.to_string().contains("shape [2, 3] does not match [2, 2]"), "{err}");
    let empty = Array2::<f64>::zeros((0, 2));
    let empty_preds = Array2::<bool>::from_elem((0, 2), false);
    let err = MetricReport::compute(empty.view(), empty.view(), empty_preds.view(), &labels, None).unwrap_err();
    assert_eq!(err, MetricsError::Empty);
}
