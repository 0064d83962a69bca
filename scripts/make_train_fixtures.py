#!/usr/bin/env python3
"""Writes crates/goemo-train/tests/fixtures/torch_reference.json: what PyTorch and
`transformers` compute for AdamW (two parameter groups: decay and no decay), the warm-up
schedules, clip_grad_norm_ and the losses, for the Rust tests to match.

    .venv/bin/python scripts/make_train_fixtures.py
"""
import json
import math
import os

import torch
from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "goemo-train", "tests", "fixtures", "torch_reference.json")


def main():
    torch.manual_seed(0)
    names = ["encoder.dense.weight", "encoder.dense.bias", "encoder.LayerNorm.weight"]
    params = [torch.randn(3, 4, dtype=torch.float64), torch.randn(3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)]
    initial = [p.tolist() for p in params]
    params = [torch.nn.Parameter(p.clone()) for p in params]
    optimizer = torch.optim.AdamW(
        [{"params": [params[0]], "weight_decay": 0.01}, {"params": params[1:], "weight_decay": 0.0}],
        lr=1e-2, betas=(0.9, 0.999), eps=1e-8,
    )
    schedule = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=2, num_training_steps=6)
    steps = []
    for _ in range(6):
        grads = [torch.randn_like(p) for p in params]
        lr = optimizer.param_groups[0]["lr"]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        optimizer.step()
        schedule.step()
        steps.append({"lr": lr, "grads": [g.tolist() for g in grads], "params": [p.detach().tolist() for p in params]})

    cosine_opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    cosine = get_cosine_schedule_with_warmup(cosine_opt, num_warmup_steps=3, num_training_steps=10)
    cosine_lrs = []
    for _ in range(12):
        cosine_lrs.append(cosine_opt.param_groups[0]["lr"])
        cosine_opt.step()
        cosine.step()

    clip_params = [torch.nn.Parameter(torch.zeros(5, dtype=torch.float64)), torch.nn.Parameter(torch.zeros(2, 2, dtype=torch.float64))]
    clip_grads = [torch.randn(5, dtype=torch.float64) * 3, torch.randn(2, 2, dtype=torch.float64) * 3]
    for p, g in zip(clip_params, clip_grads):
        p.grad = g.clone()
    norm = torch.nn.utils.clip_grad_norm_(clip_params, max_norm=1.0)

    logits = torch.randn(4, 3)
    targets = (torch.rand(4, 3) < 0.4).float()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    weighted = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, pos_weight=torch.tensor([1.0, 2.0, 3.0]))
    p = torch.sigmoid(logits)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    alpha_t = 0.25 * targets + 0.75 * (1 - targets)
    focal = (alpha_t * (1 - p_t) ** 2 * ce).mean()

    doc = {
        "torch": torch.__version__,
        "adamw": {"names": names, "initial": initial, "lr": 1e-2, "weight_decay": 0.01, "warmup": 2, "total": 6, "steps": steps},
        "cosine": {"warmup": 3, "total": 10, "lrs": cosine_lrs},
        "clip": {"grads": [g.tolist() for g in clip_grads], "max_norm": 1.0, "norm": norm.item(), "clipped": [p.grad.tolist() for p in clip_params]},
        "loss": {"logits": logits.tolist(), "targets": targets.tolist(), "bce": bce.item(), "weighted_bce": weighted.item(), "focal": focal.item(), "pos_weight": [1.0, 2.0, 3.0], "alpha": 0.25, "gamma": 2.0},
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    json.dump(doc, open(OUT, "w"))
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
