#!/usr/bin/env python3
"""Training speed of goemo against Python `transformers` on the same machine, in one run: the
MiniLM recipe (configs/minilm-cpu.toml: all-MiniLM-L6-v2, mean pooling, batch 32, max length
128, AdamW, clipping), the same number of optimiser steps from the start of epoch 1, the first
steps left out as warm-up. Prints a markdown table of examples/s and goemo's speed-up.

    make setup
    cargo build --release --example train
    .venv/bin/python scripts/bench_train_vs_transformers.py [--steps 160] [--skip 10] [--threads 2]
    .venv/bin/python scripts/bench_train_vs_transformers.py --epoch [--threads 2]

Python runs (scripts/train_transformers.py): every batch padded to 128, the usual dynamic-padding loop (random batches padded to their longest text), and dynamic
padding with length-grouped batches (transformers' `group_by_length`, what goemo's batcher does).
goemo's rate comes from its train_log.jsonl (examples/s since the epoch began, per step).

`--epoch` times one whole epoch of each instead (43,410 examples: the same texts, so the same
tokens, whatever the batches' composition): goemo, the length-grouped Python loop, and the same
loop written as an expert would (`train_transformers.py --expert --group-by-length`: texts
tokenized once, no host sync per step, fused AdamW, foreach clipping, SDPA); prints examples/s
and tokens/s (tokens without padding), and goemo's speed-up over each and over the faster.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def goemo_rate(steps, skip, threads):
    out = tempfile.mkdtemp()
    subprocess.run(
        [
            os.path.join(ROOT, "target", "release", "examples", "train"),
            "--config", os.path.join(ROOT, "configs", "minilm-cpu.toml"),
            "--max-steps", str(steps),
            "--threads", str(threads),
            "--save-every", "0",
            "--output-dir", out,
            "--run-name", "bench",
        ],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    log = [json.loads(line) for line in open(os.path.join(out, "bench", "train_log.jsonl"))]
    # examples_per_s is cumulative since the epoch began: elapsed time at step k is seen_k / rate_k.
    at = lambda k: (k * 32, k * 32 / log[k - 1]["examples_per_s"])  # noqa: E731
    (seen0, t0), (seen1, t1) = at(skip), at(steps)
    return (seen1 - seen0) / (t1 - t0)


def goemo_epoch_seconds(threads):
    out = tempfile.mkdtemp()
    subprocess.run(
        [
            os.path.join(ROOT, "target", "release", "examples", "train"),
            "--config", os.path.join(ROOT, "configs", "minilm-cpu.toml"),
            "--epochs", "1",
            "--threads", str(threads),
            "--save-every", "0",
            "--output-dir", out,
            "--run-name", "bench",
        ],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    metrics = json.load(open(os.path.join(out, "bench", "metrics.json")))
    return metrics["history"][0]["seconds"]


def train_tokens():
    """Tokens of the training split without padding, truncated at 128 as both systems do."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(os.path.join(ROOT, "data", "models", "all-MiniLM-L6-v2"))
    with open(os.path.join(ROOT, "data", "goemotions", "train.tsv"), encoding="utf-8") as f:
        texts = [line.split("\t")[0] for line in f.read().splitlines()]
    return len(texts), sum(len(ids) for ids in tokenizer(texts, truncation=True, max_length=128)["input_ids"])


def epoch(threads):
    import torch
    import transformers

    examples, tokens = train_tokens()
    steps = (examples + 31) // 32
    ours = goemo_epoch_seconds(threads)
    python = {}
    for name, flags in [("Python, length-grouped", []), ("Python, length-grouped, expert loop", ["--expert"])]:
        out = subprocess.run(
            [sys.executable, os.path.join(ROOT, "scripts", "train_transformers.py"), "--group-by-length", *flags,
             "--max-steps", str(steps), "--skip-steps", "0", "--threads", str(threads)],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
        python[name] = examples / json.loads(out.strip().splitlines()[-1])["examples_per_s"]
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, {threads} threads, "
        f"one whole epoch: {examples} examples, {tokens} tokens, batch 32"
    )
    print("| system | seconds | examples/s | tokens/s | goemo speed-up |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| goemo | {ours:.0f} | {examples / ours:.1f} | {tokens / ours:.0f} | |")
    for name, theirs in python.items():
        print(f"| {name} | {theirs:.0f} | {examples / theirs:.1f} | {tokens / theirs:.0f} | {theirs / ours:.2f}x |")
    fastest = min(python, key=python.get)
    print(f"\ngoemo against the faster Python loop ({fastest}): {python[fastest] / ours:.2f}x in tokens/s")


def python_rate(steps, skip, threads, *flags):
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "train_transformers.py"),
         "--max-steps", str(steps), "--skip-steps", str(skip), "--threads", str(threads), *flags],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["examples_per_s"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=160)
    p.add_argument("--skip", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epoch", action="store_true", help="time one whole epoch against the expert Python loop")
    args = p.parse_args()
    if args.epoch:
        epoch(args.threads)
        return
    import torch
    import transformers

    ours = goemo_rate(args.steps, args.skip, args.threads)
    rows = [
        ("Python, padded to 128", python_rate(args.steps, args.skip, args.threads, "--padding", "max_length")),
        ("Python, dynamic padding", python_rate(args.steps, args.skip, args.threads, "--padding", "longest")),
        ("Python, dynamic padding, length-grouped", python_rate(args.steps, args.skip, args.threads, "--padding", "longest", "--group-by-length")),
    ]
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, {args.threads} threads, "
        f"steps {args.skip + 1}..{args.steps} of epoch 1, batch 32"
    )
    print("| system | examples/s | goemo speed-up |")
    print("| --- | ---: | ---: |")
    print(f"| goemo | {ours:.1f} | |")
    for name, rate in rows:
        print(f"| {name} | {rate:.1f} | {ours / rate:.2f}× |")


if __name__ == "__main__":
    main()
