#!/usr/bin/env python3
"""The CPU kernels goemo's inference modes run, at all-MiniLM-L6-v2's shapes, in one run: matrix
products in fp32 (`F.linear`, MKL's sgemm, and oneDNN on weights packed once as goemo's fp32 mode
runs them: `mkldnn::_linear_pointwise`), bf16 (autocast, oneDNN), int8 as goemo's int8 mode multiplies
(`torch._int_mm`, oneDNN, int8 x int8 -> int32; goemo quantizes each row and rescales the result
in C++ around it, not timed here) and int8 with PyTorch's per-batch dynamic quantization
(`quantized::linear_dynamic`, fbgemm, per-channel weights, quantization and rescaling included),
in GFLOP/s; and scaled-dot-product attention of one layer at a batch's shape. Prints a markdown
table.

Rows: 64 texts x 20 tokens (1,280; the test set's median length is about 20); the four products
of a layer (query/key/value as one 384 x 1152, output 384 x 384, feed-forward 384 x 1536 and
1536 x 384), timed together. Median of 20 repetitions after 5 of warm-up.

    .venv/bin/python scripts/bench_cpu_kernels.py [--threads 2]
"""
import argparse
import platform
import statistics
import time
import warnings

import torch
import torch.nn.functional as F

SHAPES = [(384, 1152), (384, 384), (384, 1536), (1536, 384)]  # (in, out)
ROWS, BATCH, TOKENS, HEADS, HEAD_DIM = 1280, 64, 20, 12, 32


def median_seconds(fn, reps=20, warmup=5):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    inputs = {k: torch.randn(ROWS, k) for k in {i for i, _ in SHAPES}}
    weights = [(torch.randn(o, i) * 0.05, torch.randn(o) * 0.05) for i, o in SHAPES]
    flops = sum(2 * ROWS * i * o for i, o in SHAPES)

    def fp32():
        with torch.inference_mode():
            for (i, _), (w, b) in zip(SHAPES, weights):
                F.linear(inputs[i], w, b)

    packed32 = [(torch.ops.mkldnn._reorder_linear_weight(w, ROWS), b) for w, b in weights]

    def fp32_packed():
        with torch.inference_mode():
            for (i, _), (w, b) in zip(SHAPES, packed32):
                torch.ops.mkldnn._linear_pointwise(inputs[i], w, b, "none", [], "")

    def bf16():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            for (i, _), (w, b) in zip(SHAPES, weights):
                F.linear(inputs[i], w, b)

    rows8 = {k: torch.randint(-127, 128, (ROWS, k), dtype=torch.int8) for k in inputs}
    weights8 = [torch.randint(-127, 128, (o, i), dtype=torch.int8) for i, o in SHAPES]

    def int_mm():
        with torch.inference_mode():
            for (i, _), w in zip(SHAPES, weights8):
                torch._int_mm(rows8[i], w.t())

    torch.backends.quantized.engine = "fbgemm"
    warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
    packed = []
    for w, b in weights:
        scales = w.abs().amax(1).clamp_min(1e-8) / 127
        q = torch.quantize_per_channel(w, scales, torch.zeros(w.shape[0], dtype=torch.long), 0, torch.qint8)
        packed.append(torch.ops.quantized.linear_prepack(q, b))

    def int8():
        with torch.inference_mode():
            for (i, _), params in zip(SHAPES, packed):
                torch.ops.quantized.linear_dynamic(inputs[i], params, True)

    q, k, v = (torch.randn(BATCH, HEADS, TOKENS, HEAD_DIM) for _ in range(3))
    mask = torch.ones(BATCH, 1, 1, TOKENS, dtype=torch.bool)

    def attention():
        with torch.inference_mode():
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.processor())
    print(f"{time.strftime('%Y-%m-%d')}, {cpu}, {a.threads} threads, torch {torch.__version__}; "
          f"{ROWS} rows, one MiniLM layer's matrix products ({flops / 1e9:.2f} GFLOP)\n")
    print("| kernel | ms | GFLOP/s |")
    print("| --- | ---: | ---: |")
    for name, fn in [("fp32 F.linear (MKL)", fp32),
                     ("fp32 oneDNN, packed weights (goemo's fp32 mode)", fp32_packed),
                     ("bf16 autocast (oneDNN)", bf16),
                     ("int8 torch._int_mm (oneDNN; goemo's products)", int_mm),
                     ("int8 quantized::linear_dynamic (fbgemm, per batch)", int8)]:
        s = median_seconds(fn)
        print(f"| {name} | {s * 1e3:.2f} | {flops / s / 1e9:.0f} |")
    s = median_seconds(attention)
    print(f"| scaled_dot_product_attention, {BATCH} x {HEADS} heads x {TOKENS} tokens x {HEAD_DIM} | "
          f"{s * 1e3:.2f} | |")


if __name__ == "__main__":
    main()
