# Two commands do all the set-up on a fresh machine:
#   make run   creates .venv, installs, migrates the embedded SQLite, seeds the demo, serves
#   make test  creates/updates .venv, installs, then ruff, mypy and pytest
#              (and axe-core from npm for the accessibility test: needs Node and npm)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# axe-core, which the accessibility test injects into the console's pages (npm, pinned by
# the lock file); only `make test` needs it, so `make run` works without Node.
BROWSER_JS := tests/browser
AXE_STAMP  := $(BROWSER_JS)/node_modules/.installed-stamp

.PHONY: run test install test-install lint typecheck pytest bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "copline needs Python 3.11 or newer (found " + sys.version.split()[0] + "); set PYTHON=python3.11"'
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

$(AXE_STAMP): $(BROWSER_JS)/package.json $(BROWSER_JS)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: the accessibility test needs it (apt-get install -y nodejs npm)" >&2; exit 1; }
	npm ci --prefix $(BROWSER_JS) --no-audit --no-fund --loglevel=error
	@touch $(AXE_STAMP)

test-install: install $(AXE_STAMP)

run: install
	$(BIN)/copline migrate
	$(BIN)/copline seed-demo
	$(BIN)/copline serve

test: test-install lint typecheck pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# One test process per core (pytest-xdist): each has its own databases (tests/conftest.py).
# worksteal: a process that runs out of tests takes some of the other's queue, so the
# long ones (the fault run, the browser tests) do not leave one core idle at the end.
pytest: test-install
	$(BIN)/pytest -n auto --dist worksteal --durations=30

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache $(BROWSER_JS)/node_modules
