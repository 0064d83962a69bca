#!/usr/bin/env python3
"""One AdamW step in PyTorch over all-MiniLM-L6-v2's parameter shapes with a 28-label head
(22.6M parameters, 103 tensors): single-tensor (PyTorch's CPU default), foreach and fused (what
goemo's AdamW calls). Prints a markdown table of milliseconds per step (mean of 20 steps after 3).

    .venv/bin/python scripts/bench_adamw_torch.py [--threads 2]
"""
import argparse
import time

import torch

LAYER = [(384, 384), (384,)] * 4 + [(384,), (384,), (1536, 384), (1536,), (384, 1536), (384,), (384,), (384,)]
SHAPES = [(30522, 384), (512, 384), (2, 384), (384,), (384,)] + LAYER * 6 + [(28, 384), (28,)]


def ms_per_step(options, steps=20, warmup=3):
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(shape)) for shape in SHAPES]
    for p in params:
        p.grad = torch.randn_like(p)
    optimizer = torch.optim.AdamW(params, lr=1e-4, **options)
    for _ in range(warmup):
        optimizer.step()
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    return (time.perf_counter() - start) / steps * 1e3


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    torch.set_num_threads(p.parse_args().threads)
    count = sum(torch.Size(s).numel() for s in SHAPES)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {count / 1e6:.1f}M parameters in {len(SHAPES)} tensors")
    print("| AdamW | ms per step |")
    print("| --- | ---: |")
    for name, options in [("single-tensor (CPU default)", {"foreach": False}), ("foreach", {"foreach": True}), ("fused", {"fused": True})]:
        print(f"| {name} | {ms_per_step(options):.1f} |")


if __name__ == "__main__":
    main()
