#!/usr/bin/env bash
# GPU training speed of goemo (eager steps, and static-shape steps recorded as CUDA graphs:
# --cuda-graphs) against PyTorch written as an expert would (scripts/train_transformers.py
# --expert: texts tokenized once, no host sync per step, fused AdamW, foreach clipping, SDPA) on
# the same GPU in one command, with MFU; and data-parallel at world size 1 (torchrun + NCCL),
# gradients summed during backward against after it (--reduce-after-backward).
#
#   scripts/gpu_bench.sh BIN_DIR DATA_DIR TOKENIZER_DIR OUT_DIR     (about 10 minutes on an H200)
#
# BIN_DIR: `train` built against this machine's libtorch (scripts/build_for_libtorch.sh), with
# libgoemo_nccl.so and libgoemo_cuda_graph.so beside it; DATA_DIR: GoEmotions; TOKENIZER_DIR: all-MiniLM-L6-v2's tokenizer
# and config. Models are made here with random weights (speed does not depend on them): one of
# all-MiniLM-L6-v2's shape and one of RoBERTa-large's (355M), both under the MiniLM tokenizer.
# Each system trains the same recipe (mean pooling, BCE, AdamW, clipping 1.0, lr 1.5e-4,
# length-grouped batches: goemo's bucketing, transformers' group_by_length) and is timed after
# its warm-up steps. One JSON line per run goes to OUT_DIR/results.jsonl; the table, with the
# ratio and MFU of each row (scripts/gpu_bench_table.py), to OUT_DIR/table.md.
set -uo pipefail
BIN=$1 DATA=$2 TOKENIZER=$3 OUT=$4
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
TORCH_LIB=$($PY -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH=$TORCH_LIB:${LD_LIBRARY_PATH:-}
MODELS=$(mktemp -d) RUNS=$(mktemp -d)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

$PY - "$TOKENIZER" "$MODELS" <<'EOF'
import shutil, sys, torch
from transformers import BertConfig, BertModel, RobertaConfig, RobertaModel
tokenizer, models = sys.argv[1:]
torch.manual_seed(0)
minilm = BertConfig.from_pretrained(tokenizer)
large = RobertaConfig(vocab_size=50265, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                      intermediate_size=4096, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                      bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5)
import json
info = {}
for name, model in [("minilm", BertModel(minilm)), ("roberta-large", RobertaModel(large))]:
    model.save_pretrained(f"{models}/{name}")
    config = model.config
    embeddings = sum(p.numel() for n, p in model.named_parameters() if n.startswith("embeddings."))
    info[name] = {"parameters": sum(p.numel() for p in model.parameters()),
                  "non_embedding_parameters": sum(p.numel() for p in model.parameters()) - embeddings,
                  "layers": config.num_hidden_layers, "hidden": config.hidden_size}
    for f in ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]:
        try:
            shutil.copy(f"{tokenizer}/{f}", f"{models}/{name}/{f}")
        except FileNotFoundError:
            pass
    print(name, info[name])
json.dump(info, open(f"{models}/info.json", "w"))
EOF

rate() { # run folder, batch size, skipped steps: examples/s over the steps after the skipped ones
  $PY - "$1/train_log.jsonl" "$2" "$3" <<'EOF'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
batch, skip = int(sys.argv[2]), int(sys.argv[3])
elapsed = lambda e: e["step"] * batch / e["examples_per_s"]
a, b = log[skip - 1], log[-1]
print(round((b["step"] - a["step"]) * batch / (elapsed(b) - elapsed(a)), 1))
EOF
}

goemo() { # label, model, precision, batch, steps, skip, [extra train flags] [-- launcher...]
  local label=$1 model=$2 precision=$3 batch=$4 steps=$5 skip=$6
  shift 6
  local extra=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do extra+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  local name=${label// /-}
  "$@" "$BIN/train" --config "$ROOT/configs/minilm-cpu.toml" --model "$MODELS/$model" --data "$DATA" \
    --device cuda --precision "$precision" --loss bce --batch-size "$batch" --max-steps "$steps" --epochs 1 \
    --save-every 0 --threads 8 --output-dir "$RUNS" --run-name "$name" "${extra[@]}" >"$OUT/$name.log" 2>&1
  local r
  r=$(rate "$RUNS/$name" "$batch" "$skip" 2>>"$OUT/$name.log" || echo null)
  echo "{\"system\": \"goemo\", \"run\": \"$label\", \"model\": \"$model\", \"precision\": \"$precision\", \"batch\": $batch, \"examples_per_s\": $r}" |
    tee -a "$OUT/results.jsonl"
}

python_run() { # model, precision, batch, steps, skip
  local r
  r=$($PY "$ROOT/scripts/train_transformers.py" --model "$MODELS/$1" --data "$DATA" --device cuda --threads 8 \
    --precision "$2" --batch-size "$3" --max-steps "$4" --skip-steps "$5" --padding longest --group-by-length --expert \
    2>>"$OUT/python.log" | tail -1)
  echo "{\"system\": \"transformers\", \"model\": \"$1\", \"precision\": \"$2\", \"batch\": $3, \"result\": ${r:-null}}" |
    tee -a "$OUT/results.jsonl"
}

# The rows of the comparison: model, precision, batch, steps, timed after.
while read -r model precision batch steps skip; do
  goemo "$model $precision $batch" "$model" "$precision" "$batch" "$steps" "$skip"
  # Static shapes recorded as CUDA graphs: each length bucket's first step is eager and its
  # second is recorded, so the timing starts later.
  goemo "$model $precision $batch graphs" "$model" "$precision" "$batch" "$steps" "$((skip * 2))" --cuda-graphs
  python_run "$model" "$precision" "$batch" "$steps" "$skip"
done <<'ROWS'
minilm fp32 32 200 30
minilm bf16 32 200 30
minilm bf16 256 60 10
roberta-large fp32 16 80 15
roberta-large bf16 16 80 15
roberta-large bf16 128 40 8
ROWS
# Data-parallel at world size 1 (torchrun, NCCL), gradients summed during backward (goemo's
# default) and after it, two alternating pairs: run-to-run noise on the GPU is of the size of the
# effect.
for pair in 1 2; do
  goemo "minilm fp32 nccl overlap $pair" minilm fp32 32 200 30 -- $PY -m torch.distributed.run --nproc-per-node 1 --no-python
  goemo "minilm fp32 nccl after $pair" minilm fp32 32 200 30 --reduce-after-backward -- \
    $PY -m torch.distributed.run --nproc-per-node 1 --no-python
done
# CUDA graph steps against eager ones: the same run (dropout off, so that both draw no random
# masks) with and without --cuda-graphs; the dev loss after each epoch should agree to about 1e-4
# (the CPU tests bound it at 1e-5 on a tiny model; the GPU's kernels differ between padded and
# unpadded shapes).
for mode in eager graphs; do
  flags=(); [ "$mode" = graphs ] && flags=(--cuda-graphs)
  "$BIN/train" --config "$ROOT/configs/minilm-cpu.toml" --model "$MODELS/minilm" --data "$DATA" --device cuda \
    --loss bce --batch-size 32 --epochs 1 --max-train-samples 4000 --dropout 0 --save-every 0 --threads 8 \
    --output-dir "$RUNS" --run-name "equality-$mode" "${flags[@]}" >"$OUT/equality-$mode.log" 2>&1
done
$PY - "$RUNS/equality-eager/metrics.json" "$RUNS/equality-graphs/metrics.json" <<'EOF2' | tee "$OUT/equality.txt"
import json, sys
eager, graphs = (json.load(open(p)) for p in sys.argv[1:])
for a, b in zip(eager["history"], graphs["history"]):
    print(f"epoch {a['epoch'] + 1}: dev loss eager {a['dev_loss']:.6f}, graphs {b['dev_loss']:.6f}, "
          f"difference {abs(a['dev_loss'] - b['dev_loss']):.2e}")
print("graph steps:", graphs.get("cuda_graphs"))
EOF2
$PY "$ROOT/scripts/gpu_bench_table.py" "$OUT/results.jsonl" "$MODELS/info.json" "$DATA" "$TOKENIZER" | tee "$OUT/table.md"
