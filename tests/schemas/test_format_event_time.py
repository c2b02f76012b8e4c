"""`format_event_time`'s cached fast path gives exactly the strings `datetime` gives."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas.timestamps import EARLIEST, LATEST, _format_with_datetime, format_event_time

# whole seconds of the accepted range, plus fractions near the rounding edges of datetime
_EDGES = st.sampled_from([0.0, 1e-7, 4e-7, 5e-7, 6e-7, 0.0005, 0.000999, 0.001, 0.25, 0.5, 0.9995, 0.999499,
                          0.9999994, 0.9999995, 0.9999996, 0.9999999])


def _same(seconds: float) -> None:
    try:
        expected = _format_with_datetime(seconds)
    except (ValueError, OverflowError, OSError) as error:
        with pytest.raises(type(error)):
            format_event_time(seconds)
        return
    assert format_event_time(seconds) == expected, seconds


@settings(max_examples=3000, deadline=None)
@given(st.floats(min_value=0.0, max_value=LATEST + 86_400.0, allow_nan=False))
@example(0.0)
@example(59.9999996)
@example(LATEST - 1e-7)
def test_any_float_in_range(seconds: float) -> None:
    _same(seconds)


@settings(max_examples=3000, deadline=None)
@given(st.integers(min_value=int(EARLIEST), max_value=int(LATEST) - 1), _EDGES)
def test_fractions_near_rounding_edges(whole: int, fraction: float) -> None:
    _same(whole + fraction)
    _same(math.nextafter(whole + fraction, 0.0))
    _same(math.nextafter(whole + fraction, math.inf))


@pytest.mark.parametrize("seconds", [-1.5, -0.0004, math.nan, math.inf, -math.inf, 1e20])
def test_outside_the_fast_path(seconds: float) -> None:
    _same(seconds)


def test_minute_cache_is_bounded() -> None:
    import schemas.timestamps as timestamps

    for minute in range(timestamps._MAX_MINUTE_PREFIXES + 10):
        format_event_time(EARLIEST + 60.0 * minute + 1.5)
    assert len(timestamps._MINUTE_PREFIXES) <= timestamps._MAX_MINUTE_PREFIXES
    assert format_event_time(EARLIEST + 1.5) == "2000-01-01T00:00:01.500Z"
