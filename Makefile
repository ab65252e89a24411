# One entry point for people and CI. Every target depends on `setup`, which is a no-op once done.
SHELL := /bin/bash
PY := .venv/bin/python
STAMP := .venv/.setup-stamp
DEMO_DIR := data/demo
INPUT ?= $(DEMO_DIR)/corpus/manifest.jsonl
OUTPUT ?= $(DEMO_DIR)/shards
ARGS ?=

RUN ?= runs/demo
# `make pretrain`: the tiny config on the demo shards through a local Ray (2 cores: 6-12 min).
# The demo's meaning is colour, shape and direction: `--augment light` drops the paper's hue
# jitter (red -> orange) and horizontal flip (left -> right); the paper's is the default.
PRETRAIN_ARGS ?= --config tiny --max-steps 900 --batch-size 16 --num-workers 1 \
	--cpus-per-worker 2 --loader-workers 1 --log-every 50 --checkpoint-every 300 \
	--lr 5e-4 --augment light --set dropout=0.0 --set attention_dropout=0.0

.PHONY: setup test lint format bench shards corpus pretrain evaluate demo clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $(STAMP)

test: setup
	bash scripts/setup.sh --test
	$(PY) -m pytest -q -ra tests

lint: setup
	.venv/bin/ruff check pipeline model train vattclips tests bench
	.venv/bin/ruff format --check pipeline model train vattclips tests bench

format: setup
	.venv/bin/ruff format pipeline model train vattclips tests bench
	.venv/bin/ruff check --fix pipeline model train vattclips tests bench

bench: setup
	$(PY) bench/pipeline.py
	$(PY) bench/model.py
	$(PY) bench/loader.py

corpus: setup
	@if [ ! -f $(DEMO_DIR)/corpus/manifest.jsonl ]; then $(PY) -m pipeline demo-corpus $(DEMO_DIR)/corpus; fi

# `make shards` alone builds the embedded demo corpus; INPUT/OUTPUT/ARGS take any manifest and URI.
shards: setup
	@if [ "$(INPUT)" = "$(DEMO_DIR)/corpus/manifest.jsonl" ]; then $(MAKE) --no-print-directory corpus; fi
	$(PY) -m pipeline build --input $(INPUT) --output $(OUTPUT) $(ARGS)

pretrain: setup
	$(PY) -m train.pretrain --data $(OUTPUT) --output $(RUN) --overwrite $(PRETRAIN_ARGS)

evaluate: setup
	$(PY) -m train.evaluate --checkpoint $(RUN) --data $(OUTPUT) --split val \
		--examples-png $(RUN)/retrieval_examples.png

# the whole thing on the embedded demo corpus: shards, pretraining, zero-shot retrieval
demo: setup
	$(MAKE) --no-print-directory shards
	$(MAKE) --no-print-directory pretrain
	$(MAKE) --no-print-directory evaluate
	@echo "loss curves: $(RUN)/tensorboard/loss_curves.png  (TensorBoard: .venv/bin/tensorboard --logdir $(RUN)/tensorboard)"

clean:
	rm -rf data runs
