# shiplog: `make demo` shows it working, `make test` proves it. Both create .venv first.
PYTHON ?= python3
# Where `make demo` serves the web timeline at its end (loopback only).
DEMO_PORT ?= 8080
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format docs bench bench-quick clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: on Debian, apt-get install python3-venv"; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[test,bench]'
	@touch $(STAMP)

install: $(STAMP)

# scripts/demo stops the embedded PostgreSQL at the end if the demo started it.
demo: $(STAMP)
	scripts/ensure-docker
	BIN=$(BIN) DEMO_PORT=$(DEMO_PORT) scripts/demo

test: lint
	scripts/ensure-docker
	scripts/ensure-browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Generated references; tests/test_docs.py fails when either is stale.
docs: $(STAMP)
	$(BIN)/shiplog events catalogue --markdown > docs/events.md
	$(BIN)/python -m app.cli.docs > docs/cli.md

bench: $(STAMP)
	$(BIN)/python -m bench.ledger

bench-quick: $(STAMP)
	$(BIN)/python -m bench.ledger --quick

clean:
	rm -rf $(VENV) .test-home .bench-home .pytest_cache .mypy_cache .ruff_cache *.egg-info
