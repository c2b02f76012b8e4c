import pytest

from simulator.durations import format_duration, format_time, parse_duration, parse_time


@pytest.mark.parametrize("text, seconds", [
    ("30s", 30), ("5m", 300), ("1h", 3600), ("3d", 259200), ("2w", 1209600), ("1h30m", 5400),
    ("1.5h", 5400), ("250ms", 0.25), ("90", 90), (" 2M ", 120), (".5m", 30), (45, 45), (0, 0),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "h", "5x", "-5m", "5m-", "1h 30", "abc", "-3", -1, "nan"])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize("seconds", [0, 0.25, 1, 59, 60, 90, 3600, 5400, 86400, 93784])
def test_format_duration_round_trips(seconds):
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


def test_times_are_utc_rfc3339_with_z():
    epoch = parse_time("2025-01-06T00:00:00Z")
    assert epoch == 1736121600.0
    assert parse_time("2025-01-06T01:00:00+01:00") == epoch
    assert parse_time("2025-01-06T00:00:00") == epoch  # no offset: UTC, not local time
    assert parse_time("1736121600") == epoch
    assert format_time(epoch + 0.5) == "2025-01-06T00:00:00.500Z"
    assert parse_time(format_time(epoch + 12.345)) == pytest.approx(epoch + 12.345)
    with pytest.raises(ValueError):
        parse_time("yesterday")
