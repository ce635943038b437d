# al-bert — `make help` lists the targets.
PYTHON ?= python
SCALE ?= smoke
export AL_BERT_DATA_MIRROR ?= $(abspath ../shared/datasets)

.DEFAULT_GOAL := help
.PHONY: help install test test-slow lint format run table-datasets bench-select bench-sweep tables clean

help:  ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 24

install:  ## install al-bert for development (CPU torch first, keeps an existing CUDA torch)
	$(PYTHON) -m pip install "torch==2.13.0" || $(PYTHON) -c "import torch"
	$(PYTHON) -m pip install -e ".[dev]"

test:  ## the default test suite (CPU, reads the mirror at ../shared/datasets)
	$(PYTHON) -m pytest -q

test-slow:  ## the slow end-to-end tests too
	$(PYTHON) -m pytest -q -m "slow or not slow"

lint:  ## ruff check, ruff format --check, mypy
	$(PYTHON) -m ruff check al_bert tests scripts
	$(PYTHON) -m ruff format --check al_bert tests scripts
	$(PYTHON) -m mypy al_bert

format:  ## apply ruff fixes and formatting
	$(PYTHON) -m ruff check --fix al_bert tests scripts
	$(PYTHON) -m ruff format al_bert tests scripts

run:  ## the default experiment
	$(PYTHON) -m al_bert

table-datasets:  ## outputs/tables/datasets.{csv,md}: sizes, priors and query quality of every task
	$(PYTHON) -m al_bert.data.describe --out outputs/tables

bench-select:  ## benchmarks/select.{md,json}: selection cost per strategy vs one pool pass (paper 1 Table 2)
	$(PYTHON) scripts/bench_select.py --out benchmarks

bench-sweep:  ## benchmarks/sweep.{md,json}: shared iteration 0 vs independent runs, phases, 67k pool
	$(PYTHON) scripts/bench_sweep.py --out benchmarks

tables:  ## list the generated tables and figures
	@ls -1 outputs/tables 2>/dev/null || echo "no tables yet: see make help"

clean:  ## remove run outputs (keeps benchmarks/)
	rm -rf outputs multirun
