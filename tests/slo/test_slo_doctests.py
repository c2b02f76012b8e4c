"""Run the examples in the slo modules' docstrings as tests."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import slo

MODULES = sorted(m.name for m in pkgutil.iter_modules(slo.__path__, "slo."))


def test_every_module_is_listed():
    assert {"slo.spec", "slo.tracker", "slo.buckets", "slo.intervals"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
