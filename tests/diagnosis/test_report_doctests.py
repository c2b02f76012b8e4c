"""The examples in the report modules' docstrings hold (`make test` doctests only the core)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["remediation.report.svg", "remediation.report.files", "remediation.report.feed"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
