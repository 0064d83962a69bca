#!/usr/bin/env python3
"""Writes the model parity fixtures under crates/goemo-model/tests/fixtures/:

- tiny-bert/, tiny-distilbert/, tiny-roberta/: random sequence-classification checkpoints
  (2 layers, hidden 32, 28 GoEmotions labels, multi-label) with small tokenizers trained on
  GoEmotions texts (WordPiece for BERT and DistilBERT, byte-level BPE for RoBERTa);
- parity.json: texts mixing lengths (one over 128 tokens, emoji, [NAME]) with each model's
  input ids and sigmoid probabilities from Python `transformers`;
- minilm_hidden.safetensors: all-MiniLM-L6-v2's last hidden state on GoEmotions test texts.

    .venv/bin/pip install transformers && .venv/bin/python scripts/make_model_fixtures.py
"""
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    AutoModel,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForSequenceClassification,
)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "crates", "goemo-model", "tests", "fixtures")
DATA = os.path.join(ROOT, "data", "goemotions")
LABELS = [l.strip() for l in open(os.path.join(DATA, "labels.txt")) if l.strip()]
VOCAB = 1000


def goemotions_texts(split, n):
    with open(os.path.join(DATA, f"{split}.tsv"), encoding="utf-8") as f:
        return [line.split("\t")[0] for _, line in zip(range(n), f)]


def wordpiece_tokenizer(texts):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=VOCAB, special_tokens=special))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]"
    )


def byte_bpe_tokenizer(texts):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(
        texts,
        trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>"
    )


def label_maps():
    return {i: l for i, l in enumerate(LABELS)}, {l: i for i, l in enumerate(LABELS)}


def main():
    torch.manual_seed(0)
    train_texts = goemotions_texts("train", 20000)
    id2label, label2id = label_maps()
    common = dict(num_labels=len(LABELS), id2label=id2label, label2id=label2id, problem_type="multi_label_classification")
    long_text = " ".join(goemotions_texts("dev", 40))
    texts = goemotions_texts("test", 6) + [
        "[NAME] is the best 😂😂 I can't even 👍🏽",
        "ok",
        long_text,
        "Thanks!! ❤️ That really helped, [NAME].",
    ]

    wordpiece = wordpiece_tokenizer(train_texts)
    bpe = byte_bpe_tokenizer(train_texts)
    models_to_make = {
        "tiny-bert": (
            BertForSequenceClassification(
                BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=512, pad_token_id=0, **common)
            ),
            wordpiece,
        ),
        "tiny-distilbert": (
            DistilBertForSequenceClassification(
                DistilBertConfig(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                                 max_position_embeddings=512, pad_token_id=0, **common)
            ),
            wordpiece,
        ),
        "tiny-roberta": (
            RobertaForSequenceClassification(
                RobertaConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64, max_position_embeddings=130, pad_token_id=1, bos_token_id=0,
                              eos_token_id=2, type_vocab_size=1, layer_norm_eps=1e-5, **common)
            ),
            bpe,
        ),
    }
    parity = {"transformers": transformers.__version__, "texts": texts, "max_length": 128, "models": {}}
    for name, (model, tokenizer) in models_to_make.items():
        model.eval()
        folder = os.path.join(OUT, name)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        for extra in ("tokenizer_config.json", "special_tokens_map.json"):
            path = os.path.join(folder, extra)
            if os.path.exists(path):
                os.remove(path)
        batch = tokenizer(texts, padding="longest", truncation=True, max_length=128, return_tensors="pt")
        with torch.no_grad():
            logits = model(**{k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}).logits
        ids = [
            [int(t) for t, m in zip(row, mask) if m == 1]
            for row, mask in zip(batch["input_ids"].tolist(), batch["attention_mask"].tolist())
        ]
        parity["models"][name] = {"input_ids": ids, "probabilities": torch.sigmoid(logits).tolist()}
        print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, longest {max(map(len, ids))} tokens")
    with open(os.path.join(OUT, "parity.json"), "w") as f:
        json.dump(parity, f)

    minilm = os.path.join(ROOT, "data", "models", "all-MiniLM-L6-v2")
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    model = AutoModel.from_pretrained(minilm).eval()
    minilm_texts = goemotions_texts("test", 8)
    batch = tokenizer(minilm_texts, padding="longest", truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    save_file(
        {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "last_hidden_state": hidden.contiguous()},
        os.path.join(OUT, "minilm_hidden.safetensors"),
        metadata={"format": "pt", "texts": json.dumps(minilm_texts)},
    )
    print("minilm:", tuple(hidden.shape))


if __name__ == "__main__":
    main()
