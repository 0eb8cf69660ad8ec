# respike: `make run` starts a node, `make test` sets everything up and runs the tests.
VENV ?= .venv
# Debian's python3 is built with PGO/LTO (about 15-20% faster on respike's request path
# than a plain build); use it when it can make a venv, else whatever python3 is on PATH.
PYTHON ?= $(shell /usr/bin/python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo /usr/bin/python3 || echo python3)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := redis-tools redis-server iptables
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test compat tools native pure lint format docs bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,native,compat]'
	touch $(STAMP)

# The request path (the connection, the record model, the device engine, the string and
# hash commands) compiled with mypyc (same source; about a third less CPU per command).
# Rebuilt whenever those sources (respike/build_native.py MODULES) change; without a
# compiler it stays pure Python (and tries again on the next make).
NATIVE_SOURCES := $(shell $(PYTHON) respike/build_native.py --list)
NATIVE := $(VENV)/.native
$(NATIVE): $(STAMP) $(NATIVE_SOURCES) respike/build_native.py
	$(BIN)/python -m respike.build_native && touch $(NATIVE) || echo "respike: continuing with pure Python"

native: $(NATIVE)

# Drop the compiled modules: run everything interpreted.
pure:
	$(BIN)/python -m respike.build_native --clean
	rm -f $(NATIVE)

# Debian packages the tests drive: redis-cli, redis-benchmark, redis-server (the reference),
# iptables; and gcc with the Python headers, to compile the engine (see `native`).
tools:
	@missing=""; \
	command -v redis-cli >/dev/null || missing="$$missing redis-tools"; \
	command -v redis-benchmark >/dev/null || missing="$$missing redis-tools"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v iptables >/dev/null || missing="$$missing iptables"; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	$(PYTHON) -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' \
		|| missing="$$missing python3-dev"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# `make run ARGS="--port 7000 --data-dir /tmp/r1"` passes any `respike` options;
# `make run PORT=7000 CONFIG=respike.toml` the two most common ones. The node's own
# "serving namespaces ... on IP:PORT" line says where it answers. Checked by
# tests/test_cli.py (test_make_run_passes_options).
RUN_ARGS := $(if $(PORT),--port $(PORT)) $(if $(CONFIG),--config $(CONFIG)) $(ARGS)
run: $(NATIVE)
	@echo "respike: starting $(BIN)/respike $(strip $(RUN_ARGS)) (127.0.0.1:6379 unless the options say otherwise; Ctrl-C stops it)"
	$(BIN)/respike $(RUN_ARGS)

# The compiled modules must type-check: mypyc refuses them otherwise, and the node would
# run them interpreted (slower) without saying so in a test.
TYPECHECK := $(BIN)/python -m mypy --ignore-missing-imports --follow-imports=silent $(NATIVE_SOURCES)

test: tools $(NATIVE)
	$(BIN)/ruff check respike tests compat bench
	$(BIN)/ruff format --check respike tests compat bench
	$(TYPECHECK)
	$(BIN)/pytest -q -p no:cacheprovider

# Real applications (redis-py Lock, limits, celery, rq, aiocache) against real respike
# processes, and redis-py's own test files with --long (test_commands.py and others);
# `make test` runs the applications and the four default redis-py files already.
# RESPIKE_COMPAT_STRICT=1 makes an unknown command a failure instead of a skip.
compat: tools $(NATIVE)
	$(BIN)/pytest -q -p no:cacheprovider compat/test_app_*.py
	$(BIN)/python -m compat.redis_py_suite --long

lint: $(STAMP)
	$(BIN)/ruff check respike tests compat bench
	$(BIN)/ruff format --check respike tests compat bench
	$(TYPECHECK)

format: $(STAMP)
	$(BIN)/ruff format respike tests compat bench

docs: $(STAMP)
	$(BIN)/python -m respike.docs

bench: tools $(NATIVE)
	$(BIN)/python bench/redis_compare.py
	$(BIN)/python bench/cluster_bench.py

# Long runs kept out of `make test`: thousands of simulated cluster schedules.
soak: $(STAMP)
	$(BIN)/python -m tests.sim.run --seed 1 --soak 5000 --scenario all

clean:
	rm -rf $(VENV) respike-data .pytest_cache .hypothesis build
	rm -f respike/engine/*.so
