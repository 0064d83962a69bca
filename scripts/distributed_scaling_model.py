#!/usr/bin/env python3
"""A model of data-parallel step time and scaling efficiency (docs/distributed.md).

Weak scaling, each GPU keeping its batch: step time on N GPUs is
    T(N) = C + A(N) - overlap,   A(N) = 2 (N - 1) / N * G / B
with C the compute of one GPU's batch, A(N) a ring all-reduce of G gradient bytes whose
slowest link moves B bytes/s, and overlap the part of A hidden behind the backward pass
(up to about 2/3 of C, the backward's share, when buckets are reduced as their gradients are
ready, as PyTorch DDP does). Efficiency is C / T(N). Prints a markdown table.

    python3 scripts/distributed_scaling_model.py
"""

# Compute per step on one GPU, seconds.
# MiniLM: goemo's measured H200 rate for the recipe (1,086 examples/s at batch 32, fp32;
# docs/performance.md), launch-bound at this size.
# RoBERTa-large: 6 x 302M non-embedding parameters x 16 texts x 24 tokens (GoEmotions mean with
# special tokens, length-bucketed) = 7.0e11 FLOP at 30 % of an H100's 989 dense bf16 TFLOP/s,
# plus a 10 ms floor of about 2,200 kernel launches of 24 layers forward and backward.
MODELS = {
    "MiniLM-L6 (22.7M)": {"compute": 32 / 1086, "grad_bytes": 22.7e6 * 4},
    "RoBERTa-large (355M)": {"compute": 6 * 302e6 * 16 * 24 / (0.30 * 989e12) + 0.010, "grad_bytes": 355e6 * 4},
}
# Bytes/s of the slowest link of the ring: NCCL's achievable bus bandwidth on H100 NVLink 4
# inside a node; one 100 Gb/s Ethernet port per node between two nodes.
SETUPS = [
    ("8 GPUs, NVLink", 8, 360e9),
    ("2 x 8 GPUs, 100 Gb/s Ethernet", 16, 100e9 / 8),
]
BACKWARD_SHARE = 2 / 3


def step(compute, grad_bytes, n, bandwidth, overlap, compress=1.0, accumulate=1):
    allreduce = 2 * (n - 1) / n * grad_bytes * compress / bandwidth
    work = compute * accumulate
    hidden = min(allreduce, BACKWARD_SHARE * compute) if overlap else 0.0
    total = work + allreduce - hidden
    return allreduce, total, work / total


def main():
    print("| model | setup | compute C | all-reduce A | efficiency, reduce after backward | with overlap (goemo's default, DDP) | overlap + bf16 gradients | overlap + bf16 + 4 accumulated batches |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, m in MODELS.items():
        for setup, n, bandwidth in SETUPS:
            a, _, plain = step(m["compute"], m["grad_bytes"], n, bandwidth, overlap=False)
            _, _, overlapped = step(m["compute"], m["grad_bytes"], n, bandwidth, overlap=True)
            _, _, bf16 = step(m["compute"], m["grad_bytes"], n, bandwidth, overlap=True, compress=0.5)
            _, _, accumulated = step(m["compute"], m["grad_bytes"], n, bandwidth, overlap=True, compress=0.5, accumulate=4)
            print(
                f"| {name} | {setup} | {m['compute'] * 1e3:.1f} ms | {a * 1e3:.1f} ms | {plain:.0%} | {overlapped:.0%} | {bf16:.0%} | {accumulated:.0%} |"
            )


if __name__ == "__main__":
    main()
