#!/usr/bin/env python3
"""Writes crates/goemo-stats/tests/fixtures/stats_cases.json: the distributions and tests of
goemo-stats as scipy computes them, which tests/fixtures.rs must reproduce to 1e-9.

    .venv/bin/pip install scipy && .venv/bin/python scripts/make_stats_fixtures.py

- chi2.sf, kstwo.sf and t.sf on grids that cross every branch of scipy's methods;
- chi2_contingency on 2x2 (Yates), 3x3 and 3x28 tables;
- ks_2samp (method="auto") on samples with ties: equal sizes, unequal sizes up to 10,000 (exact)
  and above (asymptotic), same and shifted distributions. Large samples are not stored: both
  sides draw them from the 32-bit LCG below (`lcg_sample`).
- ttest_ind(equal_var=False).
- The split consistency of the GoEmotions release in data/goemotions (χ² of split × label and
  split × {1, 2, 3+} labels, KS of character lengths per pair of splits), which
  tests/goemotions_data.rs compares with `dataset_stats`.
"""
import csv
import json
import os

import numpy as np
import scipy
import scipy.stats as st

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "goemo-stats", "tests", "fixtures", "stats_cases.json")


def lcg_sample(seed, n, modulus, shift_every):
    """n integers in 1..modulus from x <- (1664525 x + 1013904223) mod 2^32, using the high bits,
    plus 1 on every `shift_every`-th value (0: never) to shift the distribution."""
    x = seed
    out = []
    for i in range(n):
        x = (1664525 * x + 1013904223) % 2**32
        v = 1 + ((x >> 8) % modulus)
        # Skew towards short values, like text lengths: the smaller of two draws half the time.
        if (x >> 4) % 2 == 0:
            x = (1664525 * x + 1013904223) % 2**32
            v = min(v, 1 + ((x >> 8) % modulus))
        if shift_every and i % shift_every == 0:
            v += 1
        out.append(float(v))
    return out


def goemotions_consistency(folder):
    splits = {}
    for name in ["train", "dev", "test"]:
        with open(os.path.join(folder, f"{name}.tsv"), newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        splits[name] = [(text, [int(l) for l in labels.split(",")]) for text, labels, _ in rows]
    n_labels = 28
    label_table = [[sum(l in labels for _, labels in rows) for l in range(n_labels)] for rows in splits.values()]
    group_table = [[sum(min(len(labels), 3) == k for _, labels in rows) for k in (1, 2, 3)] for rows in splits.values()]
    out = {}
    for key, table in [("label_chi2", label_table), ("label_count_chi2", group_table)]:
        r = st.chi2_contingency(np.array(table))
        out[key] = {"statistic": float(r.statistic), "p_value": float(r.pvalue), "dof": int(r.dof)}
    lengths = {k: [len(t) for t, _ in v] for k, v in splits.items()}
    out["length_ks"] = []
    for a, b in [("train", "dev"), ("train", "test"), ("dev", "test")]:
        r = st.ks_2samp(lengths[a], lengths[b])
        out["length_ks"].append({"a": a, "b": b, "statistic": float(r.statistic), "p_value": float(r.pvalue)})
    return out


def main():
    cases = {"scipy": scipy.__version__}
    cases["chi2_sf"] = [
        {"x": x, "dof": k, "sf": float(st.chi2.sf(x, k))}
        for k in [1, 2, 3, 4, 9, 54, 81, 300]
        for x in [0.01, 0.5, 1.0, 3.84, 10.0, 54.0, 80.0, 150.0, 400.0]
    ]
    cases["t_sf"] = [
        {"t": t, "dof": d, "sf": float(st.t.sf(t, d))}
        for d in [1.0, 2.5, 4.236, 30.0, 1000.0]
        for t in [-3.0, -0.5, 0.0, 0.7, 2.0, 8.0]
    ]
    grid = []
    for n in [3, 10, 50, 140, 141, 500, 2713, 4823, 20000, 150000]:
        xs = {0.4 / n, 0.75 / n, 0.95 / n, 0.55, 0.8, 1.0 - 1.5 / n}
        for nx2 in [0.05, 0.3, 0.7, 0.76, 1.2, 2.0, 2.3, 3.9, 4.1, 10.0, 19.0, 100.0, 369.0, 371.0]:
            xs.add(float(np.sqrt(nx2 / n)))
        for x in sorted(xs):
            if 0 < x < 1:
                grid.append({"n": n, "x": x, "sf": float(st.kstwo.sf(x, n))})
    cases["kolmogorov_sf"] = grid

    rng = np.random.default_rng(11)
    tables = [
        [[12, 5], [3, 9]],
        [[30, 22, 8], [25, 30, 5], [31, 20, 4]],
        rng.integers(5, 400, size=(3, 28)).tolist(),
        [[43410 - 6000, 5000, 1000], [4700, 600, 126], [4650, 650, 127]],
    ]
    cases["chi2_contingency"] = []
    for t in tables:
        r = st.chi2_contingency(np.array(t))
        cases["chi2_contingency"].append({"table": t, "statistic": float(r.statistic), "p_value": float(r.pvalue), "dof": int(r.dof)})

    ks = []
    small = [
        ([1, 2, 2, 3, 5, 8, 8, 9], [2, 3, 3, 4, 6, 7, 10]),
        ([0.5, 1.5, 2.5, 3.5], [0.7, 1.7, 2.7, 3.7]),
        ([1, 1, 1, 2], [3, 3, 4, 5, 6]),
    ]
    for a, b in small:
        r = st.ks_2samp(a, b)
        ks.append({"a": [float(v) for v in a], "b": [float(v) for v in b], "statistic": float(r.statistic), "p_value": float(r.pvalue)})
    generated = [
        ((1, 300, 120, 0), (2, 300, 120, 0)),
        ((3, 5426, 300, 0), (4, 5427, 300, 0)),
        ((5, 5426, 300, 0), (6, 5426, 300, 0)),
        ((7, 5426, 300, 0), (8, 5427, 300, 3)),
        ((9, 43410, 300, 0), (10, 5426, 300, 0)),
        ((11, 43410, 300, 0), (12, 5427, 300, 5)),
        ((13, 43410, 300, 0), (14, 150, 300, 0)),
        ((15, 12000, 300, 0), (16, 11000, 300, 2)),
        ((17, 43410, 60, 0), (18, 5426, 60, 1)),
        ((19, 2000, 40, 0), (20, 3000, 40, 1)),
    ]
    for sa, sb in generated:
        r = st.ks_2samp(lcg_sample(*sa), lcg_sample(*sb))
        ks.append({"a_lcg": list(sa), "b_lcg": list(sb), "statistic": float(r.statistic), "p_value": float(r.pvalue)})
    cases["ks_2samp"] = ks

    welch = []
    for a, b in [([1, 2, 3, 4], [2, 4, 6, 8.5]), ([0.51, 0.52, 0.515], [0.49, 0.50, 0.495, 0.50])]:
        r = st.ttest_ind(a, b, equal_var=False)
        welch.append({"a": a, "b": b, "statistic": float(r.statistic), "p_value": float(r.pvalue), "dof": float(r.df)})
    cases["welch"] = welch

    data = os.path.join(os.path.dirname(__file__), "..", "data", "goemotions")
    cases["goemotions"] = goemotions_consistency(data)

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)}: {len(grid)} kstwo points, {len(ks)} KS tests")


if __name__ == "__main__":
    main()
