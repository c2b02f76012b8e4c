"""Duration strings of the SLO file."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo.durations import format_duration, parse_duration
from schemas.timestamps import format_event_time as rfc3339


@pytest.mark.parametrize("text, seconds", [
    ("30s", 30), ("5m", 300), ("1h", 3600), ("3d", 259200), ("2w", 1209600), ("1h30m", 5400),
    ("1d12h", 129600), (" 5m ", 300), ("2H", 7200),
])
def test_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "1.5h", "1 hour", "h", "-5m", "5mo", "1y", "0m", "m5",
                                  "5M", "1M"])   # M: months elsewhere (OpenSLO), never minutes here
def test_parse_rejects(text):
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def test_zero_only_where_allowed():
    assert parse_duration("0s", allow_zero=True) == 0
    assert parse_duration("0", allow_zero=True) == 0
    with pytest.raises(ValueError):
        parse_duration(True)


@given(st.integers(1, 10 ** 8))
def test_format_parse_round_trip(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


def test_rfc3339():
    assert rfc3339(1_767_225_600) == "2026-01-01T00:00:00Z"
    assert rfc3339(1_767_225_600.5) == "2026-01-01T00:00:00.500Z"
