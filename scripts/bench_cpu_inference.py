#!/usr/bin/env python3
"""CPU inference of one checkpoint on the GoEmotions test texts, goemo against ONNX Runtime, in one
run; prints a markdown table of texts/s and test quality, the ratio of each engine's fastest
mode within the quality bounds, and of each engine's fastest fp32.

- goemo: the `predict` example in each `--mode` (fp32, bf16, int8, and auto, which names the mode
  it picked on stderr), with THREADS libtorch threads, and fp32 and int8 again as THREADS
  single-threaded workers sharing the texts (`--workers`); whole process (model load, and
  quantization for int8, included), batch 64, texts sorted by length inside, CSV out; its
  probabilities are calibrated by the checkpoint's calibration.json.
- ONNX Runtime: the checkpoint (encoder and head, sigmoid) exported from PyTorch (eager
  attention, TorchScript exporter, opset 17) and fused by onnxruntime.transformers' optimizer
  (model_type bert: embedding + LayerNorm, attention, bias + GELU and residual + LayerNorm each
  one operator); int8 by onnxruntime.quantization.quantize_dynamic of the fused model
  (weight_type=QInt8, its defaults otherwise); sessions with all graph optimisations and the
  same intra-op threads, and fp32 and int8 again as THREADS single-threaded sessions on Python
  threads sharing the batches (ONNX Runtime releases the GIL while it runs); texts sorted by
  length, batches of 64, tokenization included; session creation and tokenizer load included,
  as goemo's model load is.
- Quality: test micro/macro ROC AUC, and micro/macro F1 at the checkpoint's thresholds (fitted on
  dev in fp32, on the calibrated scale), for each engine; ONNX Runtime's sigmoids are calibrated
  by the same calibration.json (modeling_goemo.calibrate) before thresholding. A mode is within
  bounds when every metric is within 0.002 (AUC) and 0.005 (F1) of the same engine's fp32.

    .venv/bin/python scripts/bench_cpu_inference.py [--checkpoint runs/minilm-cpu/checkpoint] [--threads 2] [--rounds 3]

Every configuration runs once per round, round after round, and each row reports its median
time: on a shared machine one run's ratios move by about ±0.1.

Installs onnxruntime, onnx and onnxscript into .venv when they are missing. Needs
`cargo build --release --example predict`.
"""
import argparse
import csv
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# Largest change against the same engine's fp32 that a faster mode may make on the test set.
BOUNDS = {"auc_micro": 0.002, "auc_macro": 0.002, "f1_micro": 0.005, "f1_macro": 0.005}


def ensure_packages():
    missing = [p for p in ("onnxruntime", "onnx", "onnxscript") if importlib.util.find_spec(p) is None]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)


def read_test(data):
    texts, labels = [], []
    with open(Path(data) / "test.tsv", encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            texts.append(parts[0])
            labels.append([int(x) for x in parts[1].split(",")])
    return texts, labels


def auc(scores, targets):
    """ROC AUC by ranks (ties averaged), as scikit-learn's roc_auc_score."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2
    positives = targets.sum()
    negatives = len(targets) - positives
    return (ranks[targets == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)


def quality(probs, targets, thresholds):
    predicted = probs >= thresholds
    tp = (predicted & (targets == 1)).sum(0)
    fp = (predicted & (targets == 0)).sum(0)
    fn = (~predicted & (targets == 1)).sum(0)
    f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    return {
        "auc_micro": auc(probs.ravel(), targets.ravel()),
        "auc_macro": float(np.mean([auc(probs[:, j], targets[:, j]) for j in range(targets.shape[1])])),
        "f1_micro": 2 * tp.sum() / (2 * tp.sum() + fp.sum() + fn.sum()),
        "f1_macro": float(f1.mean()),
    }


def goemo(checkpoint, texts_file, threads, mode, workers=1):
    """Calibrated probabilities, seconds, and the line in which predict names the mode it ran."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(ROOT / "target/release/examples/predict"), "--model", str(checkpoint), "--input", str(texts_file),
         "--format", "csv", "--batch-size", "64", "--threads", str(threads), "--mode", mode,
         "--workers", str(workers)],
        capture_output=True, text=True, check=True,
    )
    seconds = time.perf_counter() - started
    rows = list(csv.reader(done.stdout.splitlines()))[1:]
    said = next((l for l in done.stderr.splitlines() if l.startswith("inference: ")), "")
    return np.array([[float(x) for x in r[1:]] for r in rows], dtype=np.float32), seconds, said


def calibrator(checkpoint):
    """goemo's calibration of raw sigmoids (modeling_goemo.calibrate), identity without calibration.json."""
    path = Path(checkpoint) / "calibration.json"
    if not path.exists():
        return lambda p: p
    import torch

    spec = importlib.util.spec_from_file_location(
        "modeling_goemo", ROOT / "crates/goemo-model/python/modeling_goemo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return lambda p: module.calibrate(torch.from_numpy(p).double(), str(path)).float().numpy()


def export(checkpoint, folder):
    """The ONNX Runtime models as an expert builds them for BERT on the CPU: exported with eager
    attention (the pattern ONNX Runtime's fusions match), fused by onnxruntime.transformers'
    optimizer (EmbedLayerNormalization, Attention, BiasGelu, SkipLayerNormalization), and that
    fused model quantized dynamically to int8. Returns the fp32 and int8 paths and the fused
    operators counted."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(
        checkpoint, trust_remote_code=True, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint, trust_remote_code=True)

    class Probabilities(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return torch.sigmoid(self.model(input_ids=input_ids, attention_mask=attention_mask).logits)

    example = tokenizer(["an example", "another example, a little longer"], padding=True, return_tensors="pt")
    dims = {0: "batch", 1: "tokens"}
    exported = folder / "exported.onnx"
    # The TorchScript exporter: its graph is the one the fusions below are written for.
    torch.onnx.export(
        Probabilities(model), (example["input_ids"], example["attention_mask"]), str(exported),
        input_names=["input_ids", "attention_mask"], output_names=["probabilities"],
        dynamic_axes={"input_ids": dims, "attention_mask": dims}, opset_version=17, dynamo=False,
    )
    config = model.config
    fused = optimize_model(str(exported), model_type="bert", num_heads=config.num_attention_heads,
                           hidden_size=config.hidden_size)
    counts = {op: n for op, n in fused.get_fused_operator_statistics().items() if n}
    fp32 = folder / "model.onnx"
    fused.save_model_to_file(str(fp32))
    int8 = folder / "model.int8.onnx"
    # The fused operators are in ONNX Runtime's domain, outside ONNX's shape inference.
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return fp32, int8, counts


def onnxruntime(model_path, checkpoint, texts, threads, sessions=1):
    """Probabilities and seconds; with several sessions, each on a Python thread of its own with
    `threads` intra-op threads, the length-sorted batches dealt out in turn (ONNX Runtime releases
    the GIL while it runs), as goemo's --workers does."""
    import onnxruntime as ort
    from transformers import AutoTokenizer

    started = time.perf_counter()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    runners = [ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
               for _ in range(sessions)]
    tokenizer = AutoTokenizer.from_pretrained(checkpoint, trust_remote_code=True)
    encoded = tokenizer(texts, truncation=True, max_length=128)["input_ids"]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    probs = np.zeros((len(texts), runners[0].get_outputs()[0].shape[1] or 28), dtype=np.float32)
    batches = [order[start:start + 64] for start in range(0, len(order), 64)]

    def run(session, rows):
        width = max(len(encoded[i]) for i in rows)
        ids = np.full((len(rows), width), tokenizer.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, i in enumerate(rows):
            ids[r, :len(encoded[i])] = encoded[i]
            mask[r, :len(encoded[i])] = 1
        probs[rows] = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def share(k):
        for rows in batches[k::sessions]:
            run(runners[k], rows)

    if sessions == 1:
        share(0)
    else:
        with ThreadPoolExecutor(sessions) as pool:
            list(pool.map(share, range(sessions)))
    seconds = time.perf_counter() - started
    # Sessions go now, with their thread pools, before the next configuration runs.
    del runners
    return probs, seconds


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(ROOT / "runs/minilm-cpu/checkpoint"))
    p.add_argument("--data", default=str(ROOT / "data/goemotions"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="runs of every configuration; rows report the median")
    a = p.parse_args()
    ensure_packages()
    import onnxruntime as ort

    texts, labels = read_test(a.data)
    thresholds = np.array(json.loads((Path(a.checkpoint) / "thresholds.json").read_text())["thresholds"])
    targets = np.zeros((len(texts), len(thresholds)), dtype=np.int64)
    for i, ls in enumerate(labels):
        targets[i, ls] = 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        texts_file = tmp / "texts.txt"
        texts_file.write_text("\n".join(t.replace("\n", " ") for t in texts) + "\n", encoding="utf-8")
        started = time.perf_counter()
        fp32_onnx, int8_onnx, fused = export(a.checkpoint, tmp)
        export_seconds = time.perf_counter() - started
        calibrate = calibrator(a.checkpoint)
        onnx_path = {"fp32": fp32_onnx, "int8": int8_onnx}
        pooled_name = lambda mode: f"{mode}, {a.threads} workers x 1 thread"  # noqa: E731
        # Every configuration once per round, the rounds one after another: a slow spell of this
        # shared machine falls on all of them, and each row reports its median round.
        jobs = []
        for mode in ("fp32", "bf16", "int8", "auto"):
            jobs.append((f"goemo {mode}", lambda mode=mode: goemo(a.checkpoint, texts_file, a.threads, mode)))
            if mode in ("fp32", "int8"):
                onnx = onnx_path[mode]
                jobs.append((f"ONNX Runtime {mode}",
                             lambda onnx=onnx: onnxruntime(onnx, a.checkpoint, texts, a.threads)))
                # One single-threaded worker per thread on both sides, sharing the texts
                # (predict --workers; ONNX Runtime sessions on Python threads).
                jobs.append((f"goemo {pooled_name(mode)}",
                             lambda mode=mode: goemo(a.checkpoint, texts_file, 1, mode, workers=a.threads)))
                jobs.append((f"ONNX Runtime {pooled_name(mode)}",
                             lambda onnx=onnx: onnxruntime(onnx, a.checkpoint, texts, 1, sessions=a.threads)))
        times, results = {}, {}
        for round_ in range(a.rounds):
            for name, job in jobs:
                probs, seconds, *rest = job()
                if name == "goemo auto":
                    auto_said = rest[0]
                if name.startswith("ONNX Runtime"):
                    probs = calibrate(probs)
                times.setdefault(name, []).append(seconds)
                results[name] = probs, float(np.median(times[name]))
            print(f"round {round_ + 1} of {a.rounds} done", file=sys.stderr)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"{time.strftime('%Y-%m-%d')}, {cpu}, {a.threads} threads, ONNX Runtime {ort.__version__}; "
          f"seconds: median of {a.rounds} rounds; "
          f"{len(texts)} test texts; export, fusion ({', '.join(f'{op} {n}' for op, n in fused.items())}) and "
          f"ONNX quantization took {export_seconds:.1f} s (not counted); "
          f"goemo --mode auto: {auto_said}\n")
    print("| engine | seconds | texts/s | goemo / ONNX Runtime | micro AUC | macro AUC | micro F1 | macro F1 "
          "| within bounds of fp32 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    reference = {engine: quality(results[f"{engine} fp32"][0], targets, thresholds)
                 for engine in ("goemo", "ONNX Runtime")}
    eligible = set()
    for name, (probs, seconds) in results.items():
        q = quality(probs, targets, thresholds)
        fp32 = reference["goemo" if name.startswith("goemo") else "ONNX Runtime"]
        ok = all(abs(q[k] - fp32[k]) <= BOUNDS[k] for k in BOUNDS)
        if ok:
            eligible.add(name)
        within = "" if name.endswith(" fp32") else ("yes" if ok else "**no**")
        ratio = ""
        peer = results.get(name.replace("goemo", "ONNX Runtime")) if name.startswith("goemo") else None
        if peer is not None:
            ratio = f"{peer[1] / seconds:.2f}x"
        print(f"| {name} | {seconds:.1f} | {len(texts) / seconds:.0f} | {ratio} | {q['auc_micro']:.5f} | "
              f"{q['auc_macro']:.5f} | {q['f1_micro']:.4f} | {q['f1_macro']:.4f} | {within} |")
    # The same texts, other batches: per-batch int8 ranges would move scores; per-token ones do not.
    single, pooled = results["goemo int8"][0], results[f"goemo int8, {a.threads} workers x 1 thread"][0]
    moved = np.abs(single.astype(np.float64) - pooled)
    print(f"\ngoemo int8, {a.threads} workers against 1 (the same texts in other batches): probabilities moved by "
          f"{moved.mean():.4f} on average, {np.quantile(moved, 0.999):.3f} at the 99.9th percentile, "
          f"{moved.max():.3f} at most")
    # Only modes within the quality bounds compete.
    fastest = {engine: min((s, n) for n, (_, s) in results.items() if n.startswith(engine) and n in eligible)
               for engine in ("goemo", "ONNX Runtime")}
    (g, g_name), (o, o_name) = fastest["goemo"], fastest["ONNX Runtime"]
    print(f"fastest within bounds against fastest within bounds: {g_name} {len(texts) / g:.0f} texts/s, "
          f"{o_name} {len(texts) / o:.0f}: {o / g:.3f}x")
    fp32 = {engine: min((s, n) for n, (_, s) in results.items() if n.startswith(f"{engine} fp32"))
            for engine in ("goemo", "ONNX Runtime")}
    (g, g_name), (o, o_name) = fp32["goemo"], fp32["ONNX Runtime"]
    print(f"fastest fp32 against fastest fp32: {g_name} {len(texts) / g:.0f} texts/s, "
          f"{o_name} {len(texts) / o:.0f}: {o / g:.3f}x")


if __name__ == "__main__":
    main()
