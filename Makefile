# The two commands of the README: `make demo` and `make test`. Each sets itself up on a fresh
# machine: a .venv with torch 2.13.0 (CPU build) installed first, then pixelsmith and its extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.pixelsmith-installed

.PHONY: install demo test lint benchmarks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[classical,train,fast,prune,dev,web,explain]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/pixelsmith demo -o demo-output

lint: install
	$(BIN)/ruff check src tests benchmarks scripts

test: lint
	$(BIN)/pytest -q

benchmarks: install
	$(BIN)/python -m benchmarks.published_figures

clean:
	rm -rf demo-output .pytest_cache .ruff_cache
