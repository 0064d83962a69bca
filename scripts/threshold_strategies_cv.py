#!/usr/bin/env python3
"""Threshold strategies on a run folder's predictions, chosen without test: each strategy is fitted
on one half of dev and scored on the other (2 folds, 5 random splits), then fitted on all of dev
and scored on test for the record.

    .venv/bin/pip install scikit-learn && .venv/bin/python scripts/threshold_strategies_cv.py runs/minilm-cpu-ensemble

Strategies: per-class F1-optimal thresholds (goemo-threshold's PerClass, as
scripts/train_transformers.py's fit_per_class), one global threshold fitted for micro or macro F1
(0.01 steps), and per-class thresholds shrunk towards the micro-optimal global one with weight k
(threshold = (n_pos t_class + k t_global) / (n_pos + k)).
"""
import csv
import os
import sys

import numpy as np
from sklearn.metrics import f1_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_transformers import fit_per_class  # noqa: E402


def load(run, split):
    with open(os.path.join(run, f"predictions_{split}.csv"), encoding="utf-8") as f:
        rows = list(csv.reader(f))
    labels, body = rows[0][4:], sorted(rows[1:], key=lambda r: r[0])
    scores = np.array([[float(v) for v in r[4:]] for r in body])
    targets = np.array([[label in set(r[2].split(",")) for label in labels] for r in body]).astype(int)
    return scores, targets


def global_threshold(scores, targets, average):
    best = max(np.arange(0.01, 1.0, 0.01), key=lambda t: f1_score(targets, scores >= t, average=average, zero_division=0))
    return np.full(scores.shape[1], best)


def shrunk(scores, targets, k):
    per_class, overall = fit_per_class(scores, targets), global_threshold(scores, targets, "micro")
    per_class = np.where(np.isfinite(per_class), per_class, overall)
    positives = targets.sum(0)
    return (positives * per_class + k * overall) / (positives + k)


def main():
    run = sys.argv[1]
    dev_scores, dev_targets = load(run, "dev")
    test_scores, test_targets = load(run, "test")
    strategies = {
        "per-class": fit_per_class,
        "global, micro F1": lambda s, t: global_threshold(s, t, "micro"),
        "global, macro F1": lambda s, t: global_threshold(s, t, "macro"),
    }
    for k in (10, 30, 100):
        strategies[f"shrunk, k={k}"] = lambda s, t, k=k: shrunk(s, t, k)
    rng = np.random.default_rng(0)
    print("| strategy | dev 2-fold micro F1 | dev 2-fold macro F1 | test micro F1 | test macro F1 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, fit in strategies.items():
        folds = []
        for _ in range(5):
            order = rng.permutation(len(dev_targets))
            a, b = order[: len(order) // 2], order[len(order) // 2 :]
            for fit_rows, eval_rows in ((a, b), (b, a)):
                predicted = dev_scores[eval_rows] >= fit(dev_scores[fit_rows], dev_targets[fit_rows])
                folds.append(
                    [f1_score(dev_targets[eval_rows], predicted, average=avg, zero_division=0) for avg in ("micro", "macro")]
                )
        micro, macro = np.mean(folds, 0)
        predicted = test_scores >= fit(dev_scores, dev_targets)
        test = [f1_score(test_targets, predicted, average=avg, zero_division=0) for avg in ("micro", "macro")]
        print(f"| {name} | {micro:.4f} | {macro:.4f} | {test[0]:.4f} | {test[1]:.4f} |")


if __name__ == "__main__":
    main()
