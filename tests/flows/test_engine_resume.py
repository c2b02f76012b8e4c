"""A restored SLO engine under an SLO file that now defines the SLO differently."""

from __future__ import annotations

import logging

import pytest

from flows.engine_operator import EngineLogic
from flows.engine_state import SloEngine
from flows.settings import FlowSettings
from slo.spec import parse_slo_yaml

SLO = ("slos: [{{name: p, model_id: m, metric: precision, positive_label: 1, objective: {objective},"
       " window: 1h, min_labels: 30}}]")


def saved_engine(objective: float) -> bytes:
    return SloEngine(parse_slo_yaml(SLO.format(objective=objective)), "p", shards=1, lateness=0.0,
                     step=60.0).snapshot()


def test_a_redefined_slo_is_named_with_its_changes_and_keeps_the_saved_definition(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="flows.engine_operator"):
        logic = EngineLogic(parse_slo_yaml(SLO.format(objective=0.97)), FlowSettings(), saved_engine(0.95))

    [record] = caplog.records
    assert "SLO 'p' is defined differently" in record.getMessage()
    assert "objective 0.95 -> 0.97" in record.getMessage()
    assert logic.engine is not None and logic.engine.spec.objective == 0.95   # the known limitation


def test_an_unchanged_slo_restores_silently(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="flows.engine_operator"):
        EngineLogic(parse_slo_yaml(SLO.format(objective=0.95)), FlowSettings(), saved_engine(0.95))

    assert caplog.records == []
