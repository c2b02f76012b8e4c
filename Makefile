# slo-monitor: the two commands of the README, and the pieces they are made of.
# `make demo` and `make test` work on a fresh machine: they create .venv, install, start Kafka.

# The first interpreter that really runs and is 3.11 or 3.12 (a pyenv shim may exist and fail).
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
DOCTEST_PACKAGES := schemas slo flows simulator

.PHONY: install test demo bench kafka-up kafka-down clean schemas

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "slo-monitor needs Python 3.11 or 3.12 (bytewax 0.21.1 has wheels for <= 3.12 only); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

kafka-up:
	bash deploy/kafka/kafka-up.sh

kafka-down:
	bash deploy/kafka/kafka-down.sh

test: install kafka-up
	$(BIN)/python -m pytest tests --doctest-modules $(DOCTEST_PACKAGES) -q

demo: install kafka-up
	$(BIN)/slo-monitor demo

bench: install kafka-up
	$(BIN)/python bench/run_all.py  # writes bench/RESULTS.md

schemas: install
	$(BIN)/python -m schemas.json_schema

clean:
	rm -rf $(VENV) .run .pytest_cache .hypothesis build *.egg-info
