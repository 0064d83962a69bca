#!/usr/bin/env python3
"""Records what PyTorch's own int8 dynamic quantization does to all-MiniLM-L6-v2 on the parity
texts: cosine similarity of every real token's last hidden state, float against
torch.ao.quantization.quantize_dynamic with per-channel int8 weights (fbgemm/x86 engine), into
crates/goemo-model/tests/fixtures/quantized.json (read by tests/quantized.rs).

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

texts = json.loads((FIXTURES / "parity.json").read_text())["texts"]
tokenizer = AutoTokenizer.from_pretrained(MODEL)
batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
with torch.no_grad():
    float_hidden = AutoModel.from_pretrained(MODEL).eval()(**batch).last_hidden_state
    quantized = quantize_dynamic(AutoModel.from_pretrained(MODEL).eval(), {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
    int8_hidden = quantized(**batch).last_hidden_state
cosine = torch.nn.functional.cosine_similarity(float_hidden, int8_hidden, dim=-1)[batch["attention_mask"].bool()]
result = {
    "engine": torch.backends.quantized.engine,
    "torch": torch.__version__,
    "minilm_cosine_min": cosine.min().item(),
    "minilm_cosine_mean": cosine.mean().item(),
}
(FIXTURES / "quantized.json").write_text(json.dumps(result, indent=2) + "\n")
print(json.dumps(result))
