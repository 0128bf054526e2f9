# The front door: `make run` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# The newest CPython >= 3.11 on the machine (3.13 and 3.12 run asyncio faster).
PYTHON ?= $(shell for v in 3.13 3.12 3.11; do \
	for p in python$$v $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v*/bin/python$$v 2>/dev/null); do \
	  if $$p -c 'import sys' >/dev/null 2>&1; then echo $$p; exit 0; fi; done; done)
STAMP_PY := $(VENV)/.installed
STAMP_NPM := node_modules/.installed

.PHONY: run test lint types unit integration e2e install system clean bench bench-smoke bench-scale bench-traffic soak fuzz

$(STAMP_PY): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 not found" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

$(STAMP_NPM): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP_PY) $(STAMP_NPM)

# Debian's chromium, haproxy and redis-server, for the tests and benchmarks that run them.
system:
	./scripts/system-packages

run: install
	$(BIN)/rtchat serve

lint: $(STAMP_PY)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

types: $(STAMP_PY)
	$(BIN)/mypy

unit: $(STAMP_PY)
	$(BIN)/pytest tests/unit

integration: install system
	$(BIN)/pytest tests/integration tests/interop

e2e: install system
	$(BIN)/pytest tests/e2e

# The suite runs on TEST_WORKERS processes (pytest-xdist): most tests wait on the network, not
# on the CPU. The few that hold a wall-clock bound of tenths of a second (marked `serial`) run
# afterwards, on their own.
TEST_WORKERS ?= 3

test: install system lint types
	$(BIN)/pytest tests -n $(TEST_WORKERS) --dist worksteal -m "not serial"
	$(BIN)/pytest tests -m serial
	$(MAKE) bench-smoke

# A bounded live fuzz of `rtchat serve` (tests/fuzz/live.py); `make test` runs a short one.
FUZZ_CASES ?= 20000
FUZZ_SEED ?= 1
fuzz: install
	$(BIN)/python -m tests.fuzz.live --cases $(FUZZ_CASES) --seed $(FUZZ_SEED)

# run.py installs benchmarks/' own pinned npm packages (`npm ci --prefix benchmarks`) if missing.
bench: install system
	$(BIN)/python benchmarks/run.py

# run.py, scale.py and traffic.py --smoke, side by side (benchmarks/smoke.py).
bench-smoke: install system
	$(BIN)/python benchmarks/smoke.py

# Connections to the open-file limit of one process, then 100,000 across workers, with a
# broadcast at every step, beside the Node seed server (benchmarks/scale.py, issue #13).
bench-scale: install system
	$(BIN)/python benchmarks/scale.py

# 10,000 users in rooms of 10 with messages, typing, visits and reconnects, beside a Node
# socket.io rooms server (benchmarks/traffic.py, issue #13).
bench-traffic: install system
	$(BIN)/python benchmarks/traffic.py

# An hour of churning clients against a real server; make test runs a minute of it
# (tests/integration/test_soak.py). The report goes to benchmarks/results/soak-*.md.
SOAK_SECONDS ?= 3600
soak: install
	$(BIN)/python benchmarks/soak.py --seconds $(SOAK_SECONDS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache test-artifacts
