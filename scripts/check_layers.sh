#!/usr/bin/env bash
# The crates below goemo-torch build without libtorch: neither tch nor torch-sys may appear in
# their dependency trees (normal and build dependencies). Run by `make test`.
set -euo pipefail
status=0
for crate in goemo-fs goemo-system goemo-stats goemo-metrics goemo-threshold goemo-calibration goemo-data \
    goemo-report goemo-analysis; do
    if found=$(cargo tree -p "$crate" -e normal,build --prefix none 2>&1 | grep -E '^(tch|torch-sys) '); then
        echo "error: $crate depends on libtorch: $(echo "$found" | head -1)" >&2
        status=1
    fi
done
[ "$status" -eq 0 ] && echo "layers: no crate below goemo-torch depends on libtorch"
exit "$status"
