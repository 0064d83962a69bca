#!/usr/bin/env python3
"""Data-parallel overhead on this machine, in one run: prints a markdown table.

1. One all-reduce of a model's gradients (MiniLM: 22.7M float32, 91 MB) over 2 Gloo ranks:
   goemo's bucketed sum (examples/bench_allreduce) against torch.distributed's all_reduce of
   25 MiB buckets, the gradients copied into them and back as DDP does by default.
2. Training examples/s of the MiniLM recipe (configs/minilm-cpu.toml): 1 process x 2 threads
   against torchrun with 2 Gloo ranks x 1 thread, the same global batches, steps SKIP..STEPS
   timed; and the wall time of the rest of each run (model load, three evaluations of dev or
   test, artifacts), where the 2-rank run shards evaluation across its ranks.
3. The overlap: 2-rank training with each gradient bucket summed as soon as the backward pass
   completes it (the default) against all buckets summed after the pass
   (--reduce-after-backward), PAIRS alternating pairs, means reported.

    .venv/bin/python scripts/bench_distributed.py [--steps 60] [--skip 10] [--pairs 2]

Needs `cargo build --release --example train --example bench_allreduce`.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "examples"
TORCHRUN = ROOT / ".venv" / "bin" / "torchrun"

TORCH_ALLREDUCE = r"""
import json, os, sys, time, torch, torch.distributed as dist
from safetensors.torch import load_file
model, rounds, bucket = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(1)
dist.init_process_group("gloo")
# Gradients of the checkpoint's tensor shapes, copied into flat 25 MiB buckets and back, as
# DistributedDataParallel does by default (gradient_as_bucket_view=False).
grads = [torch.ones_like(t, dtype=torch.float32) for t in load_file(f"{model}/model.safetensors").values()]
buckets, current, size = [], [], 0
for g in grads:
    if current and size + g.numel() > bucket:
        buckets.append(current); current, size = [], 0
    current.append(g); size += g.numel()
buckets.append(current)
flats = [torch.empty(sum(g.numel() for g in b)) for b in buckets]
def copy(b, flat, into):
    offset = 0
    for g in b:
        view = flat[offset:offset + g.numel()].view_as(g)
        (view.copy_(g) if into else g.copy_(view)); offset += g.numel()
times = []
for r in range(rounds + 2):
    t = time.perf_counter()
    for b, flat in zip(buckets, flats): copy(b, flat, True)
    works = [dist.all_reduce(f, async_op=True) for f in flats]
    for w in works:
        w.wait()
    for b, flat in zip(buckets, flats): copy(b, flat, False)
    if r >= 2:
        times.append((time.perf_counter() - t) * 1e3)
times.sort()
if dist.get_rank() == 0:
    print(json.dumps({"implementation": "torch.distributed", "elements": sum(g.numel() for g in grads), "rounds": len(times),
                      "mean_ms": sum(times) / len(times), "p50_ms": times[len(times) // 2], "min_ms": times[0]}))
dist.destroy_process_group()
"""


def port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(nproc, command):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    launcher = [str(TORCHRUN), "--nproc-per-node", str(nproc), "--master-port", str(port())]
    return subprocess.run(launcher + command, env=env, capture_output=True, text=True, check=True)


def last_json(stdout):
    return json.loads([l for l in stdout.splitlines() if l.startswith("{")][-1])


def allreduce(rounds):
    goemo = last_json(torchrun(2, ["--no-python", str(BIN / "bench_allreduce"), "--rounds", str(rounds)]).stdout)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(TORCH_ALLREDUCE)
    bucket = (25 << 20) // 4
    model = ROOT / "data/models/all-MiniLM-L6-v2"
    torch = last_json(torchrun(2, ["--no-python", sys.executable, f.name, str(model), str(rounds), str(bucket)]).stdout)
    return goemo, torch


def train(world, steps, skip, out, overlap=True):
    name = f"world{world}" + ("" if overlap else "-after")
    args = ["--config", str(ROOT / "configs/minilm-cpu.toml"), "--max-steps", str(steps), "--epochs", "1",
            "--save-every", "0", "--output-dir", str(out), "--run-name", name]
    if not overlap:
        args.append("--reduce-after-backward")
    started = time.perf_counter()
    if world == 1:
        subprocess.run([str(BIN / "train"), *args, "--threads", "2"], capture_output=True, text=True, check=True)
    else:
        torchrun(world, ["--no-python", str(BIN / "train"), *args, "--threads", "1"])
    wall = time.perf_counter() - started
    log = [json.loads(l) for l in (out / name / "train_log.jsonl").read_text().splitlines()]
    batch = json.loads((out / name / "metrics.json").read_text())["configuration"]["batch_size"]
    # examples_per_s is the epoch's running mean: elapsed = seen / rate at each step.
    elapsed = lambda e: e["step"] * batch / e["examples_per_s"]
    a, b = log[skip - 1], log[-1]
    rate = (b["step"] - a["step"]) * batch / (elapsed(b) - elapsed(a))
    return rate, wall - elapsed(b)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--skip", type=int, default=10)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--pairs", type=int, default=2)
    a = p.parse_args()
    goemo, torch = allreduce(a.rounds)
    during, after = [], []
    with tempfile.TemporaryDirectory() as tmp:
        one_rate, one_rest = train(1, a.steps, a.skip, Path(tmp))
        two_rate, two_rest = train(2, a.steps, a.skip, Path(tmp))
        during.append(two_rate)
        for pair in range(a.pairs):
            after.append(train(2, a.steps, a.skip, Path(tmp), overlap=False)[0])
            if pair + 1 < a.pairs:
                during.append(train(2, a.steps, a.skip, Path(tmp))[0])
    mean = lambda xs: sum(xs) / len(xs)
    batch = tomllib.loads((ROOT / "configs/minilm-cpu.toml").read_text())["batch_size"]
    step_ms = lambda rate: batch / rate * 1e3
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"{time.strftime('%Y-%m-%d')}, {cpu}, {os.cpu_count()} cores; MiniLM recipe, steps {a.skip + 1}-{a.steps} timed\n")
    print("| measurement | value |\n| --- | ---: |")
    print(f"| all-reduce of {goemo['megabytes']:.1f} MB over 2 Gloo ranks, goemo (p50 of {goemo['rounds']}) | {goemo['p50_ms']:.1f} ms |")
    print(f"| the same in PyTorch: DDP-style bucket copies + torch.distributed all_reduce (p50 of {torch['rounds']}) | {torch['p50_ms']:.1f} ms |")
    print(f"| training, 1 process x 2 threads | {one_rate:.1f} examples/s |")
    print(f"| training, torchrun 2 Gloo ranks x 1 thread | {two_rate:.1f} examples/s ({two_rate / one_rate:.2f}x) |")
    print(f"| 2 ranks, buckets summed during backward (mean of {len(during)} runs: "
          f"{', '.join(f'{r:.1f}' for r in during)}) | {mean(during):.1f} examples/s, {step_ms(mean(during)):.0f} ms/step |")
    print(f"| 2 ranks, buckets summed after backward, --reduce-after-backward (mean of {len(after)}: "
          f"{', '.join(f'{r:.1f}' for r in after)}) | {mean(after):.1f} examples/s, {step_ms(mean(after)):.0f} ms/step |")
    print(f"| time per step saved by the overlap | {step_ms(mean(after)) - step_ms(mean(during)):.0f} ms "
          f"({mean(during) / mean(after):.2f}x) |")
    print(f"| load + 3 evaluations + artifacts, 1 process x 2 threads | {one_rest:.1f} s |")
    print(f"| the same, 2 ranks x 1 thread (evaluation sharded) | {two_rest:.1f} s |")


if __name__ == "__main__":
    main()
