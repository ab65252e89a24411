# One entry point for people and CI. Every target depends on `setup`, which is a no-op once done.
SHELL := /bin/bash
PY := .venv/bin/python
STAMP := .venv/.setup-stamp
DEMO_DIR := data/demo
INPUT ?= $(DEMO_DIR)/corpus/manifest.jsonl
OUTPUT ?= $(DEMO_DIR)/shards
ARGS ?=

.PHONY: setup test lint format bench shards corpus demo clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $(STAMP)

test: setup
	bash scripts/setup.sh --test
	$(PY) -m pytest -q -ra tests

lint: setup
	.venv/bin/ruff check pipeline model train tests bench
	.venv/bin/ruff format --check pipeline model train tests bench

format: setup
	.venv/bin/ruff format pipeline model train tests bench
	.venv/bin/ruff check --fix pipeline model train tests bench

bench: setup
	$(PY) bench/pipeline.py

corpus: setup
	@if [ ! -f $(DEMO_DIR)/corpus/manifest.jsonl ]; then $(PY) -m pipeline demo-corpus $(DEMO_DIR)/corpus; fi

# `make shards` alone builds the embedded demo corpus; INPUT/OUTPUT/ARGS take any manifest and URI.
shards: setup
	@if [ "$(INPUT)" = "$(DEMO_DIR)/corpus/manifest.jsonl" ]; then $(MAKE) --no-print-directory corpus; fi
	$(PY) -m pipeline build --input $(INPUT) --output $(OUTPUT) $(ARGS)

demo: shards

clean:
	rm -rf data runs
