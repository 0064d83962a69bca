#!/usr/bin/env python3
"""Writes crates/goemo-calibration/tests/fixtures/sklearn_calibration.json: what scikit-learn's
CalibratedClassifierCV fits and predicts on synthetic multi-label-like scores, which the Rust
tests must reproduce (Platt and temperature to 1e-6, isotonic exactly).

    .venv/bin/pip install scikit-learn && .venv/bin/python scripts/make_calibration_fixtures.py

Each case is one label: dev probabilities p with outcomes y, and query probabilities q.
- method="sigmoid" and method="temperature" calibrate a frozen classifier whose decision
  function is logit(p), as goemo calibrates the logits of its sigmoid outputs;
- method="isotonic" calibrates a frozen classifier whose predict_proba is p (isotonic on the
  probability itself). IsotonicRegression's knots are recorded too.
"""
import json
import os

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression

OUT = os.path.join(
    os.path.dirname(__file__), "..", "crates", "goemo-calibration", "tests", "fixtures", "sklearn_calibration.json"
)
CLAMP = 1e-15


def logit(p):
    p = np.clip(p, CLAMP, 1 - CLAMP)
    return np.log(p) - np.log1p(-p)


class LogitScores(ClassifierMixin, BaseEstimator):
    """X[:, 0] holds probabilities; the decision function is their logit."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X):
        return logit(np.asarray(X)[:, 0])

    def predict(self, X):
        return (np.asarray(X)[:, 0] >= 0.5).astype(int)


class ProbabilityScores(ClassifierMixin, BaseEstimator):
    """X[:, 0] holds probabilities, returned by predict_proba (no decision function)."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        p = np.asarray(X)[:, 0]
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (np.asarray(X)[:, 0] >= 0.5).astype(int)


def calibrated(base, method, p, y, q):
    model = CalibratedClassifierCV(FrozenEstimator(base.fit(p[:, None], y)), method=method)
    model.fit(p[:, None], y)
    return model, model.predict_proba(q[:, None])[:, 1]


def case(name, p, y, q):
    p, y, q = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.int64), np.asarray(q, dtype=np.float64)
    platt_model, platt = calibrated(LogitScores(), "sigmoid", p, y, q)
    sig = platt_model.calibrated_classifiers_[0].calibrators[0]
    temp_model, temperature = calibrated(LogitScores(), "temperature", p, y, q)
    beta = float(temp_model.calibrated_classifiers_[0].calibrators[0].beta_)
    _, isotonic = calibrated(ProbabilityScores(), "isotonic", p, y, q)
    iso = IsotonicRegression(out_of_bounds="clip").fit(p, y)
    assert np.array_equal(iso.predict(q), isotonic)
    return {
        "name": name,
        "p": p.tolist(),
        "y": y.tolist(),
        "q": q.tolist(),
        "platt": {"slope": float(-sig.a_), "intercept": float(-sig.b_), "q": platt.tolist()},
        # The two-class softmax of (−z, z)·β is σ(2βz): goemo's inverse temperature is 2β.
        "temperature": {"inverse_temperature": 2 * beta, "q": temperature.tolist()},
        "isotonic": {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist(), "q": isotonic.tolist()},
    }


def main():
    rng = np.random.default_rng(20261204)
    cases = []
    # Scores inflated as an asymmetric loss leaves them: true frequency well under the score.
    p = rng.beta(2, 5, size=3000)
    y = rng.random(3000) < p / 3
    cases.append(case("inflated", p, y, np.linspace(0, 1, 101)))
    # A rare label (1 % positives) with over-confident scores.
    z = rng.normal(-4, 2, size=5000)
    y = rng.random(5000) < 1 / (1 + np.exp(-(0.5 * z - 2.5)))
    cases.append(case("rare", 1 / (1 + np.exp(-z)), y, rng.random(200)))
    # Heavy ties: scores rounded to two decimals (isotonic merges equal inputs).
    p = np.round(rng.random(2000), 2)
    y = rng.random(2000) < p**2
    cases.append(case("tied", p, y, np.round(rng.random(100), 3)))
    # Under-confident scores squeezed around 0.5, and queries outside the dev range.
    p = 0.4 + 0.2 * rng.random(1500)
    y = rng.random(1500) < (p - 0.4) * 5
    cases.append(case("underconfident", p, y, np.concatenate([[0.0, 0.1, 0.39, 0.61, 0.9, 1.0], rng.random(50)])))
    # Saturated scores at exactly 0 and 1.
    p = np.concatenate([np.zeros(50), np.ones(50), rng.random(400)])
    y = np.concatenate([rng.random(50) < 0.05, rng.random(50) < 0.9, rng.random(400) < 0.5])
    cases.append(case("saturated", p, y, np.array([0.0, 1e-20, 0.5, 1.0])))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": cases}, f)
    print(f"{len(cases)} cases -> {OUT}")


if __name__ == "__main__":
    main()
