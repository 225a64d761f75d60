# The two commands of the README: `make demo` and `make test`. Both run `make setup` first,
# which is idempotent: it creates .venv, installs the project with its dev extras, and provides
# toxiproxy-server 2.12.0 in .venv/bin.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)

.PHONY: setup test lint demo stack clean

setup: $(VENV)/.installed $(BIN)/toxiproxy-server

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(BIN)/toxiproxy-server: scripts/install-toxiproxy.sh
	bash scripts/install-toxiproxy.sh $(BIN)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy harness

test: lint
	bash scripts/install-test-deps.sh $(BIN)
	$(BIN)/pytest

demo: setup
	$(BIN)/harness demo

stack: setup
	$(BIN)/harness stack up examples/payments/stack.yaml

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
