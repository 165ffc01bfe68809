# Developer and CI entry points. `make test` is the test command CI runs.

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# When set, `make test` writes pytest's own exit status here; make itself only
# reports "Error N", and CI needs to tell "no tests collected" (5) apart.
PYTEST_STATUS_FILE ?=
# Installs keep to the versions in constraints.txt, so a fresh clone (and CI)
# gets the set the suite last passed with, not whatever was released since.
# UNPINNED=1 installs the newest allowed by pyproject.toml, to upgrade.
UNPINNED ?=
CONSTRAINTS := $(if $(UNPINNED),,-c constraints.txt)

.PHONY: venv clean-venv test lint run clean

venv: $(STAMP)

$(VENV_PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependencies may have changed, so `make test` stays fast.
$(STAMP): pyproject.toml constraints.txt | $(VENV_PY)
	$(VENV_PY) -m pip install --upgrade pip
	$(VENV_PY) -m pip install $(CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

test: venv
	@status=0; \
	$(VENV_PY) -m pytest -n auto -p no:cacheprovider $(PYTEST_ARGS) || status=$$?; \
	if [ -n "$(PYTEST_STATUS_FILE)" ]; then echo $$status > "$(PYTEST_STATUS_FILE)"; fi; \
	exit $$status

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy domain application infrastructure interfaces
	$(VENV)/bin/lint-imports --no-logo

run: venv
	$(VENV)/bin/rectify serve --demo

clean-venv:
	rm -rf $(VENV)

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
