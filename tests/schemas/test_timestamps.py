"""Event times: what RFC 3339 allows is read, what it does not is refused with a reason."""

from __future__ import annotations

import pytest

from schemas.timestamps import event_time_or_reason, parse_event_time

NOON = parse_event_time("2026-11-26T12:00:00Z")


@pytest.mark.parametrize("text", ["2026-11-26t12:00:00z", "2026-11-26T12:00:00z", "2026-11-26t12:00:00Z",
                                  "2026-11-26 12:00:00Z", "2026-11-26t13:00:00+01:00"])
def test_lower_case_t_and_z_and_a_space_are_rfc_3339(text):
    assert parse_event_time(text) == NOON


def test_a_leap_second_is_the_first_instant_of_the_next_minute():
    assert parse_event_time("2016-12-31T23:59:60Z") == parse_event_time("2017-01-01T00:00:00Z")
    assert parse_event_time("2016-12-31t23:59:60.250z") == parse_event_time("2017-01-01T00:00:00Z")
    assert parse_event_time("2016-12-31T23:59:60+00:00") == parse_event_time("2017-01-01T00:00:00Z")
    assert parse_event_time("2016-12-31 23:59:60Z") == parse_event_time("2017-01-01T00:00:00Z")
    assert parse_event_time("2017-01-01T00:59:60+01:00") == parse_event_time("2017-01-01T00:00:00Z")


@pytest.mark.parametrize("text, reason", [
    ("2026-11-26T12:00:61Z", "is not RFC 3339"),
    ("2026-11-26T12:60:00Z", "is not RFC 3339"),
    ("2026-11-26t12:00:00", "no time zone offset"),
    ("2026-11-26T12:00:60", "is not RFC 3339"),
    ("2026-11-26T12:00:60Z", "is not RFC 3339"),        # a leap second only ends a month
    ("20261126t120000z", "is not RFC 3339"),            # ISO 8601 forms RFC 3339 does not have
    ("2026-11-26t12:00z", "is not RFC 3339"),
    ("2026-11-26t12:00:00,5z", "is not RFC 3339"),
    ("tomorrow", "is not RFC 3339"),
])
def test_what_is_not_rfc_3339_is_refused_with_a_reason(text, reason):
    answer = event_time_or_reason(text)
    assert isinstance(answer, str) and reason in answer
