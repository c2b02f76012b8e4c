"""The examples in the remediation action modules' docstrings hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["remediation.guardrails", "remediation.rollback_target", "remediation.model_registry",
           "remediation.change_event_contract"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
