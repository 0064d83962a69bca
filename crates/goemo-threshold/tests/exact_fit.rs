//! Fitted thresholds reach the best F1 that a brute-force search over every distinct score finds
//! (computed with numpy/scikit-learn by `scripts/make_metric_fixtures.py`).

use goemo_metrics::{target_mask, ThresholdMetrics};
use goemo_threshold::{threshold_sweep, F1Average, OptimalGlobal, PerClass, ThresholdStrategy, Thresholds};
use ndarray::Array2;
use serde_json::Value;

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    Array2::from_shape_vec((rows.len(), rows[0].len()), rows.concat()).unwrap()
}

fn cases() -> Vec<Value> {
    let doc: Value =
        serde_json::from_str(include_str!("../../goemo-metrics/tests/fixtures/sklearn_cases.json")).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

#[test]
fn per_class_fit_reaches_the_brute_force_optimum() {
    for case in cases() {
        let scores = matrix(&case["scores"]);
        let targets = target_mask(matrix(&case["targets"]).view());
        let fitted = PerClass.fit(scores.view(), targets.view()).unwrap();
        let predictions = fitted.apply(scores.view()).unwrap();
        let m = ThresholdMetrics::compute(predictions.view(), targets.view());
        for (c, confusion) in m.per_class.iter().enumerate() {
            let want = case["expected"]["per_class_best_f1"][c].as_f64().unwrap();
            assert!(
                (confusion.f1() - want).abs() < 1e-12,
                "{} class {c}: {} vs {want}",
                case["name"],
                confusion.f1()
            );
        }
    }
}

#[test]
fn optimal_global_reaches_the_best_micro_f1() {
    for case in cases() {
        let scores = matrix(&case["scores"]);
        let targets = target_mask(matrix(&case["targets"]).view());
        let fitted = OptimalGlobal(F1Average::Micro)
            .fit(scores.view(), targets.view())
            .unwrap();
        let Thresholds::Global { threshold } = fitted else {
            panic!("a global threshold")
        };
        let predictions = fitted.apply(scores.view()).unwrap();
        let f1 = ThresholdMetrics::compute(predictions.view(), targets.view()).micro.f1;
        let want = case["expected"]["global_best_micro_f1"].as_f64().unwrap();
        assert!(
            (f1 - want).abs() < 1e-12,
            "{}: {f1} at {threshold} vs {want}",
            case["name"]
        );
    }
}

#[test]
fn optimal_macro_threshold_beats_every_grid_point() {
    let case = &cases()[0];
    let scores = matrix(&case["scores"]);
    let targets = target_mask(matrix(&case["targets"]).view());
    let fitted = OptimalGlobal(F1Average::Macro)
        .fit(scores.view(), targets.view())
        .unwrap();
    let predictions = fitted.apply(scores.view()).unwrap();
    let best = ThresholdMetrics::compute(predictions.view(), targets.view()).macro_.f1;
    let sweep = threshold_sweep(scores.view(), targets.view()).unwrap();
    assert_eq!(sweep.len(), 99);
    assert!(sweep.iter().all(|row| row.f1_macro <= best + 1e-12));
    // The sweep's rows are the metrics at their thresholds.
    let at_half = sweep.iter().find(|r| r.threshold == 0.5).unwrap();
    let m = ThresholdMetrics::compute(scores.mapv(|s| s >= 0.5).view(), targets.view());
    assert_eq!(at_half.f1_micro, m.micro.f1);
    assert!(sweep.windows(2).all(|w| w[0].labels_predicted >= w[1].labels_predicted));
}

#[test]
fn rare_labels_get_thresholds_below_any_grid() {
    // A rare label whose positives score far under 0.1: the exact fit still finds them.
    let scores = ndarray::array![[0.04], [0.03], [0.01], [0.02], [0.005]];
    let targets = ndarray::array![[true], [true], [false], [false], [false]];
    let fitted = PerClass.fit(scores.view(), targets.view()).unwrap();
    assert_eq!(
        fitted,
        Thresholds::PerClass {
            thresholds: vec![0.025]
        }
    );
}
