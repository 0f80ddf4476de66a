# Set-up and checks for kxt-middleware.  `make test` and `make demo` do all set-up themselves.
PYTHON    ?= python3
VENV      ?= .venv
COV_MIN   ?= 90
DEMO_ARGS ?=

BIN   := $(VENV)/bin
STAMP := $(VENV)/.kxt-installed
LINT_DIRS := $(wildcard src tests demo_site bench)

.NOTPARALLEL:
.PHONY: test demo venv browser-setup lint unit browser clean

## Everything CI runs: lint, typing, unit tests with coverage gate, then real-browser tests.
test: lint unit browser

## Run the demo site (arguments via DEMO_ARGS="...").
demo: venv
	$(BIN)/python -m demo_site $(DEMO_ARGS)

venv: $(STAMP)

# (Re)install only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml
	@test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV) || { \
	  echo "'$(PYTHON) -m venv' failed: on Debian/Ubuntu install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet -e '.[test,demo]'
	@touch $@

browser-setup: venv
	@VENV=$(VENV) bash scripts/ensure-browser

lint: venv
	$(BIN)/ruff check $(LINT_DIRS)
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -m "not browser" --cov --cov-report=term-missing:skip-covered \
	  --cov-fail-under=$(COV_MIN)

browser: browser-setup
	$(BIN)/pytest -m browser

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov test-results \
	  build dist src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
