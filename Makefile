# slo-monitor: the two commands of the README, and the pieces they are made of.
# `make demo` and `make test` work on a fresh machine: they create .venv, install, start Kafka.

PYTHON ?= $(shell command -v python3.12 || command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DOCTEST_PACKAGES := schemas slo flows simulator

.PHONY: install test demo bench kafka-up kafka-down clean schemas

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v <= (3, 12) else "slo-monitor needs Python 3.11 or 3.12 (bytewax 0.21.1 has no wheels for %d.%d); set PYTHON=..." % v)'
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
	$(BIN)/python bench/engine.py

schemas: install
	$(BIN)/python -m schemas.json_schema

clean:
	rm -rf $(VENV) .run .pytest_cache .hypothesis build *.egg-info
