#!/usr/bin/env bash
# CUDA checks and GPU timings of goemo on a machine with an NVIDIA GPU (no test depends on one).
#
#   scripts/gpu_check.sh BIN_DIR MODEL_DIR DATA_DIR OUT_DIR
#
# BIN_DIR holds release builds of the `train` and `predict` examples
# (cargo build --release --example train --example predict); MODEL_DIR is all-MiniLM-L6-v2;
# DATA_DIR is GoEmotions. Stages, most important first, each leaving its result in OUT_DIR:
#   1. bf16 autocast: one epoch of the MiniLM recipe on CUDA (bf16_metrics.json);
#   2. CPU vs CUDA: the same checkpoint's test probabilities on the CPU, on CUDA in fp32 and in
#      bf16 (parity.json: largest absolute differences);
#   3. fp32: the full 3-epoch recipe on CUDA (fp32_metrics.json);
#   4. Python `transformers` on the same GPU, training speed of the same recipe (python_speed.jsonl).
set -uo pipefail
BIN=$1 MODEL=$2 DATA=$3 OUT=$4
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=$(mktemp -d)
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

TIME=()
[ -x /usr/bin/time ] && TIME=(/usr/bin/time -v)

train() { # run-name, extra flags...
  local name=$1
  shift
  "${TIME[@]}" "$BIN/train" --config "$ROOT/configs/minilm-cpu.toml" --model "$MODEL" --data "$DATA" \
    --device cuda --threads 8 --save-every 0 --output-dir "$RUNS" --run-name "$name" "$@" 2>"$OUT/$name.log" |
    tee -a "$OUT/summary.txt"
  grep -E "Maximum resident|Elapsed|error" "$OUT/$name.log" | tee -a "$OUT/summary.txt"
}

echo "== 1. bf16, 1 epoch" | tee -a "$OUT/summary.txt"
train gpu-bf16 --precision bf16 --epochs 1 && cp "$RUNS/gpu-bf16/metrics.json" "$OUT/bf16_metrics.json"

echo "== 2. CPU vs CUDA probabilities" | tee -a "$OUT/summary.txt"
cut -f1 "$DATA/test.tsv" >"$RUNS/texts.txt"
CKPT=$RUNS/gpu-bf16/checkpoint
for run in "cpu fp32" "cuda fp32" "cuda bf16"; do
  set -- $run
  start=$(date +%s%N)
  "$BIN/predict" --model "$CKPT" --input "$RUNS/texts.txt" --format csv --device "$1" --mode "$2" \
    --threads 8 >"$RUNS/$1-$2.csv"
  echo "$1 $2: $(( ($(date +%s%N) - start) / 1000000 )) ms for 5,427 texts, load included" | tee -a "$OUT/summary.txt"
done
$PY - "$RUNS" "$OUT/parity.json" <<'EOF' | tee -a "$OUT/summary.txt"
import csv, json, sys
import numpy as np
runs, out = sys.argv[1:]
load = lambda name: np.array([[float(x) for x in row[1:]] for row in list(csv.reader(open(f"{runs}/{name}.csv")))[1:]])
cpu, cuda, bf16 = load("cpu-fp32"), load("cuda-fp32"), load("cuda-bf16")
result = {
    "rows": len(cpu),
    "max_abs_cuda_fp32_vs_cpu": float(np.abs(cuda - cpu).max()),
    "max_abs_cuda_bf16_vs_cpu": float(np.abs(bf16 - cpu).max()),
    "mean_abs_cuda_bf16_vs_cpu": float(np.abs(bf16 - cpu).mean()),
}
json.dump(result, open(out, "w"), indent=2)
print(json.dumps(result))
EOF

echo "== 3. fp32, the 3-epoch recipe" | tee -a "$OUT/summary.txt"
train gpu-fp32 && cp "$RUNS/gpu-fp32/metrics.json" "$OUT/fp32_metrics.json"

echo "== 4. Python transformers, training speed on the same GPU" | tee -a "$OUT/summary.txt"
for padding in longest max_length; do
  $PY "$ROOT/scripts/train_transformers.py" --model "$MODEL" --data "$DATA" --device cuda --threads 8 \
    --padding "$padding" --max-steps 320 --skip-steps 20 2>/dev/null | tail -1 | tee -a "$OUT/python_speed.jsonl"
done

echo "== 5. recipe search on the GPU (3 epochs each; chosen by dev, test reported)" | tee -a "$OUT/summary.txt"
summarise() { # run-name, recipe
  $PY - "$RUNS/$1/metrics.json" "$2" <<'PYEOF' | tee -a "$OUT/recipes.jsonl"
import json, sys
m = json.load(open(sys.argv[1]))
keys = ("auc_micro", "auc_macro", "f1_micro", "f1_macro")
print(json.dumps({"recipe": sys.argv[2], "train_seconds": round(m["train_seconds"], 1), "best_epoch": m["best_epoch"] + 1,
                  "dev": {k: round(m["dev"][k], 4) for k in keys}, "test": {k: round(m["test"][k], 4) for k in keys}}))
PYEOF
}
summarise gpu-fp32 "minilm-cpu.toml"
train gpu-lr2e-4 --lr 2e-4 && summarise gpu-lr2e-4 "lr 2e-4"
train gpu-wbce --loss weighted_bce --class-weights sqrt_inverse && summarise gpu-wbce "weighted BCE, sqrt_inverse"
train gpu-4ep --epochs 4 && summarise gpu-4ep "4 epochs"
train gpu-lr1e-4 --lr 1e-4 && summarise gpu-lr1e-4 "lr 1e-4"
