"""A server-side SVG chart of one SLO key: estimate, confidence band, objective, over event time.

No JavaScript and nothing fetched: the page stays readable with scripts off and under a strict
Content-Security-Policy. Every text in the SVG is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from schemas.timestamps import format_event_time

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 22
MAX_POINTS = 240
STATE_COLOURS = {"ok": "#2e7d32", "at_risk": "#ef6c00", "breached": "#c62828", "insufficient_data": "#757575"}


def thin(points: Sequence[Sequence], limit: int = MAX_POINTS) -> list[Sequence]:
    """At most `limit` points, evenly spaced, always keeping the last.

    >>> [p[0] for p in thin([[i] for i in range(10)], 4)]
    [0, 3, 6, 9]
    """
    if len(points) <= limit:
        return list(points)
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def svg_chart(points: Sequence[Sequence], objective: float | None, title: str) -> str:
    """`points`: [event_time, estimate, lower, upper, state, labels] in event-time order."""
    points = thin(points)
    values = [v for p in points for v in p[1:4] if v is not None]
    if objective is not None:
        values.append(objective)
    label = escape(title)
    if not points or not values:
        return (f'<svg class="chart" role="img" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">'
                f'<title>{label}</title><text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle" '
                f'fill="#757575">no estimate yet</text></svg>')
    low, high = min(values), max(values)
    pad = max((high - low) * 0.1, 0.01)
    low, high = max(0.0, low - pad), min(1.0, high + pad)
    if high <= low:
        low, high = max(0.0, low - 0.05), min(1.0, high + 0.05)
    start, end = points[0][0], points[-1][0]
    span = max(end - start, 1.0)

    def x(t: float) -> float:
        return LEFT + (t - start) / span * (WIDTH - LEFT - RIGHT)

    def y(v: float) -> float:
        return TOP + (high - v) / (high - low) * (HEIGHT - TOP - BOTTOM)

    parts = [f'<svg class="chart" role="img" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>',
             f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
             f'fill="#fafafa" stroke="#ddd"/>']
    for run in _runs(points, lambda p: p[2] is not None and p[3] is not None):
        upper = " ".join(f"{x(p[0]):.1f},{y(p[3]):.1f}" for p in run)
        lower = " ".join(f"{x(p[0]):.1f},{y(p[2]):.1f}" for p in reversed(run))
        parts.append(f'<polygon class="band" points="{upper} {lower}" fill="#90caf9" fill-opacity="0.45"/>')
    if objective is not None:
        parts.append(f'<line class="objective" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(objective):.1f}" '
                     f'y2="{y(objective):.1f}" stroke="#c62828" stroke-dasharray="5,4"/>')
    for run in _runs(points, lambda p: p[1] is not None):
        line = " ".join(f"{x(p[0]):.1f},{y(p[1]):.1f}" for p in run)
        parts.append(f'<polyline class="estimate" points="{line}" fill="none" stroke="#1565c0" stroke-width="1.6"/>')
    for p in points:
        colour = STATE_COLOURS.get(str(p[4]), "#757575")
        parts.append(f'<rect x="{x(p[0]) - 1:.1f}" y="{HEIGHT - BOTTOM + 2}" width="2.5" height="4" fill="{colour}"/>')
    for value in (low, (low + high) / 2, high):
        parts.append(f'<text x="{LEFT - 4}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="10">{value:.3f}</text>')
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 3}" font-size="10">{escape(format_event_time(start))}</text>')
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 3}" text-anchor="end" font-size="10">'
                 f'{escape(format_event_time(end))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _runs(points: Sequence[Sequence], present) -> list[list[Sequence]]:
    """Consecutive stretches of points for which `present` holds (gaps break the line)."""
    runs: list[list[Sequence]] = [[]]
    for p in points:
        if present(p):
            runs[-1].append(p)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]
