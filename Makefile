# One entry point for people and CI. Every target depends on `setup`, which is a no-op once done.
SHELL := /bin/bash
PY := .venv/bin/python
STAMP := .venv/.setup-stamp
DEMO_DIR := data/demo
INPUT ?= $(DEMO_DIR)/corpus/manifest.jsonl
OUTPUT ?= $(DEMO_DIR)/shards
ARGS ?=

# The labelled demo corpus (6 colour classes x 12 videos, 4 of them val; 144 clips) and its
# shards, for the downstream evaluations (`make downstream`). No captions, so no ASR.
LABELLED_CORPUS ?= $(DEMO_DIR)/labelled-corpus
LABELLED ?= $(DEMO_DIR)/labelled

RUN ?= runs/demo
# `make pretrain`: the named run `demo` of train/runs.py (the tiny config on the demo shards
# through a local Ray, 2 cores: 6-12 min; its settings and why are there). PRETRAIN_RUN names
# another run; PRETRAIN_ARGS replaces `--run ...` by other options (flags after --run change it).
PRETRAIN_RUN ?= demo
PRETRAIN_ARGS ?= --run $(PRETRAIN_RUN)

# `make downstream`: the `make demo` run (RUN) against random init on the labelled demo corpus
# (`make labelled-shards` builds LABELLED): zero-shot, linear probe, few-shot probe, fine-tune.
LABELLED ?= $(DEMO_DIR)/labelled
DOWNSTREAM_ARGS ?= --output runs/downstream --finetune-steps 60 --shots 2

.PHONY: setup test lint format bench shards corpus labelled-corpus labelled-shards pretrain evaluate demo downstream clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $(STAMP)

test: setup
	bash scripts/setup.sh --test
	$(PY) -m pytest -q -ra tests

lint: setup
	.venv/bin/ruff check pipeline model train vattclips clifields tests bench
	.venv/bin/ruff format --check pipeline model train vattclips clifields tests bench

format: setup
	.venv/bin/ruff format pipeline model train vattclips clifields tests bench
	.venv/bin/ruff check --fix pipeline model train vattclips clifields tests bench

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

labelled-corpus: setup
	@if [ ! -f $(LABELLED_CORPUS)/manifest.jsonl ]; then $(PY) -m pipeline demo-corpus $(LABELLED_CORPUS) --labelled; fi

# `make labelled-shards`: the labelled corpus built into $(LABELLED) (re-running resumes: a no-op)
labelled-shards: setup
	$(MAKE) --no-print-directory labelled-corpus
	$(PY) -m pipeline build --input $(LABELLED_CORPUS)/manifest.jsonl --output $(LABELLED) --asr none

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

downstream: setup
	@if [ ! -f $(LABELLED)/dataset.json ]; then $(MAKE) --no-print-directory labelled-shards; fi
	@if [ ! -d $(RUN) ]; then echo "no pretrained run at $(RUN): run 'make demo' first" >&2; exit 2; fi
	$(PY) -m train.downstream --checkpoint $(RUN) --data $(LABELLED) $(DOWNSTREAM_ARGS)

clean:
	rm -rf data runs
