# Two commands do everything on a fresh machine: `make train` and `make test`.
SHELL := /bin/bash
export VIRTUAL_ENV := $(CURDIR)/.venv
export PATH := $(VIRTUAL_ENV)/bin:$(PATH)
# tch builds against the PyTorch in .venv; build.rs bakes its lib folder into every binary's rpath.
export LIBTORCH_USE_PYTORCH := 1

.PHONY: setup train stats train-minilm test bench fmt

setup:
	@bash scripts/setup.sh

# The main job: the data set's statistics (seconds), then all-MiniLM-L6-v2 fine-tuned on the full
# training split on the CPU with three seeds of configs/minilm-cpu.toml (about 10.5 minutes each on
# 2 cores with native bf16, 13 in fp32; runs/minilm-cpu-seed<N>/), averaged into one ensemble
# calibrated and with thresholds fitted on dev
# (runs/minilm-cpu-ensemble/, served by `predict` and `serve` through checkpoint/ensemble.json),
# whose inference speed goes to its bench.csv (about a minute).
SEEDS := 42 43 44

train: stats train-minilm

stats: setup
	cargo run --release --example dataset_stats -- --data data/goemotions \
		--tokenizer data/models/all-MiniLM-L6-v2/tokenizer.json --out runs/dataset_stats

train-minilm: setup
	cargo build --release --example train --example ensemble --example bench_inference
	for seed in $(SEEDS); do \
		target/release/examples/train --config configs/minilm-cpu.toml --seed $$seed \
			--run-name minilm-cpu-seed$$seed || exit 1; \
	done
	target/release/examples/ensemble $(foreach seed,$(SEEDS),--run runs/minilm-cpu-seed$(seed)) \
		--out runs/minilm-cpu-ensemble
	target/release/examples/bench_inference --model runs/minilm-cpu-ensemble/checkpoint \
		--texts data/goemotions/test.tsv --batch-sizes 1,16,64 --batches 16 \
		--out runs/minilm-cpu-ensemble/bench.csv

# Formatting, lints, conventions (no libtorch below goemo-torch, thin examples), no unused
# dependencies, docs (broken links fail), tests.
test: setup
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	bash scripts/check_layers.sh
	bash scripts/check_deps.sh
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
	cargo test --workspace

bench: setup
	cargo bench --workspace

fmt:
	cargo fmt --all
