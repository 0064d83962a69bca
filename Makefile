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
# training split on the CPU (configs/minilm-cpu.toml; about 21 minutes on 2 cores), every
# artifact in runs/minilm-cpu/.
train: stats train-minilm

stats: setup
	cargo run --release --example dataset_stats -- --data data/goemotions \
		--tokenizer data/models/all-MiniLM-L6-v2/tokenizer.json --out runs/dataset_stats

train-minilm: setup
	cargo run --release --example train -- --config configs/minilm-cpu.toml

test: setup
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace

bench: setup
	cargo bench --workspace

fmt:
	cargo fmt --all
