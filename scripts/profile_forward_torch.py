#!/usr/bin/env python3
"""Where the time of an fp32 forward pass goes in libtorch's eager mode (the kernels goemo runs):
all-MiniLM-L6-v2 in PyTorch on the GoEmotions test texts, length-sorted batches of 64, 2 threads,
the time of the whole set and torch.profiler's table of the first 20 batches.

    .venv/bin/python scripts/profile_forward_torch.py
"""
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile
from transformers import AutoModel, AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
torch.set_num_threads(2)
model_dir = ROOT / "data/models/all-MiniLM-L6-v2"
model, tokenizer = AutoModel.from_pretrained(model_dir).eval(), AutoTokenizer.from_pretrained(model_dir)
texts = [line.split("\t")[0] for line in (ROOT / "data/goemotions/test.tsv").read_text(encoding="utf-8").splitlines()]
encoded = tokenizer(texts, truncation=True, max_length=128)["input_ids"]
order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
batches = [order[s : s + 64] for s in range(0, len(order), 64)]


def run(selected):
    with torch.inference_mode():
        for rows in selected:
            width = max(len(encoded[i]) for i in rows)
            ids = torch.zeros(len(rows), width, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for r, i in enumerate(rows):
                ids[r, : len(encoded[i])] = torch.tensor(encoded[i])
                mask[r, : len(encoded[i])] = 1
            model(input_ids=ids, attention_mask=mask)


started = time.perf_counter()
run(batches)
print(f"{len(texts)} texts, mean {sum(map(len, encoded)) / len(encoded):.1f} tokens: {time.perf_counter() - started:.1f} s")
with profile(activities=[ProfilerActivity.CPU]) as p:
    run(batches[:20])
print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))
