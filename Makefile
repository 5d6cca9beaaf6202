# Every target bootstraps .venv itself, so a fresh clone needs nothing installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8765

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

run: $(STAMP)
	$(BIN)/remembrancer serve --transport http --host $(HOST) --port $(PORT) $(if $(REMEMBRANCER_AUTH_TOKEN),,--no-auth)

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check server tests bench tools
	$(BIN)/ruff format --check server tests bench tools
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/locomo.py
	$(BIN)/python bench/dedup_threshold.py
	$(BIN)/python bench/judge.py
	$(BIN)/python bench/stress.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/locomo_scale.py
	$(BIN)/python bench/changed_facts.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
