#!/usr/bin/env python3
"""Training speed of two `train` binaries (two commits of goemo) in one run, alternating, on the
MiniLM recipe: the same steps of epoch 1 timed for each, the first steps left out as warm-up.
Prints a markdown table of examples/s and the ratio of the second to the first.

    git worktree add /tmp/old OLD_COMMIT && (cd /tmp/old && cargo build --release --example train)
    cargo build --release --example train
    .venv/bin/python scripts/bench_train_binaries.py /tmp/old/target/release/examples/train \\
        target/release/examples/train [--steps 90] [--skip 10] [--rounds 2] [--threads 2]

The rate comes from each run's train_log.jsonl, as in scripts/bench_train_vs_transformers.py.
"""
import argparse
import json
import os
import subprocess
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def rate(binary, steps, skip, threads):
    out = tempfile.mkdtemp()
    subprocess.run(
        [binary, "--config", os.path.join(ROOT, "configs", "minilm-cpu.toml"), "--max-steps", str(steps),
         "--threads", str(threads), "--save-every", "0", "--output-dir", out, "--run-name", "bench"],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    log = [json.loads(line) for line in open(os.path.join(out, "bench", "train_log.jsonl"))]
    # examples_per_s is cumulative since the epoch began: elapsed time at step k is seen_k / rate_k.
    at = lambda k: (k * 32, k * 32 / log[k - 1]["examples_per_s"])  # noqa: E731
    (seen0, t0), (seen1, t1) = at(skip), at(steps)
    return (seen1 - seen0) / (t1 - t0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("first")
    p.add_argument("second")
    p.add_argument("--steps", type=int, default=90)
    p.add_argument("--skip", type=int, default=10)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    rates = {a.first: [], a.second: []}
    for _ in range(a.rounds):
        for binary in (a.first, a.second):
            rates[binary].append(rate(binary, a.steps, a.skip, a.threads))
    print(f"steps {a.skip + 1}..{a.steps} of epoch 1, {a.threads} threads, {a.rounds} rounds, alternating")
    print("| binary | examples/s per round | ratio |")
    print("| --- | ---: | ---: |")
    for binary in (a.first, a.second):
        ratio = sum(rates[binary]) / sum(rates[a.first])
        print(f"| {binary} | {', '.join(f'{r:.1f}' for r in rates[binary])} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
