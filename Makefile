# Set-up and checks for kxt-middleware.  `make test` and `make demo` do all set-up themselves.
PYTHON    ?= python3
VENV      ?= .venv
COV_MIN   ?= 90
DEMO_ARGS ?=

BIN   := $(VENV)/bin
STAMP := $(VENV)/.kxt-installed
LINT_DIRS := $(wildcard src tests demo_site bench)
NODE_BIN   := node_modules/.bin
NODE_STAMP := node_modules/.kxt-installed

.NOTPARALLEL:
.PHONY: test demo screenshots venv node js js-test browser-setup lint unit browser clean

## Everything CI runs: lint, typing, unit tests with coverage gate, JS unit tests and the check
## that the built scripts match their sources, then real-browser tests.
test: lint unit js-test browser

## Run the demo site (arguments via DEMO_ARGS="...").
demo: venv
	$(BIN)/python -m demo_site $(DEMO_ARGS)

## The README's pictures (docs/*.png), from the demo with a few visitors' activities, in Chromium.
screenshots: browser-setup
	$(BIN)/python -m demo_site.screenshots

venv: $(STAMP)

# (Re)install only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml
	@test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV) || { \
	  echo "'$(PYTHON) -m venv' failed: on Debian/Ubuntu install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet -e '.[test,demo]'
	@touch $@

# The JS tools (esbuild, terser, biome, typescript), exactly as package-lock.json pins them; again whenever
# package.json or the lock file is newer than the stamp.
node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 or later"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## Rebuild the served scripts from js/src (commit the result: Python users need no Node).
js: node
	node js/build.mjs

## JS unit tests (Node's test runner), kxt.d.ts checked against its uses, and fail if a
## committed built file is stale.
js-test: node
	node js/build.mjs --check
	node --test --test-reporter=spec tests/js/
	$(NODE_BIN)/tsc -p tests/js

browser-setup: venv
	@VENV=$(VENV) bash scripts/ensure-browser

lint: venv node
	$(BIN)/ruff check $(LINT_DIRS)
	$(BIN)/mypy
	$(NODE_BIN)/biome check

# The storage suite runs on SQLite and on PostgreSQL: a throwaway server from the machine's
# binaries (installed with apt-get when missing), or $KXT_TEST_POSTGRES_URL.
unit: venv
	$(BIN)/pytest -m "not browser" --cov --cov-report=term-missing:skip-covered \
	  --cov-fail-under=$(COV_MIN)

browser: browser-setup
	$(BIN)/pytest -m browser

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov test-results \
	  build dist src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
