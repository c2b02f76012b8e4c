"""The examples in the status page's and the prediction logger's docstrings hold (`make test`
runs doctests of schemas, slo, flows and simulator only)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["slo_monitor.status_page.view", "slo_monitor.status_page.chart", "slo_monitor.instrument"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
