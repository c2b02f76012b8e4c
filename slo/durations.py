"""Duration strings of the SLO file (``30s``, ``5m``, ``1h``, ``3d``, ``2w``) as seconds.

Windows, burn-rate windows and alert delays are all written this way, so one parser gives one set
of rules and one error message. Months and years are refused: they have no fixed length, and a
rolling window must have one.

>>> parse_duration("5m")
300
>>> parse_duration("1h30m")
5400
>>> format_duration(259200)
'3d'
>>> format_duration(5400)
'1h30m'
"""

from __future__ import annotations

import re
from functools import lru_cache

UNIT_SECONDS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"(?:\d+[smhdw])+")


def parse_duration(text: str | int, allow_zero: bool = False) -> int:
    """Seconds in a duration string; raise ValueError naming the accepted forms otherwise.

    A bare integer is taken as seconds (handy in code; the spec only accepts strings).
    ``allow_zero`` admits ``0s``/``0`` (an alert delay of nothing).

    >>> parse_duration("90s")
    90
    >>> parse_duration("1.5h")
    Traceback (most recent call last):
    ...
    ValueError: bad duration '1.5h': use a whole number and a unit s, m, h, d or w, like 5m, 1h, 3d or 1h30m
    >>> parse_duration("1M")
    Traceback (most recent call last):
    ...
    ValueError: bad duration '1M': M is not a unit here (minutes are m; months have no fixed length: use days or weeks, like 30d or 4w)
    """
    if isinstance(text, str):
        return _parse_text(text, allow_zero)
    if isinstance(text, bool):
        raise ValueError(f"bad duration {text!r}: expected a string like 5m, 1h or 3d")
    if isinstance(text, int):
        if text == 0 and allow_zero:
            return 0
        if text <= 0:
            raise ValueError(f"bad duration {text!r}: must be positive")
        return text
    raise ValueError(f"bad duration {text!r}: expected a string like 5m, 1h or 3d")


@lru_cache(maxsize=1024)
def _parse_text(text: str, allow_zero: bool) -> int:
    """`parse_duration` of a string, remembered: each new SLO key resolves its rules (~40 calls)."""
    if "M" in text:   # OpenSLO's and others' months: never read as minutes
        raise ValueError(f"bad duration {text!r}: M is not a unit here (minutes are m; months have no fixed "
                         "length: use days or weeks, like 30d or 4w)")
    compact = text.strip().lower()
    if allow_zero and compact == "0":
        return 0
    if not _WHOLE.fullmatch(compact):
        raise ValueError(
            f"bad duration {text!r}: use a whole number and a unit s, m, h, d or w, "
            "like 5m, 1h, 3d or 1h30m"
        )
    seconds = sum(int(n) * UNIT_SECONDS[u] for n, u in _PART.findall(compact))
    if seconds <= 0 and not allow_zero:
        raise ValueError(f"bad duration {text!r}: must be positive")
    return seconds


@lru_cache(maxsize=256)
def format_duration(seconds: float) -> str:
    """The shortest exact duration string for a number of seconds (largest units first).

    >>> format_duration(300), format_duration(86400), format_duration(45)
    ('5m', '1d', '45s')
    """
    rest = int(round(seconds))
    if rest <= 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = UNIT_SECONDS[unit]
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
