# Two commands for a fresh machine:
#   make reproduce   # venv + pinned install + the default DAG -> results/
#   make test        # venv + pinned install + the test suite
PYTHON ?= python3
VENV ?= .venv
CORES ?= all
CONFIG ?= workflow/config/default.yaml
PROFILE ?= workflow/profiles/default
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install reproduce smoke test test-cluster review publish verify dvc-yaml clean

$(BIN)/rhem: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[test]"
	touch $@

install: $(BIN)/rhem

reproduce: install
	$(BIN)/snakemake --profile $(PROFILE) --cores $(CORES) --configfile $(CONFIG)

smoke: install
	$(BIN)/snakemake --profile $(PROFILE) --cores $(CORES) --configfile workflow/config/smoke.yaml

test: install
	$(BIN)/python -m pytest

# The smoke DAG through a SLURM cluster; start one first: workflow/scripts/local-slurm.sh start
test-cluster: install
	$(BIN)/python -m pytest -m cluster

# Reviewer path: pull the published results from the repository's reference remote, check
# their hashes, redraw every figure and the report; no training or evaluation job runs.
review: install
	$(BIN)/rhem review --config $(CONFIG)

# Maintainer path, in a checkout where the DAG of CONFIG has finished: push its results to
# the reference remote and write reference/published.json and the README's result table.
publish: install
	$(BIN)/rhem publish --config $(CONFIG)

# Rebuild one run from scratch (RUN=<world>/<condition> SEED=<n>) and compare it with the
# results in this repository (pulled or built): a verdict per file and in all.
verify: install
	$(BIN)/rhem verify --config $(CONFIG) --run $(RUN) --seed $(SEED) --cores $(CORES)

dvc-yaml: install
	$(BIN)/rhem dvc-yaml --config $(CONFIG) --out dvc.yaml

clean:
	rm -rf data/corpus data/envs models results logs .snakemake
