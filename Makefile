# al-bert — `make help` lists the targets.
PYTHON ?= python
SCALE ?= smoke
export AL_BERT_DATA_MIRROR ?= $(abspath ../shared/datasets)

.DEFAULT_GOAL := help
.PHONY: help install lock test-latest test test-slow test-slurm test-peers lint format run table-datasets bench-select bench-sweep bench-memory bench-train bench-soak bench-peers bench-peers-multiclass gpu-bundle gpu-bundle-check gpu-check tables clean reproduce \
	figure-ein-dor-1 figure-ein-dor-2 table-ein-dor-2 table-ein-dor-3 table-fairstein-2 \
	table-fairstein-3 table-fairstein-4 table-fairstein-5 table-fairstein-6 table-fairstein-11

help:  ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 24

install:  ## install al-bert for development through constraints.txt (CPU torch first, keeps an existing CUDA torch)
	$(PYTHON) -m pip install "torch==2.13.0" || $(PYTHON) -c "import torch"
	$(PYTHON) -m pip install -c constraints.txt -e ".[dev]"

# The tested dependency set: every supported Python's exact versions, from pyproject.toml's ranges.
LOCK_HEADER = \
  "\# al-bert's tested dependency set: exact versions for every supported Python (3.10-3.13), resolved by" \
  "\# \`make lock\` (uv pip compile --universal) from pyproject.toml's ranges and the [dev] extra. CI installs" \
  "\# through it (README: pip install -c constraints.txt -e \".[dev]\"); pyproject.toml keeps compatible ranges" \
  "\# for projects that embed al-bert. torch is left out: README installs it first (or keeps your CUDA build)." \
  "\# \`make test-latest\` says whether the newest releases still pass."
lock:  ## constraints.txt: re-resolve the newest versions pyproject.toml allows (then run make test and commit)
	$(PYTHON) -m uv pip compile pyproject.toml --extra dev --universal --python-version 3.10 \
		--no-emit-package torch --no-header --quiet -o constraints.txt.new
	printf '%s\n' $(LOCK_HEADER) | cat - constraints.txt.new > constraints.txt && rm constraints.txt.new

LATEST_VENV ?= .venv-latest
test-latest:  ## lint and test against the newest releases (a fresh venv without constraints.txt)
	rm -rf $(LATEST_VENV) && $(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/pip install "torch==2.13.0" && $(LATEST_VENV)/bin/pip install -e ".[dev]"
	PATH="$(abspath $(LATEST_VENV))/bin:$$PATH" $(MAKE) lint test PYTHON=python
	$(PYTHON) -m pip install -q --no-deps -e .  # the editable install points back at this environment

test:  ## the default test suite (CPU, reads the mirror at ../shared/datasets)
	$(PYTHON) -m pytest -q

test-slow:  ## the slow end-to-end tests too
	$(PYTHON) -m pytest -q -m "not slurm and not peers"

test-peers:  ## smoke runs of small-text and baal next to al-bert (scripts/bench_peers.py; pip install -e ".[bench]")
	$(PYTHON) -m pytest -q -m peers tests/test_bench_peers.py

SLURM_PACKAGES = slurmctld slurmd slurm-client munge
test-slurm:  ## sweeps on a real one-host SLURM cluster (needs: apt-get install slurmctld slurmd slurm-client munge)
	@command -v slurmctld >/dev/null || { echo "test-slurm: SLURM is not installed; as root: apt-get install -y $(SLURM_PACKAGES)"; exit 1; }
	$(PYTHON) -m pytest -q -rP -m slurm tests/test_slurm.py

lint:  ## ruff check, ruff format --check, mypy, the import contracts of pyproject.toml (import-linter)
	$(PYTHON) -m ruff check al_bert tests scripts
	$(PYTHON) -m ruff format --check al_bert tests scripts
	$(PYTHON) -m mypy al_bert
	lint-imports

format:  ## apply ruff fixes and formatting
	$(PYTHON) -m ruff check --fix al_bert tests scripts
	$(PYTHON) -m ruff format al_bert tests scripts

run:  ## the default experiment
	$(PYTHON) -m al_bert

table-datasets:  ## outputs/tables/datasets.{csv,md}: sizes, priors and query quality of every task
	$(PYTHON) -m al_bert.data.describe --out outputs/tables

bench-select:  ## benchmarks/select.{md,json}: selection cost per strategy vs one pool pass (paper 1 Table 2)
	$(PYTHON) scripts/bench_select.py --out benchmarks

bench-memory:  ## benchmarks/memory.{md,json}: resident memory after each of 24 in-process jobs (al-bert's oneDNN cache of 256), vs torch's 1024, the cache off, MKL's allocator off
	$(PYTHON) scripts/bench_memory.py --out benchmarks --jobs 24 --compare-env ONEDNN_PRIMITIVE_CACHE_CAPACITY=1024 ONEDNN_PRIMITIVE_CACHE_CAPACITY=0 ONEDNN_PRIMITIVE_CACHE_CAPACITY=0,MKL_DISABLE_FAST_MM=1

bench-train:  ## benchmarks/train.{md,json}: a fine-tuning step's forward+backward / optimiser / other, al-bert vs bare PyTorch, per trainer
	$(PYTHON) scripts/bench_train.py --out benchmarks

bench-sweep:  ## benchmarks/sweep.{md,json}: shared iteration 0 vs independent runs, phases, 67k pool
	$(PYTHON) scripts/bench_sweep.py --out benchmarks

gpu-bundle:  ## .whl/: what the lent GPU machines lack (wheels, float16 MiniLM, datasets); prints the call's size (docs/gpu.md)
	PYTHON=$(PYTHON) bash scripts/gpu_bundle.sh

gpu-bundle-check:  ## gpu-bundle, then gpu_check.sh --dry-run --smoke in a Python 3.12 env with only the GPU image's packages
	PYTHON=$(PYTHON) bash scripts/gpu_bundle.sh --check

gpu-check:  ## the GPU path end to end on a CUDA machine (results in benchmarks/gpu)
	PYTHON=$(PYTHON) bash scripts/gpu_check.sh --out benchmarks/gpu

bench-soak:  ## benchmarks/soak.{md,json}: 105 tiny runs, 2 workers, 3 random SIGKILLs, re-launched until done
	$(PYTHON) scripts/bench_soak.py --out benchmarks --kills 3

bench-peers:  ## benchmarks/peers.{md,json}: al-bert vs small-text and baal per selection step (pip install -e ".[bench]")
	$(PYTHON) scripts/bench_peers.py --out benchmarks

bench-peers-multiclass:  ## benchmarks/peers_trec6.{md,json}: the same on TREC-6 (6 classes): entropy, margin, BALD, BatchBALD
	$(PYTHON) scripts/bench_peers.py --dataset trec6 --strategies entropy margin bald batchbald --repeat-under 200 --out benchmarks

# reproduce at SCALE=cpu runs JOBS runs at once (joblib), each with cores / JOBS torch threads: on 2 cores
# two 1-thread runs finish about 1.4x more runs per hour than one 2-thread run (small batches scale badly).
JOBS ?= 2
REPRODUCE_SCALE = $(if $(filter command line,$(origin SCALE)),$(SCALE),cpu)
REPRODUCE_THREADS = $(shell $(PYTHON) -c "import os; print(max(1, (os.cpu_count() or 1) // $(JOBS)))")
reproduce:  ## docs/reproduction.md: run what is missing of sweeps/reproduce.yaml (SCALE=cpu|paper; JOBS=2 at once), then the report
	$(PYTHON) sweeps/run_sweep.py reproduce --scale $(REPRODUCE_SCALE) --skip-analysis \
		$(if $(filter cpu,$(REPRODUCE_SCALE)),--override +launcher=joblib hydra.launcher.n_jobs=$(JOBS) threads=$(REPRODUCE_THREADS))
	$(PYTHON) -m al_bert.analysis.reproduction --runs reproduction/runs --out docs

tables:  ## list the generated tables and figures
	@ls -1 outputs/tables 2>/dev/null || echo "no tables yet: see make help"

clean:  ## remove run outputs (keeps benchmarks/)
	rm -rf outputs multirun

# ---- the papers' tables and figures (sweeps/*.yaml; SCALE=smoke|paper; outputs/tables/) ----
SWEEP = $(PYTHON) sweeps/run_sweep.py --scale $(SCALE) --out outputs/tables $(if $(WANDB),--wandb)

figure-ein-dor-1:  ## paper 1 Figures 1/3, 4, 5: learning curves vs Random (SCALE=smoke|paper)
	$(SWEEP) ein-dor --target $@

figure-ein-dor-2:  ## paper 1 Figure 2 (diversity, representativeness) + batch overlap table
	$(SWEEP) ein-dor --target $@

table-ein-dor-2:  ## paper 1 Table 2: inference + selection seconds per strategy
	$(SWEEP) ein-dor --target $@

table-ein-dor-3:  ## paper 1 Table 3: Wilcoxon p vs Random (Bonferroni) + every strategy pair
	$(SWEEP) ein-dor --target $@

table-fairstein-2:  ## paper 2 Table 2: InvProp vs Uniform per dataset (best algorithm), r=50
	$(SWEEP) fairstein --target $@

table-fairstein-3:  ## paper 2 Table 3: InvProp vs Uniform per AL algorithm, r=50
	$(SWEEP) fairstein --target $@

table-fairstein-4:  ## paper 2 Table 4: InvProp vs Uniform per imbalance ratio (paired t-test bold)
	$(SWEEP) fairstein --target $@

table-fairstein-5:  ## paper 2 Table 5: InvProp vs PosProb per imbalance ratio
	$(SWEEP) fairstein --target $@

table-fairstein-6:  ## paper 2 Table 6: three weightings at r=200 (smoke) / 200, 1000 (paper)
	$(SWEEP) fairstein-extreme --target $@

table-fairstein-11:  ## paper 2 Tables 11+12: InvProp with 2..20 bins, p(m) vs m=10
	$(SWEEP) fairstein-bins --target $@
