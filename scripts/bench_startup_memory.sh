#!/usr/bin/env bash
# Start-up time and peak memory of `predict` with and without libtorch_cuda in the process:
# the release binary as built (it loads libtorch_cuda only for a CUDA device) and the same
# binary with the library preloaded, which is what linking it would do. Prints a table.
#
#   cargo build --release --example predict
#   bash scripts/bench_startup_memory.sh runs/minilm-cpu/checkpoint [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
checkpoint=${1:?usage: bench_startup_memory.sh CHECKPOINT_DIR [REPEATS]}
repeats=${2:-3}
predict=target/release/examples/predict
cuda=$(.venv/bin/python -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cuda.so"))')
[ -x "$predict" ] || { echo "build it first: cargo build --release --example predict" >&2; exit 1; }
[ -f "$cuda" ] || { echo "this libtorch has no $cuda" >&2; exit 1; }

# Median of `repeats` runs: "MiB seconds".
measure() {
    local preload=$1; shift
    for _ in $(seq "$repeats"); do
        echo "I love this so much, thank you" |
            LD_PRELOAD=$preload /usr/bin/time -f '%M %e' "$@" 2>&1 >/dev/null | tail -1
    done | sort -k2 -n | awk -v n="$repeats" 'NR == int((n + 1) / 2) { printf "%.0f MiB, %.2f s", $1 / 1024, $2 }'
}

echo "| run | without libtorch_cuda | with it preloaded |"
echo "| --- | ---: | ---: |"
echo "| \`predict --help\` (start-up only) | $(measure "" $predict --help) | $(measure "$cuda" $predict --help) |"
echo "| \`predict\`, one text | $(measure "" $predict --model "$checkpoint") | $(measure "$cuda" $predict --model "$checkpoint") |"
