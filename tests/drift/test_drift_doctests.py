"""Run the examples in the slo.drift modules' docstrings as tests."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import slo.drift

MODULES = ["slo.drift"] + sorted(m.name for m in pkgutil.iter_modules(slo.drift.__path__,
                                                                       "slo.drift."))


def test_every_module_is_listed():
    assert {"slo.drift.monitor", "slo.drift.psi", "slo.drift.cbpe", "slo.drift.config"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
