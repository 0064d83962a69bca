#!/usr/bin/env bash
# Release binaries of goemo built against ANOTHER libtorch than .venv's (a GPU machine's PyTorch,
# which cannot install this project's), for copying there:
#
#   scripts/build_for_libtorch.sh LIBTORCH_DIR OUT_DIR [EXAMPLE...]
#
# LIBTORCH_DIR holds that libtorch's include/ and lib/ (e.g. torch/ unpacked from its wheel:
# `pip download --no-deps --python-version 3.12 --platform manylinux_2_28_x86_64 torch==2.11.0`).
# tch 0.26's generated C++ wrappers name every operator of libtorch 2.13; the ones an older
# libtorch lacks are stubbed (they throw "not in this libtorch" if ever called; goemo calls none
# of them). The build happens in a copy of this tree with its own target folder, the binaries
# (and the NCCL and CUDA graph shims) are stripped into OUT_DIR, and at run time they need that libtorch's lib
# folder on LD_LIBRARY_PATH.
set -euo pipefail
LIBTORCH=$(cd "$1" && pwd) OUT=$2
shift 2
EXAMPLES=("${@:-train}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${GOEMO_BUILD_DIR:-/tmp/goemo-build-$(basename "$LIBTORCH")}
mkdir -p "$WORK" "$OUT"

# 1. torch-sys with the missing operators stubbed.
# Made once per build folder: a fresh copy would rebuild torch-sys's C++ (minutes) every time.
SRC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/torch-sys-0.26.0 | head -1)
[ -d "$WORK/torch-sys" ] || cp -r "$SRC" "$WORK/torch-sys"
GEN=$WORK/torch-sys/libtch/torch_api_generated.cpp
for _ in 1 2 3; do
  errors=$(g++ -std=c++17 -fsyntax-only -D_GLIBCXX_USE_CXX11_ABI=1 -I"$LIBTORCH/include" \
    -I"$LIBTORCH/include/torch/csrc/api/include" -I"$WORK/torch-sys/libtch" "$GEN" 2>&1 |
    grep -oE "torch_api_generated.cpp:[0-9]+:[0-9]+: error" | cut -d: -f2 | sort -un || true)
  [ -z "$errors" ] && break
  python3 - "$GEN" $errors <<'PY'
import sys
path, lines = sys.argv[1], {int(n) for n in sys.argv[2:]}
src = open(path).read().split("\n")
stubbed = set()
for n in sorted(lines, reverse=True):
    i = n - 1
    start = i
    while not (src[start] and not src[start][0].isspace() and "(" in src[start]):
        start -= 1
    if start in stubbed:
        continue
    end = i
    while src[end] != "}":
        end += 1
    head = src[start]
    ret = "" if head.startswith("void ") else "  return {};"
    name = head.split("(")[0].split()[-1]
    brace = start
    while "{" not in src[brace]:
        brace += 1
    src[brace + 1:end] = [f'  PROTECT(throw std::runtime_error("{name}: not in this libtorch");)'] + ([ret] if ret else [])
    stubbed.add(start)
    print("stubbed", name)
open(path, "w").write("\n".join(src))
PY
done

# 2. A copy of this tree whose torch-sys is the stubbed one.
mkdir -p "$WORK/tree"
git -C "$ROOT" ls-files -co --exclude-standard | tar -C "$ROOT" -cf - -T - | tar -C "$WORK/tree" -xf -
if grep -q '^\[patch.crates-io\]' "$WORK/tree/Cargo.toml"; then
  sed -i "/^\[patch.crates-io\]/a torch-sys = { path = \"$WORK/torch-sys\" }" "$WORK/tree/Cargo.toml"
else
  printf '\n[patch.crates-io]\ntorch-sys = { path = "%s" }\n' "$WORK/torch-sys" >>"$WORK/tree/Cargo.toml"
fi
cd "$WORK/tree"
args=()
for e in "${EXAMPLES[@]}"; do args+=(--example "$e"); done
env -u LIBTORCH_USE_PYTORCH GOEMO_NVIDIA_SITE="$(ls -d "$ROOT"/.venv/lib/python3*/site-packages | head -1)" LIBTORCH="$LIBTORCH" LIBTORCH_BYPASS_VERSION_CHECK=1 CARGO_TARGET_DIR="$WORK/target" \
  cargo build --release "${args[@]}"
for e in "${EXAMPLES[@]}"; do
  strip -o "$OUT/$e" "$WORK/target/release/examples/$e"
done
for shim in libgoemo_nccl.so libgoemo_cuda_graph.so; do
  built=$(ls "$WORK"/target/release/build/goemo-torch-*/out/$shim 2>/dev/null | head -1 || true)
  [ -n "$built" ] && strip -o "$OUT/$shim" "$built"
done
ls -la "$OUT"
