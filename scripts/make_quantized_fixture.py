#!/usr/bin/env python3
"""Records what goemo's int8 scheme does to all-MiniLM-L6-v2 on the parity texts, computed here
independently of goemo: the cosine similarity of every real token's last hidden state, float
against int8, into crates/goemo-model/tests/fixtures/quantized.json (read by tests/quantized.rs).

goemo's scheme (crates/goemo-torch/csrc/quantized_linear.cpp), written here in plain PyTorch:
weights symmetric int8 per output channel (scale max|w| / 127), each input row (token) symmetric
int8 with its own scale (max|x| / 127, rounded to nearest even), exact integer products, then
times both scales plus the bias. Recorded beside it for comparison: PyTorch's own
torch.ao.quantization.quantize_dynamic (per-channel int8 weights, 7-bit activations with one
range per batch).

    .venv/bin/python scripts/make_quantized_fixture.py
"""
import json
from pathlib import Path

import torch
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
from transformers import AutoModel, AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "crates/goemo-model/tests/fixtures"
MODEL = ROOT / "data/models/all-MiniLM-L6-v2"


class RowwiseInt8Linear(torch.nn.Module):
    def __init__(self, linear):
        super().__init__()
        w = linear.weight.detach().float()
        self.scales = (w.abs().amax(1) / 127.0).clamp_min(torch.finfo(torch.float32).eps)
        self.weight = (w / self.scales[:, None]).round().clamp(-127, 127).to(torch.int64)
        self.bias = linear.bias.detach().float() if linear.bias is not None else torch.zeros(w.shape[0])

    def forward(self, x):
        largest = x.abs().amax(-1, keepdim=True)
        inverse = torch.where(largest > 0, 127.0 / largest, torch.zeros_like(largest))
        q = (x * inverse).round().to(torch.int64)
        products = (q @ self.weight.t()).float()
        return products * ((largest / 127.0) * self.scales) + self.bias


def rowwise_int8(module):
    for name, child in module.named_children():
        if isinstance(child, torch.nn.Linear):
            setattr(module, name, RowwiseInt8Linear(child))
        else:
            rowwise_int8(child)
    return module


texts = json.loads((FIXTURES / "parity.json").read_text())["texts"]
tokenizer = AutoTokenizer.from_pretrained(MODEL)
batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
real = batch["attention_mask"].bool()


def cosine(hidden):
    return torch.nn.functional.cosine_similarity(float_hidden, hidden, dim=-1)[real]


with torch.no_grad():
    float_hidden = AutoModel.from_pretrained(MODEL).eval()(**batch).last_hidden_state
    rowwise = cosine(rowwise_int8(AutoModel.from_pretrained(MODEL).eval())(**batch).last_hidden_state)
    dynamic = quantize_dynamic(AutoModel.from_pretrained(MODEL).eval(), {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
    per_batch = cosine(dynamic(**batch).last_hidden_state)
result = {
    "torch": torch.__version__,
    "minilm_cosine_min": rowwise.min().item(),
    "minilm_cosine_mean": rowwise.mean().item(),
    "quantize_dynamic_cosine_min": per_batch.min().item(),
    "quantize_dynamic_cosine_mean": per_batch.mean().item(),
}
(FIXTURES / "quantized.json").write_text(json.dumps(result, indent=2) + "\n")
print(json.dumps(result))
