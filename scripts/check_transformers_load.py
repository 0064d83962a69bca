#!/usr/bin/env python3
"""Loads a checkpoint that goemo saved with AutoModelForSequenceClassification.from_pretrained
and checks that `transformers` gives the probabilities goemo computed on the same token ids.

    check_transformers_load.py CHECKPOINT_DIR CASE.json

CASE.json: {"input_ids": [[...]], "attention_mask": [[...]], "probabilities": [[...]],
"goemo_head": bool, optionally "calibrated_probabilities": [[...]]}. A goemo head must refuse a plain from_pretrained and load with
trust_remote_code=True (its modeling_goemo.py); transformers' own heads load plainly.
Exits 1 when a check fails or the largest difference exceeds 1e-5.
"""
import json
import sys

import torch
from transformers import AutoModelForSequenceClassification


def main():
    checkpoint, case_path = sys.argv[1], sys.argv[2]
    case = json.load(open(case_path))
    if case.get("goemo_head"):
        try:
            AutoModelForSequenceClassification.from_pretrained(checkpoint)
        except Exception as e:  # transformers asks for trust_remote_code
            print(f"plain from_pretrained refused: {type(e).__name__}: {str(e).splitlines()[0]}")
        else:
            print("a goemo head loaded without trust_remote_code")
            return 1
        model = AutoModelForSequenceClassification.from_pretrained(checkpoint, trust_remote_code=True)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(checkpoint)
    model.eval()
    assert model.config.problem_type == "multi_label_classification", model.config.problem_type
    with torch.no_grad():
        logits = model(
            input_ids=torch.tensor(case["input_ids"]), attention_mask=torch.tensor(case["attention_mask"])
        ).logits
    worst = (torch.sigmoid(logits) - torch.tensor(case["probabilities"])).abs().max().item()
    print(f"{type(model).__name__}: largest difference {worst:.2e}")
    if "calibrated_probabilities" in case:
        calibrated = model.calibrated_probabilities(logits)
        gap = (calibrated - torch.tensor(case["calibrated_probabilities"], dtype=torch.float64)).abs().max().item()
        print(f"calibrated probabilities: largest difference {gap:.2e}")
        if gap >= 1e-5:
            return 1
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
