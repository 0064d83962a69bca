#!/usr/bin/env bash
# Every dependency a Cargo.toml declares is used: cargo-machete, pinned and installed into
# .tools/ on first use (about a minute), so that CI needs nothing installed by hand. Run by `make test`.
set -euo pipefail
version=0.9.2
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin/cargo-machete"
if ! [ -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -qx "$version"; then
    echo "installing cargo-machete $version into .tools/"
    cargo install cargo-machete --version "$version" --locked --root "$root/.tools" --quiet
fi
cd "$root"
"$bin"
