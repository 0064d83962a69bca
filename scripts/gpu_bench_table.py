#!/usr/bin/env python3
"""The table of scripts/gpu_bench.sh: goemo (eager steps and CUDA graph steps) against the expert
PyTorch loop per row, with the ratios and MFU, then the data-parallel pairs. Prints markdown.

    python3 scripts/gpu_bench_table.py OUT/results.jsonl MODELS/info.json DATA_DIR TOKENIZER_DIR \\
        [--peak-bf16 989e12] [--peak-fp32 67e12]

MFU is useful FLOPs per second over the device's peak. Useful FLOPs per token of training:
6 x the non-embedding parameters (forward and backward matrix products) + 12 x layers x hidden x
the mean sequence length (attention scores and their weighted sum); tokens per second: examples/s
x the training split's mean tokens per text (both systems draw length-grouped batches from it,
padding not counted). Peaks: an H100/H200 SXM's dense bf16 tensor-core rate, and its fp32 rate
without tensor cores (fp32 here is true fp32: TF32 is off by default in PyTorch and libtorch).
"""
import argparse
import json
import os
from collections import defaultdict


def mean_tokens(data, tokenizer_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    with open(os.path.join(data, "train.tsv"), encoding="utf-8") as f:
        texts = [line.split("\t")[0] for line in f.read().splitlines()]
    ids = tokenizer(texts, truncation=True, max_length=128)["input_ids"]
    return sum(len(i) for i in ids) / len(ids)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results")
    p.add_argument("info")
    p.add_argument("data")
    p.add_argument("tokenizer")
    p.add_argument("--peak-bf16", type=float, default=989e12)
    p.add_argument("--peak-fp32", type=float, default=67e12)
    a = p.parse_args()
    info = json.load(open(a.info))
    tokens = mean_tokens(a.data, a.tokenizer)
    rows = [json.loads(line) for line in open(a.results) if line.strip()]
    goemo = {(r["model"], r["precision"], r["batch"]): r["examples_per_s"] for r in rows
             if r["system"] == "goemo" and "nccl" not in r["run"] and "graphs" not in r["run"]}
    graphs = {(r["model"], r["precision"], r["batch"]): r["examples_per_s"] for r in rows
              if r["system"] == "goemo" and r["run"].endswith(" graphs")}
    torch = {(r["model"], r["precision"], r["batch"]): (r["result"] or {}).get("examples_per_s") for r in rows
             if r["system"] == "transformers"}

    def mfu(model, precision, rate):
        if rate is None:
            return "—"
        m = info[model]
        per_token = 6 * m["non_embedding_parameters"] + 12 * m["layers"] * m["hidden"] * tokens
        peak = a.peak_bf16 if precision == "bf16" else a.peak_fp32
        return f"{rate * tokens * per_token / peak:.1%}"

    fmt = lambda rate: "failed" if rate is None else f"{rate:,.0f}"  # noqa: E731
    print(f"mean tokens per training text {tokens:.1f}; peaks: bf16 {a.peak_bf16 / 1e12:.0f} TFLOP/s, "
          f"fp32 {a.peak_fp32 / 1e12:.0f} TFLOP/s\n")
    print("| model | precision | batch | goemo examples/s | goemo CUDA graphs examples/s | expert PyTorch examples/s "
          "| goemo / PyTorch | graphs / PyTorch | goemo MFU | graphs MFU | PyTorch MFU |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "—"  # noqa: E731
    for key, ours in goemo.items():
        theirs, recorded = torch.get(key), graphs.get(key)
        print(f"| {key[0]} | {key[1]} | {key[2]} | {fmt(ours)} | {fmt(recorded)} | {fmt(theirs)} | "
              f"{ratio(ours, theirs)} | {ratio(recorded, theirs)} | {mfu(key[0], key[1], ours)} | "
              f"{mfu(key[0], key[1], recorded)} | {mfu(key[0], key[1], theirs)} |")
    pairs = defaultdict(list)
    for r in rows:
        if r["system"] == "goemo" and " nccl " in r["run"] and r["examples_per_s"] is not None:
            pairs["during backward" if " overlap " in r["run"] else "after backward"].append(r["examples_per_s"])
    if pairs:
        print("\n| torchrun + NCCL, world size 1, MiniLM fp32, batch 32 | runs (examples/s) | mean |")
        print("| --- | --- | ---: |")
        for name, rates in pairs.items():
            print(f"| gradients summed {name} | {', '.join(f'{r:,.0f}' for r in rates)} | {sum(rates) / len(rates):,.0f} |")


if __name__ == "__main__":
    main()
