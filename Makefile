# Two commands on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup system demo test lint format bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

# Services the tests use: the system Chromium (browser tests) and a running PostgreSQL.
system:
	bash scripts/system-deps.sh

demo: setup
	$(BIN)/patron demo

test: setup system
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/pytest -n 2 --dist loadgroup

lint:
	$(BIN)/ruff check src tests benchmarks

format:
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

# The anchors (lifetimes, pymc-marketing) get venvs of their own: lifetimes cannot import with pandas >= 2.
bench: setup
	bash benchmarks/anchors.sh
	$(BIN)/python -m benchmarks
