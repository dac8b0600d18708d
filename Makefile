# Set-up and everyday commands. Each target creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
AS_OF := 2026-11-01T00:00:00Z

.PHONY: demo demo-files test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/leadscore demo

demo-files: $(VENV)/.installed
	$(BIN)/leadscore score --rules scoring/rulesets/default.yaml \
		--contacts examples/data/contacts.csv --activities examples/data/activities.csv \
		--as-of $(AS_OF)

test: $(VENV)/.installed
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy connectors sandbox scoring sync

bench: $(VENV)/.installed
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/world.py
	$(BIN)/python bench/hubspot_sync.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
