#!/usr/bin/env python3
"""Writes crates/goemo-metrics/tests/fixtures/sklearn_cases.json: metric values that scikit-learn
computed, which the Rust tests must reproduce to 1e-9.

    .venv/bin/pip install scikit-learn && .venv/bin/python scripts/make_metric_fixtures.py

Cases: random scores; heavily tied scores (rounded to 2 decimals, and to 1 decimal); a class with
no positive and a class with no prediction at 0.5. Classes without a defined AUC/AP are left out
of the macro and weighted averages (scikit-learn raises or returns 0 there; goemo leaves them out).
"""
import json
import os

import numpy as np
import sklearn
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    log_loss,
    f1_score,
    hamming_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "goemo-metrics", "tests", "fixtures", "sklearn_cases.json")


def make_case(name, scores, targets, threshold=0.5):
    preds = (scores >= threshold).astype(int)
    n, c = scores.shape
    defined_auc = [j for j in range(c) if 0 < targets[:, j].sum() < n]
    defined_ap = [j for j in range(c) if targets[:, j].sum() > 0]
    per_auc = [float(roc_auc_score(targets[:, j], scores[:, j])) if j in defined_auc else None for j in range(c)]
    per_ap = [float(average_precision_score(targets[:, j], scores[:, j])) if j in defined_ap else None for j in range(c)]
    support = targets.sum(axis=0)
    zd = dict(zero_division=0)
    expected = {
        "auc_micro": float(roc_auc_score(targets.ravel(), scores.ravel())),
        "auc_macro": float(roc_auc_score(targets[:, defined_auc], scores[:, defined_auc], average="macro")),
        "auc_weighted": float(roc_auc_score(targets[:, defined_auc], scores[:, defined_auc], average="weighted")),
        "ap_micro": float(average_precision_score(targets, scores, average="micro")),
        "ap_macro": float(np.mean([per_ap[j] for j in defined_ap])),
        "f1_micro": float(f1_score(targets, preds, average="micro", **zd)),
        "f1_macro": float(f1_score(targets, preds, average="macro", **zd)),
        "f1_weighted": float(f1_score(targets, preds, average="weighted", **zd)),
        "f1_samples": float(f1_score(targets, preds, average="samples", **zd)),
        "precision_micro": float(precision_score(targets, preds, average="micro", **zd)),
        "precision_macro": float(precision_score(targets, preds, average="macro", **zd)),
        "recall_micro": float(recall_score(targets, preds, average="micro", **zd)),
        "recall_macro": float(recall_score(targets, preds, average="macro", **zd)),
        "subset_accuracy": float(accuracy_score(targets, preds)),
        "hamming_loss": float(hamming_loss(targets, preds)),
        "per_class_auc": per_auc,
        "per_class_ap": per_ap,
        "per_class_f1": [float(v) for v in f1_score(targets, preds, average=None, **zd)],
        "per_class_precision": [float(v) for v in precision_score(targets, preds, average=None, **zd)],
        "per_class_recall": [float(v) for v in recall_score(targets, preds, average=None, **zd)],
        "per_class_support": [int(v) for v in support],
        "per_class_brier": [float(brier_score_loss(targets[:, j], scores[:, j])) for j in range(c)],
        "brier_micro": float(brier_score_loss(targets.ravel(), scores.ravel())),
        "per_class_log_loss": [float(log_loss(targets[:, j], scores[:, j], labels=[0, 1])) for j in range(c)],
        "log_loss_micro": float(log_loss(targets.ravel(), scores.ravel(), labels=[0, 1])),
        # Best F1 reachable on these scores by one threshold per class ("predict score >= t"),
        # by brute force over every distinct score, and by one global threshold for micro F1.
        "per_class_best_f1": [best_f1(scores[:, j], targets[:, j]) for j in range(c)],
        "global_best_micro_f1": best_f1(scores.ravel(), targets.ravel()),
    }
    return {
        "name": name,
        "threshold": threshold,
        "scores": scores.tolist(),
        "targets": targets.tolist(),
        "expected": expected,
    }


def best_f1(scores, targets):
    best = 0.0
    for t in np.unique(scores):
        p = scores >= t
        tp = int((p & (targets == 1)).sum())
        fp = int((p & (targets == 0)).sum())
        fn = int((~p & (targets == 1)).sum())
        if tp > 0:
            best = max(best, 2 * tp / (2 * tp + fp + fn))
    return float(best)


def main():
    rng = np.random.default_rng(20261126)
    n, c = 300, 6
    prevalence = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.02])
    targets = (rng.random((n, c)) < prevalence).astype(int)
    signal = targets * rng.normal(0.25, 0.1, (n, c))
    scores = np.clip(rng.random((n, c)) * 0.7 + signal, 0.0, 1.0)
    cases = [
        make_case("random", scores, targets),
        make_case("tied_2_decimals", np.round(scores, 2), targets),
        make_case("tied_1_decimal", np.round(scores, 1), targets),
    ]
    edge_targets = targets.copy()
    edge_targets[:, 2] = 0  # a class with no positive: AUC and AP undefined
    edge_scores = np.round(scores, 2)
    edge_scores[:, 4] = edge_scores[:, 4] * 0.4  # a class with no prediction at 0.5
    cases.append(make_case("no_positive_and_no_prediction", edge_scores, edge_targets))
    doc = {"generator": "scripts/make_metric_fixtures.py", "sklearn": sklearn.__version__, "cases": cases}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f)
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)} (scikit-learn {sklearn.__version__})")


if __name__ == "__main__":
    main()
