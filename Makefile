# slo-monitor: the two commands of the README, and the pieces they are made of.
# `make demo` and `make test` work on a fresh machine: they create .venv, install, start Kafka.

# The first interpreter that really runs and is 3.11 or 3.12 (a pyenv shim may exist and fail).
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
DOCTEST_PACKAGES := schemas slo flows simulator slo_monitor

.PHONY: install test demo bench kafka-up kafka-down clean schemas browser-tools

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "slo-monitor needs Python 3.11 or 3.12 (bytewax 0.21.1 has wheels for <= 3.12 only); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

# The status page's browser test: Debian's chromium driven by playwright-core (which brings no
# browser of its own). Installs them when missing; apt-get needs root (CI runs as root).
browser-tools: tests/browser/node_modules/.installed
	@command -v chromium >/dev/null || { test "$$(id -u)" = 0 || { echo "install chromium (apt-get install chromium) or run as root"; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

tests/browser/node_modules/.installed: tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

kafka-up:
	bash deploy/kafka/kafka-up.sh

kafka-down:
	bash deploy/kafka/kafka-down.sh

test: install kafka-up browser-tools
	$(BIN)/python -m pytest tests --doctest-modules $(DOCTEST_PACKAGES) -q

demo: install kafka-up
	$(BIN)/slo-monitor demo

bench: install kafka-up
	$(BIN)/python bench/run_all.py  # writes bench/RESULTS.md

schemas: install
	$(BIN)/python -m schemas.json_schema

clean:
	rm -rf $(VENV) .run .pytest_cache .hypothesis build *.egg-info
