#!/usr/bin/env python3
"""Times the full metric report and the per-class threshold fit in scikit-learn and in goemo, on
the same matrices, in one run, and prints a table.

    make setup && .venv/bin/pip install scikit-learn
    LIBTORCH_USE_PYTORCH=1 VIRTUAL_ENV=$PWD/.venv PATH=$PWD/.venv/bin:$PATH \
        .venv/bin/python scripts/bench_metrics_vs_sklearn.py

The scikit-learn side computes ROC AUC micro, macro and per class, and precision, recall and F1
micro, macro and per class (6 calls). goemo computes its whole MetricReport (all of that plus
weighted and samples averages, AP, subset accuracy, Hamming loss). Data: GoEmotions-like
prevalence (1-31 %), scores with signal; f64, the same scores rounded to f32 as a model emits,
and (at 200,000 rows) rounded to 2 decimals, heavily tied.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import sklearn
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def sklearn_report(scores, targets, predictions):
    roc_auc_score(targets, scores, average="micro")
    roc_auc_score(targets, scores, average="macro")
    roc_auc_score(targets, scores, average=None)
    for average in ("micro", "macro", None):
        precision_recall_fscore_support(targets, predictions, average=average, zero_division=0)


def sklearn_per_class_fit(scores, targets):
    # The usual scikit-learn way: precision_recall_curve per class, argmax of F1.
    from sklearn.metrics import precision_recall_curve

    for j in range(scores.shape[1]):
        p, r, t = precision_recall_curve(targets[:, j], scores[:, j])
        f1 = np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=(p + r) > 0)
        t[min(int(np.argmax(f1[:-1])), len(t) - 1)]


def main():
    subprocess.run(["cargo", "bench", "--bench", "report_vs_sklearn", "--no-run", "-q"], cwd=ROOT, check=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, repeats in ((5427, 21), (200_000, 3)):
            rng = np.random.default_rng(7)
            c = 28
            prevalence = 0.01 + 0.3 * np.arange(c) / c
            targets = (rng.random((n, c)) < prevalence).astype(np.float64)
            scores = np.clip(rng.random((n, c)) * 0.7 + 0.3 * targets, 0, 1)
            for kind in ("f64", "f32", "f64 tied"):
                if kind == "f64 tied" and n < 10_000:
                    continue
                s = {
                    "f64": scores,
                    "f32": scores.astype(np.float32).astype(np.float64),
                    # Heavily tied: 101 distinct scores, each shared by ~55,000 cells.
                    "f64 tied": np.round(scores, 2),
                }[kind]
                predictions = (s >= 0.5).astype(int)
                sk_report = median_ms(lambda: sklearn_report(s, targets, predictions), repeats)
                sk_fit = median_ms(lambda: sklearn_per_class_fit(s, targets), repeats) if n < 10_000 else float("nan")
                s_path, t_path = os.path.join(tmp, "s.f64"), os.path.join(tmp, "t.f64")
                s.astype("<f8").tofile(s_path)
                targets.astype("<f8").tofile(t_path)
                args = [s_path, t_path, str(n), str(c), str(max(repeats, 11))] + (["f32"] if kind == "f32" else [])
                out = subprocess.run(
                    ["cargo", "bench", "-q", "--bench", "report_vs_sklearn", "--"] + args,
                    cwd=ROOT, check=True, capture_output=True, text=True,
                ).stdout
                goemo = json.loads(out.strip().splitlines()[-1])
                rows.append((f"{n:,}x{c} {kind}", sk_report, goemo["report_ms"], sk_fit, goemo["per_class_fit_ms"]))
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, {os.cpu_count()} cores")
    print("| data | scikit-learn report (ms) | goemo report (ms) | speed-up | scikit-learn per-class fit (ms) | goemo per-class fit (ms) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, sk, ours, sk_fit, fit in rows:
        sk_fit_text = "-" if np.isnan(sk_fit) else f"{sk_fit:.1f}"
        print(f"| {name} | {sk:.1f} | {ours:.2f} | {sk / ours:.1f}x | {sk_fit_text} | {fit:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
