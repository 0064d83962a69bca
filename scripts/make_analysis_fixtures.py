#!/usr/bin/env python3
"""Writes crates/goemo-analysis/tests/fixtures/analysis_cases.json: the statistics of the Model
Performance document as scikit-learn, scipy and numpy compute them, which goemo-analysis's tests
must reproduce to 1e-9.

    .venv/bin/pip install scikit-learn scipy && .venv/bin/python scripts/make_analysis_fixtures.py

Inputs: a random multi-label set (probabilities with ties, true and predicted labels, a label that
is never true and one never predicted) and two samples of metric values (seeds).
- Brier: `sklearn.metrics.brier_score_loss` per label and on the flattened matrix (micro).
- ECE: 10 equal-width bins, bin = floor(10 p) clipped to 0..9, sum of n_b / N |mean(y)_b - mean(p)_b|.
- Combinations: true label sets by count; exact match, any shared label, and
  `sklearn.metrics.jaccard_score(average="samples", zero_division=1)` over each set's examples.
- Co-occurrence: examples with both labels (true, predicted), P(b|a), lift and ln(lift).
- Welch: `scipy.stats.ttest_ind(a, b, equal_var=False)`.
"""
import json
import math
import os

import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn.metrics import brier_score_loss, jaccard_score

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "goemo-analysis", "tests", "fixtures", "analysis_cases.json")
LABELS = ["joy", "anger", "fear", "grief", "neutral"]


def ece(p, y):
    bins = np.clip(np.floor(10 * p).astype(int), 0, 9)
    total = 0.0
    for b in range(10):
        m = bins == b
        if m.any():
            total += m.sum() / len(p) * abs(y[m].mean() - p[m].mean())
    return float(total)


def main():
    rng = np.random.default_rng(7)
    n, k = 120, len(LABELS)
    targets = rng.random((n, k)) < np.array([0.3, 0.15, 0.1, 0.0, 0.35])
    probs = np.clip(np.where(targets, 0.6, 0.25) + rng.normal(0, 0.22, (n, k)), 0, 1)
    probs = np.round(probs, 2)  # ties, and exact 0.0 and 1.0
    predicted = probs >= 0.45
    predicted[:, 2] = False  # a label never predicted
    y = targets.astype(int)

    brier = [float(brier_score_loss(y[:, j], probs[:, j])) for j in range(k)]
    expected = {
        "brier": brier,
        "brier_micro": float(brier_score_loss(y.ravel(), probs.ravel())),
        "ece": [ece(probs[:, j], y[:, j]) for j in range(k)],
    }

    groups = {}
    for i in range(n):
        key = "+".join(l for l, t in zip(LABELS, targets[i]) if t)
        groups.setdefault(key, []).append(i)
    combos = []
    for key, rows in groups.items():
        t, p = targets[rows], predicted[rows]
        combos.append(
            {
                "labels": key,
                "count": len(rows),
                "exact_match": float(np.mean([(t[r] == p[r]).all() for r in range(len(rows))])),
                "partial_match": float(np.mean([(t[r] & p[r]).any() for r in range(len(rows))])),
                "mean_jaccard": float(jaccard_score(t.astype(int), p.astype(int), average="samples", zero_division=1)),
            }
        )
    combos.sort(key=lambda c: (-c["count"], c["labels"]))
    expected["combos"] = combos

    pairs = []
    single = targets.sum(0)
    for a in range(k):
        for b in range(k):
            if a == b:
                continue
            ct = int((targets[:, a] & targets[:, b]).sum())
            cp = int((predicted[:, a] & predicted[:, b]).sum())
            if ct == 0 and cp == 0:
                continue
            lift = (ct / n) / ((single[a] / n) * (single[b] / n)) if single[a] and single[b] else float("nan")
            pairs.append(
                {
                    "a": LABELS[a],
                    "b": LABELS[b],
                    "count_true": ct,
                    "count_predicted": cp,
                    "p_b_given_a": ct / single[a] if single[a] else None,
                    "lift": lift if math.isfinite(lift) else None,
                    "pmi": math.log2(lift) if math.isfinite(lift) and lift > 0 else None,
                }
            )
    expected["pairs"] = pairs

    seeds_a = [0.9605, 0.9611, 0.9598, 0.9620]
    seeds_b = [0.9585, 0.9579, 0.9590]
    t = scipy.stats.ttest_ind(seeds_a, seeds_b, equal_var=False)
    expected["welch"] = {"a": seeds_a, "b": seeds_b, "statistic": float(t.statistic), "dof": float(t.df), "p_value": float(t.pvalue)}

    doc = {
        "made_by": f"scripts/make_analysis_fixtures.py (scikit-learn {sklearn.__version__}, scipy {scipy.__version__}, numpy {np.__version__})",
        "labels": LABELS,
        "probabilities": probs.tolist(),
        "targets": targets.astype(int).tolist(),
        "predicted": predicted.astype(int).tolist(),
        "expected": expected,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(OUT + ".tmp", OUT)
    print(f"wrote {OUT}: {len(combos)} label sets, {len(pairs)} pairs")


if __name__ == "__main__":
    main()
