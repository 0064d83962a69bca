#!/usr/bin/env bash
# Conventions the compiler cannot keep, run by `make test`: layering, goemo-torch's copy of the
# workspace lints, thin examples.
#
# The crates below goemo-torch build without libtorch: neither tch nor torch-sys may appear in
# their dependency trees (normal and build dependencies).
set -euo pipefail
status=0
for crate in goemo-fs goemo-system goemo-stats goemo-metrics goemo-threshold goemo-calibration goemo-data \
    goemo-report goemo-analysis; do
    if found=$(cargo tree -p "$crate" -e normal,build --prefix none 2>&1 | grep -E '^(tch|torch-sys) '); then
        echo "error: $crate depends on libtorch: $(echo "$found" | head -1)" >&2
        status=1
    fi
done
[ "$status" -eq 0 ] || exit "$status"
echo "layers: no crate below goemo-torch depends on libtorch"

# goemo-torch cannot inherit the workspace's lints (it allows unsafe code), so it repeats them:
# every workspace lint but unsafe_code must appear in its Cargo.toml with the same level.
lints_of() { # file, table
    awk -v t="[$2]" '$0 == t {on = 1; next} /^\[/ {on = 0} on && /^[a-z_]+ = "/ {print $1 $2 $3}' "$1"
}
for table in lints.rust lints.clippy; do
    missing=$(comm -23 <(lints_of Cargo.toml "workspace.$table" | grep -v '^unsafe_code=' | sort) \
        <(lints_of crates/goemo-torch/Cargo.toml "$table" | sort))
    if [ -n "$missing" ]; then
        echo "error: crates/goemo-torch/Cargo.toml [$table] lacks the workspace's $(echo $missing)" >&2
        exit 1
    fi
done
echo "lints: goemo-torch repeats every workspace lint"

# Examples stay thin: argument parsing and library calls, at most 150 lines each.
long=$(wc -l examples/*.rs | awk '$2 != "total" && $1 > 150 {print $2 " (" $1 " lines)"}')
if [ -n "$long" ]; then
    echo "error: examples over 150 lines; move their logic into a library crate: $long" >&2
    exit 1
fi
echo "examples: every one at most 150 lines"
