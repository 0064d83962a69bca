#!/usr/bin/env python3
"""Loads a checkpoint that goemo saved with AutoModelForSequenceClassification.from_pretrained
and checks that `transformers` gives the probabilities goemo computed on the same token ids.

    check_transformers_load.py CHECKPOINT_DIR CASE.json

CASE.json: {"input_ids": [[...]], "attention_mask": [[...]], "probabilities": [[...]]}.
Exits 1 with the largest difference when it exceeds 1e-5.
"""
import json
import sys

import torch
from transformers import AutoModelForSequenceClassification


def main():
    checkpoint, case_path = sys.argv[1], sys.argv[2]
    case = json.load(open(case_path))
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    assert model.config.problem_type == "multi_label_classification", model.config.problem_type
    with torch.no_grad():
        logits = model(
            input_ids=torch.tensor(case["input_ids"]), attention_mask=torch.tensor(case["attention_mask"])
        ).logits
    worst = (torch.sigmoid(logits) - torch.tensor(case["probabilities"])).abs().max().item()
    print(f"{type(model).__name__}: largest difference {worst:.2e}")
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
