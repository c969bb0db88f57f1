# Works on a fresh machine with Python >= 3.11 and make: the venv is created on demand.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Tests run in parallel processes (each test makes its own databases, files and ports);
# most of their time is spent waiting on nodes, so three fit two cores.
TEST_WORKERS ?= 3

.PHONY: demo test lint bench clean assets fuzz test-lowest lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/marac-gateway demo

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python tools/check_import_cycles.py gateway
	if [ -f ../shared/tools/check_layers.py ]; then $(BIN)/python ../shared/tools/check_layers.py .; fi
	$(BIN)/python tools/check_advisories.py

# The hashed lock file deployments install from (pip install --require-hashes --no-deps):
# every runtime dependency pinned, for the Python of the container image (Dockerfile).
lock: $(VENV)/.installed-dev
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 --quiet \
		--custom-compile-command 'make lock' -o requirements.lock

# Property tests over every parser of outside bytes, with a fixed and much larger budget
# of examples than `make test` gives them (about two minutes at 2000).
fuzz: $(VENV)/.installed-dev
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} \
		$(BIN)/python -m pytest -q -p no:cacheprovider tests/security/test_parser_properties.py

# The lowest versions pyproject.toml allows, in a scratch venv (.lowest), and a smoke subset.
test-lowest:
	PYTHON=$(PYTHON) tools/lowest_deps.sh .lowest

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/envelope.py
	$(BIN)/python bench/federation.py
	$(BIN)/python bench/audit_proofs.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/linkage.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/cli_start.py
	@if [ -n "$$GATEWAY_BENCH_DATABASE_URL" ]; then $(BIN)/python bench/flags.py \
		&& $(BIN)/python bench/federation.py --backend postgresql \
		&& $(BIN)/python bench/federation.py --matrix \
		&& $(BIN)/python bench/batch_insert.py; \
	else echo 'bench/flags.py, batch_insert.py and federation.py on PostgreSQL skipped: set GATEWAY_BENCH_DATABASE_URL'; fi

# Rebuilds gateway/web/static from GOV.UK Frontend (needs Node.js and npm; the output is
# committed, so nothing else does).
assets:
	cd tools/assets && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

clean:
	rm -rf $(VENV) .demo .lowest instance .pytest_cache .mypy_cache .ruff_cache
