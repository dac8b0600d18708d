# Set-up and everyday commands. Each target creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
AS_OF := 2026-11-01T00:00:00Z

.PHONY: demo demo-files test lint bench clean constraints

# What the demo needs (the package, its own dependencies and Plotly for its HTML report), and
# the development tools on top for test, lint and bench, with Apache Airflow for the DAG's
# tests (the `airflow` extra); both pinned by constraints.txt.
$(VENV)/.app: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[report]"
	touch $@

$(VENV)/.installed: $(VENV)/.app
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,airflow]"
	touch $@

# Regenerate constraints.txt from a fresh venv with every extra (run after changing dependencies).
constraints:
	rm -rf .venv-freeze
	$(PYTHON) -m venv .venv-freeze
	.venv-freeze/bin/python -m pip install --quiet --upgrade pip
	.venv-freeze/bin/python -m pip install --quiet -e ".[dev,postgres,gcp,airflow]"
	head -2 constraints.txt > constraints.new
	.venv-freeze/bin/python -m pip freeze --exclude-editable >> constraints.new
	mv constraints.new constraints.txt
	rm -rf .venv-freeze

demo: $(VENV)/.app
	$(BIN)/leadscore demo

demo-files: $(VENV)/.app
	$(BIN)/leadscore score --rules scoring/rulesets/default.yaml \
		--contacts examples/data/contacts.csv --activities examples/data/activities.csv \
		--as-of $(AS_OF)

test: $(VENV)/.installed
	$(BIN)/python -m pytest -n auto

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy connectors sandbox scoring sync

bench: $(VENV)/.installed
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/coldstart.py
	$(BIN)/python bench/triggers.py
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/files.py
	$(BIN)/python bench/due.py
	$(BIN)/python bench/world.py
	$(BIN)/python bench/hubspot_sync.py
	$(BIN)/python bench/salesforce_sync.py
	$(BIN)/python bench/mailchimp_sync.py
	$(BIN)/python bench/faults.py

clean:
	rm -rf $(VENV) .venv-freeze .pytest_cache .mypy_cache .ruff_cache .hypothesis
