#!/usr/bin/env python3
"""Inference speed of goemo against Python `transformers` on the same machine, in one run:
all-MiniLM-L6-v2 with a 28-label classification head on the 5,427 GoEmotions test texts,
batch 64, 2 threads, tokenization included. Prints a markdown table and goemo's latency table.

    make setup
    LIBTORCH_USE_PYTORCH=1 VIRTUAL_ENV=$PWD/.venv PATH=$PWD/.venv/bin:$PATH \
        .venv/bin/python scripts/bench_inference_vs_transformers.py

Python runs: `padding="longest"` per batch of 64 in file order under `torch.no_grad()` (the usual
loop), and `padding="max_length"` to 128.
"""
import json
import os
import resource
import subprocess
import sys
import time

import torch
import transformers
from transformers import AutoModelForSequenceClassification, AutoTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODEL = os.path.join(ROOT, "data", "models", "all-MiniLM-L6-v2")
TEXTS = os.path.join(ROOT, "data", "goemotions", "test.tsv")
THREADS = 2
BATCH = 64


def python_texts_per_s(texts, padding):
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForSequenceClassification.from_pretrained(
        MODEL, num_labels=28, problem_type="multi_label_classification"
    ).eval()
    best = 0.0
    for _ in range(2):
        start = time.perf_counter()
        with torch.no_grad():
            for i in range(0, len(texts), BATCH):
                batch = tokenizer(texts[i : i + BATCH], padding=padding, truncation=True, max_length=128, return_tensors="pt")
                torch.sigmoid(model(**batch).logits)
        best = max(best, len(texts) / (time.perf_counter() - start))
    return best


def main():
    torch.set_num_threads(THREADS)
    texts = [line.split("\t")[0] for line in open(TEXTS, encoding="utf-8").read().splitlines()]
    longest = python_texts_per_s(texts, "longest")
    padded = python_texts_per_s(texts, "max_length")
    python_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = subprocess.run(
        ["cargo", "bench", "-q", "--bench", "inference", "--", MODEL, TEXTS, str(THREADS)],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    goemo = json.loads(out.strip().splitlines()[-1])
    ours = goemo["throughput_texts_per_s"]
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {THREADS} threads, {len(texts)} texts, batch {BATCH}")
    print("| system | texts/s | goemo speed-up |")
    print("| --- | ---: | ---: |")
    print(f"| goemo (length-sorted, dynamic padding) | {ours:.0f} | 1.0x |")
    print(f"| transformers, padding='longest' | {longest:.0f} | {ours / longest:.2f}x |")
    print(f"| transformers, padding to 128 (reference setup) | {padded:.0f} | {ours / padded:.2f}x |")
    print(f"\npeak resident memory: goemo {goemo['peak_rss_mib']:.0f} MiB, Python {python_rss:.0f} MiB\n")
    print("| batch size | mean ms | p50 ms | p95 ms | p99 ms | texts/s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in goemo["latency"]:
        print(
            f"| {row['batch_size']} | {row['mean_ms']:.2f} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | "
            f"{row['p99_ms']:.2f} | {row['texts_per_s']:.0f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
