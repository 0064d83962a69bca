#!/usr/bin/env python3
"""The server a Python user would build for a goemo checkpoint: FastAPI + uvicorn, the model in
`transformers` (`trust_remote_code=True` for goemo's heads), one request at a time through the
model, the checkpoint's fitted thresholds applied. The anchor of scripts/bench_serving.py.

    .venv/bin/python scripts/serve_transformers.py CHECKPOINT --port 8001 [--threads 2]

POST /predict {"text": "..."} or {"texts": [...]} answers as goemo's server does; GET /health.
"""
import argparse
import json
import os

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from transformers import AutoModelForSequenceClassification, AutoTokenizer


class Request(BaseModel):
    text: str | None = None
    texts: list[str] | None = None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(args.checkpoint, trust_remote_code=True).eval()
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    fitted = json.load(open(os.path.join(args.checkpoint, "thresholds.json")))
    thresholds = fitted.get("thresholds") or [fitted.get("threshold", 0.5)] * len(labels)
    app = FastAPI()

    @app.get("/health")
    def health():
        return {"status": "ok", "labels": len(labels)}

    @app.post("/predict")
    def predict(request: Request):
        texts = request.texts if request.texts is not None else [request.text]
        batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        with torch.no_grad():
            probs = torch.sigmoid(model(**batch).logits).tolist()
        return {
            "predictions": [
                {
                    "labels": [l for l, p, t in zip(labels, row, thresholds) if p >= t],
                    "scores": dict(zip(labels, row)),
                }
                for row in probs
            ]
        }

    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
