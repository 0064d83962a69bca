//! Fits equal to scikit-learn's `CalibratedClassifierCV` (`scripts/make_calibration_fixtures.py`):
//! Platt and temperature scaling to 1e-6, isotonic regression exactly.

use goemo_calibration::{CalibrationMethod, Isotonic, IsotonicFit, LabelCalibrator, Platt, Temperature};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

fn cases() -> Vec<Value> {
    let doc: Value = serde_json::from_str(include_str!("fixtures/sklearn_calibration.json")).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

fn data(case: &Value) -> (Vec<f64>, Vec<bool>, Vec<f64>) {
    let y: Vec<i64> = serde_json::from_value(case["y"].clone()).unwrap();
    (
        floats(&case["p"]),
        y.iter().map(|&y| y == 1).collect(),
        floats(&case["q"]),
    )
}

fn assert_close(got: &[f64], want: &[f64], tolerance: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tolerance, "{what}[{i}]: {g} against {w}");
    }
}

#[test]
fn platt_equals_sigmoid_calibration() {
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let (p, y, q) = data(&case);
        let fitted = Platt.fit_label(&p, &y).unwrap().calibrator;
        let LabelCalibrator::Platt { slope, intercept } = fitted else {
            panic!("{name}: {fitted:?}")
        };
        let want = &case["platt"];
        assert_close(
            &[slope, intercept],
            &[want["slope"].as_f64().unwrap(), want["intercept"].as_f64().unwrap()],
            1e-6,
            name,
        );
        let got: Vec<f64> = q.iter().map(|&q| fitted.apply(q)).collect();
        assert_close(&got, &floats(&want["q"]), 1e-6, name);
    }
}

#[test]
fn temperature_equals_temperature_scaling() {
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let (p, y, q) = data(&case);
        let fitted = Temperature.fit_label(&p, &y).unwrap().calibrator;
        let LabelCalibrator::Temperature { inverse_temperature } = fitted else {
            panic!("{name}: {fitted:?}")
        };
        let want = &case["temperature"];
        assert_close(
            &[inverse_temperature],
            &[want["inverse_temperature"].as_f64().unwrap()],
            1e-6,
            name,
        );
        let got: Vec<f64> = q.iter().map(|&q| fitted.apply(q)).collect();
        assert_close(&got, &floats(&want["q"]), 1e-6, name);
    }
}

#[test]
fn isotonic_equals_isotonic_regression_exactly() {
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let (p, y, q) = data(&case);
        let want = &case["isotonic"];
        let fit = IsotonicFit::fit(&p, &y);
        assert_eq!(fit.x, floats(&want["x"]), "{name}: knots");
        assert_eq!(fit.y, floats(&want["y"]), "{name}: values");
        let got: Vec<f64> = q.iter().map(|&q| fit.predict(q)).collect();
        assert_eq!(got, floats(&want["q"]), "{name}: predictions");
        // The stored calibrator is the same fit, clipped to [1/(n+2), (n+1)/(n+2)].
        let n = p.len() as f64;
        let stored = Isotonic.fit_label(&p, &y).unwrap().calibrator;
        for (&q, &w) in q.iter().zip(&floats(&want["q"])) {
            assert_eq!(
                stored.apply(q),
                w.clamp(1.0 / (n + 2.0), (n + 1.0) / (n + 2.0)),
                "{name}"
            );
        }
    }
}
