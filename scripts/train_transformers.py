#!/usr/bin/env python3
"""The goemo MiniLM recipe (configs/minilm-cpu.toml) written the usual way in Python `transformers`,
to compare quality and speed with `make train-minilm` on the same machine.

    make setup
    .venv/bin/python scripts/train_transformers.py --out runs/python-minilm.json            # full run
    .venv/bin/python scripts/train_transformers.py --max-steps 60 --padding max_length      # speed only
    # configs/minilm-cpu.toml's recipe (one seed), prediction files that `report` and `ensemble` read:
    .venv/bin/python scripts/train_transformers.py --epochs 2 --loss asymmetric --prior-bias \
        --group-by-length --out runs/python-minilm-asl/results.json --predictions runs/python-minilm-asl

Recipe: all-MiniLM-L6-v2, masked mean pooling, dropout 0.1, a 28-way linear head initialised
N(0, 0.02) with its bias at zero or, with `--prior-bias`, at the log-odds of each label's training
frequency; BCE or, with `--loss asymmetric`, the asymmetric loss (γ+ 0, γ− 4, clip 0.05, as
goemo-train computes it); AdamW (torch) with weight decay 0.01 except biases and LayerNorm weights;
lr 1.5e-4, linear warm-up over 10 % of the steps then linear decay; clip 1.0; batch 32; 3 epochs
(`--epochs`);
max length 128; dev micro ROC AUC picks the best epoch; per-class thresholds fitted on dev
(the F1-optimal cut between distinct scores, as goemo-threshold's PerClass); then test.

`--padding longest` pads each random batch to its longest text (a DataCollatorWithPadding
loop); `max_length` pads every batch to 128 (the usual `transformers` recipe); `--group-by-length`
draws batches of similar length as goemo's batcher does (transformers' `group_by_length`).

`--expert` writes the loop as an expert would for speed: texts tokenized once before training
(batches padded from the token ids), no host sync per step (the running loss stays on the device
and is read every 100 steps), fused AdamW, foreach gradient clipping, and the encoder's attention
through `scaled_dot_product_attention` (`attn_implementation="sdpa"`).
"""
import argparse
import json
import os
import random
import time

import numpy as np
import torch
import transformers
from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
LABELS = 28


def read_split(data, name, with_ids=False):
    texts, targets, example_ids = [], [], []
    with open(os.path.join(data, f"{name}.tsv"), encoding="utf-8") as f:
        for line in f.read().splitlines():
            text, ids, example_id = line.split("\t")
            row = np.zeros(LABELS, dtype=np.float32)
            row[[int(i) for i in ids.split(",")]] = 1.0
            texts.append(text)
            targets.append(row)
            example_ids.append(example_id)
    if with_ids:
        return texts, np.stack(targets), example_ids
    return texts, np.stack(targets)


class MeanPoolingClassifier(torch.nn.Module):
    def __init__(self, path, dropout, attention=None):
        super().__init__()
        extra = {"attn_implementation": attention} if attention else {}
        self.encoder = AutoModel.from_pretrained(
            path,
            add_pooling_layer=False,
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
            dtype=torch.float32,
            **extra,
        )
        hidden = self.encoder.config.hidden_size
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(hidden, LABELS)
        torch.nn.init.normal_(self.classifier.weight, std=self.encoder.config.initializer_range)
        torch.nn.init.zeros_(self.classifier.bias)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        return self.classifier(self.dropout(pooled))


def asymmetric_loss(logits, targets, gamma_pos=0.0, gamma_neg=4.0, clip=0.05, eps=1e-8):
    """Ridnik et al. (2021), averaged over cells, as goemo-train's `Loss::Asymmetric`."""
    p = torch.sigmoid(logits)
    negatives = 1.0 - targets
    q = (1.0 - p + clip).clamp(max=1.0)  # 1 - p_m, p_m = max(p - clip, 0)
    log_likelihood = targets * p.clamp(min=eps).log() + negatives * q.clamp(min=eps).log()
    p_t = p * targets + q * negatives
    gamma = targets * gamma_pos + negatives * gamma_neg
    return -(log_likelihood * (1.0 - p_t).pow(gamma)).mean()


def write_predictions(path, ids, texts, targets, scores, predicted, labels):
    """goemo's prediction file: id,text,true_labels,pred_labels,<one probability column per label>."""
    import csv

    names = lambda row: ",".join(l for l, on in zip(labels, row) if on)  # noqa: E731
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "true_labels", "pred_labels", *labels])
        for i in range(len(ids)):
            w.writerow([ids[i], texts[i], names(targets[i] > 0.5), names(predicted[i]), *(repr(float(v)) for v in scores[i])])
    os.replace(tmp, path)


def padded(ids, batch, pad_id, padding):
    """A batch of pre-tokenized texts padded to its longest (or to 128), as the tokenizer pads."""
    width = 128 if padding == "max_length" else max(len(ids[j]) for j in batch)
    input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for r, j in enumerate(batch):
        input_ids[r, : len(ids[j])] = ids[j]
        mask[r, : len(ids[j])] = 1
    return {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask)}


def batches(order, size):
    return [order[i : i + size] for i in range(0, len(order), size)]


def train_batches(lengths, size, rng, group_by_length):
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if not group_by_length:
        return batches(order, size)
    # transformers' LengthGroupedSampler: megabatches of 50 batches sorted by length.
    mega = size * 50
    grouped = []
    for i in range(0, len(order), mega):
        grouped += sorted(order[i : i + mega], key=lambda j: -lengths[j])
    return batches(grouped, size)


def predict(model, tokenizer, texts, padding, device, size=64):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), size):
            enc = tokenizer(texts[i : i + size], padding=padding, truncation=True, max_length=128, return_tensors="pt")
            logits = model(enc["input_ids"].to(device), enc["attention_mask"].to(device))
            out.append(torch.sigmoid(logits).cpu().numpy())
    model.train()
    return np.concatenate(out)


def fit_per_class(scores, targets):
    """Each class's F1-optimal threshold, exact: cut midway below the best distinct score."""
    thresholds = np.full(scores.shape[1], np.inf)
    for c in range(scores.shape[1]):
        s, y = scores[:, c].astype(np.float64), targets[:, c]
        positives = y.sum()
        if positives == 0:
            continue
        order = np.argsort(-s, kind="stable")
        s, y = s[order], y[order]
        last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
        tp = np.cumsum(y)[last]
        predicted = last + 1
        f1 = 2 * tp / (predicted + positives)
        best = int(np.argmax(f1))  # the first maximum: the highest threshold
        below = s[last[best] + 1] if last[best] + 1 < len(s) else 0.0
        thresholds[c] = (s[last[best]] + below) / 2
    return thresholds


def report(scores, targets, predicted):
    from sklearn.metrics import f1_score, roc_auc_score

    defined = (targets.sum(0) > 0) & (targets.sum(0) < len(targets))
    return {
        "auc_micro": roc_auc_score(targets, scores, average="micro"),
        "auc_macro": roc_auc_score(targets[:, defined], scores[:, defined], average="macro"),
        "f1_micro": f1_score(targets, predicted, average="micro", zero_division=0),
        "f1_macro": f1_score(targets, predicted, average="macro", zero_division=0),
        "never_predicted": int((predicted.sum(0) == 0).sum()),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.join(ROOT, "data", "models", "all-MiniLM-L6-v2"))
    p.add_argument("--data", default=os.path.join(ROOT, "data", "goemotions"))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=1.5e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--padding", choices=["longest", "max_length"], default="longest")
    p.add_argument("--group-by-length", action="store_true")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="bf16: autocast, as goemo's --precision bf16")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps and only report speed")
    p.add_argument("--skip-steps", type=int, default=5, help="steps left out of the speed figure (warm-up)")
    p.add_argument("--max-train-samples", type=int, default=0, help="train on the first N examples only")
    p.add_argument("--loss", choices=["bce", "asymmetric"], default="bce")
    p.add_argument("--prior-bias", action="store_true", help="head bias at the log-odds of each label's frequency")
    p.add_argument("--expert", action="store_true",
                   help="tokenize once, no host sync per step, fused AdamW, foreach clipping, SDPA attention")
    p.add_argument("--out", help="write the results as JSON here")
    p.add_argument("--predictions", help="write predictions_dev.csv and predictions_test.csv (goemo's format) here")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    train_texts, train_targets = read_split(args.data, "train")
    if args.max_train_samples:
        train_texts, train_targets = train_texts[: args.max_train_samples], train_targets[: args.max_train_samples]
    train_ids = tokenizer(train_texts, truncation=True, max_length=128)["input_ids"]
    lengths = [len(ids) for ids in train_ids]
    device = torch.device(args.device)
    model = MeanPoolingClassifier(args.model, args.dropout, "sdpa" if args.expert else None)
    if args.prior_bias:
        freq = np.clip(train_targets.mean(0).astype(np.float64), 1e-6, 1 - 1e-6)
        with torch.no_grad():
            model.classifier.bias.copy_(torch.from_numpy(np.log(freq / (1 - freq))).float())
    model = model.to(device)
    model.train()

    no_decay = lambda name: name.endswith(".bias") or "LayerNorm" in name  # noqa: E731
    groups = [
        {"params": [p for n, p in model.named_parameters() if not no_decay(n)], "weight_decay": args.weight_decay},
        {"params": [p for n, p in model.named_parameters() if no_decay(n)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr, **({"fused": True} if args.expert else {}))
    steps_per_epoch = (len(train_texts) + args.batch_size - 1) // args.batch_size
    total = steps_per_epoch * args.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup_ratio * total), total)
    loss_fn = asymmetric_loss if args.loss == "asymmetric" else torch.nn.BCEWithLogitsLoss()

    results = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": args.threads,
        "device": args.device,
        "padding": args.padding,
        "precision": args.precision,
        "group_by_length": args.group_by_length,
        "expert": args.expert,
        "loss": args.loss,
        "prior_bias": args.prior_bias,
        "seed": args.seed,
        "epochs": [],
    }
    dev_texts, dev_targets, dev_ids = read_split(args.data, "dev", with_ids=True)
    best_auc, best_state, step = -1.0, None, 0
    start_all = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        epoch_start, timed_examples, timed_tokens, timed_start = time.perf_counter(), 0, 0, None
        running = torch.zeros((), device=device)
        for i, batch in enumerate(train_batches(lengths, args.batch_size, rng, args.group_by_length)):
            if args.max_steps and step == args.skip_steps:
                timed_start = time.perf_counter()
            if args.expert:
                enc = padded(train_ids, batch, tokenizer.pad_token_id, args.padding)
            else:
                enc = tokenizer(
                    [train_texts[j] for j in batch],
                    padding=args.padding,
                    truncation=True,
                    max_length=128,
                    return_tensors="pt",
                )
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
                logits = model(enc["input_ids"].to(device, non_blocking=True),
                               enc["attention_mask"].to(device, non_blocking=True))
            loss = loss_fn(logits.float(), torch.from_numpy(train_targets[batch]).to(device, non_blocking=True))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True if args.expert else None)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            # The usual loop reads the loss every step (a host sync); the expert one does not.
            running += loss.detach() if args.expert else loss.item()
            step += 1
            if timed_start is not None:
                timed_examples += len(batch)
                timed_tokens += sum(lengths[j] for j in batch)
            if args.max_steps and step >= args.max_steps:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                seconds = time.perf_counter() - timed_start
                rate = timed_examples / seconds
                results["examples_per_s"] = rate
                results["tokens_per_s"] = timed_tokens / seconds
                results["timed_steps"] = args.max_steps - args.skip_steps
                print(json.dumps(results))
                return
            if i % 100 == 0:
                print(f"epoch {epoch} step {i}/{steps_per_epoch} loss {running.item() / (i + 1):.4f}", flush=True)
        train_s = time.perf_counter() - epoch_start
        dev_scores = predict(model, tokenizer, dev_texts, "longest", device)
        dev = report(dev_scores, dev_targets, dev_scores >= 0.5)
        results["epochs"].append(
            {
                "epoch": epoch,
                "train_loss": running.item() / steps_per_epoch,
                "train_s": train_s,
                "examples_per_s": len(train_texts) / train_s,
                "dev": dev,
            }
        )
        print(json.dumps(results["epochs"][-1]), flush=True)
        if dev["auc_micro"] > best_auc:
            best_auc = dev["auc_micro"]
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            results["best_epoch"] = epoch
    results["train_and_dev_s"] = time.perf_counter() - start_all

    model.load_state_dict(best_state)
    dev_scores = predict(model, tokenizer, dev_texts, "longest", device)
    thresholds = fit_per_class(dev_scores, dev_targets)
    test_texts, test_targets, test_ids = read_split(args.data, "test", with_ids=True)
    test_scores = predict(model, tokenizer, test_texts, "longest", device)
    top1 = test_scores == test_scores.max(1, keepdims=True)
    results["test"] = {
        "per_class": report(test_scores, test_targets, test_scores >= thresholds),
        "global_0.5": report(test_scores, test_targets, test_scores >= 0.5),
        "top_1": report(test_scores, test_targets, top1),
    }
    print(json.dumps(results, indent=2))
    if args.predictions:
        with open(os.path.join(args.data, "labels.txt"), encoding="utf-8") as f:
            labels = f.read().split()
        os.makedirs(args.predictions, exist_ok=True)
        for name, ids, texts, targets, scores in [
            ("dev", dev_ids, dev_texts, dev_targets, dev_scores),
            ("test", test_ids, test_texts, test_targets, test_scores),
        ]:
            path = os.path.join(args.predictions, f"predictions_{name}.csv")
            write_predictions(path, ids, texts, targets, scores, scores >= thresholds, labels)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(results, f, indent=2)
        os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
