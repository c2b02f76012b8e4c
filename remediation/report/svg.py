"""Small inline SVG charts for the diagnostic report: no JavaScript, no external resources.

Every piece of text goes through `esc` (html.escape), since labels come from user data
(segment values, feature names, reviewer names).

>>> svg = bar_chart([("<b>", 0.5, None, None)], title="t")
>>> "&lt;b&gt;" in svg and "<b>" not in svg
True
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
FONT = 'font-family="sans-serif" font-size="11"'


def esc(value: object) -> str:
    """Text for HTML and SVG (quotes too, so it is safe in attributes)."""
    return html.escape(str(value), quote=True)


def _num(x: float) -> str:
    return f"{x:.1f}"


def _scale(lo: float, hi: float, a: float, b: float):
    span = (hi - lo) or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><title>{esc(title)}</title>{"".join(body)}</svg>')


def line_chart(xs: Sequence[float], series: Sequence[tuple[str, Sequence[float | None]]], *,
               band: tuple[Sequence[float | None], Sequence[float | None]] | None = None,
               hline: tuple[float, str] | None = None, x_labels: tuple[str, str] = ("", ""),
               title: str = "", width: int = 760, height: int = 220) -> str:
    """Lines over x (None breaks a line), an optional shaded band and a horizontal line."""
    left, right, top, bottom = 50, width - 120, 20, height - 30
    # the axis fits the lines (and the band where it is near them): an early, very wide band
    # (few labels) would otherwise flatten everything else
    values = [v for _, ys in series for v in ys if v is not None]
    if hline:
        values.append(hline[0])
    if not xs or not values:
        return _svg(width, 40, [f'<text x="10" y="25" {FONT}>no data</text>'], title)
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.25 or 0.01
    # padding never takes a non-negative quantity (a rate, a burn rate) below zero
    lo, hi = (lo - pad if lo < 0 else max(0.0, lo - pad)), hi + pad
    sx, sy = _scale(min(xs), max(xs), left, right), _scale(lo, hi, bottom, top)
    clip = lambda v: None if v is None else min(hi, max(lo, v))   # noqa: E731
    body = [f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
            f'fill="none" stroke="#ccc"/>']
    if band:
        upper = [(x, clip(u)) for x, u in zip(xs, band[1]) if u is not None]
        lower = [(x, clip(v)) for x, v in zip(xs, band[0]) if v is not None]
        if upper and lower:
            pts = [f"{_num(sx(x))},{_num(sy(y))}" for x, y in upper + lower[::-1]]
            body.append(f'<polygon class="band" points="{" ".join(pts)}" fill="#1f77b4" '
                        f'fill-opacity="0.2" stroke="none"/>')
    for i, (name, ys) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        path, pen = [], "M"
        for x, y in zip(xs, ys):
            if y is None or not math.isfinite(y):
                pen = "M"
                continue
            path.append(f"{pen}{_num(sx(x))},{_num(sy(y))}")
            pen = "L"
        if path:
            body.append(f'<path d="{" ".join(path)}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        body.append(f'<text x="{right + 8}" y="{top + 14 * (i + 1)}" fill="{color}" {FONT}>'
                    f'{esc(name)}</text>')
    if hline:
        y = _num(sy(hline[0]))
        body.append(f'<line x1="{left}" x2="{right}" y1="{y}" y2="{y}" stroke="#d62728" '
                    f'stroke-dasharray="4 3"/><text x="{right + 8}" y="{y}" fill="#d62728" {FONT}>'
                    f'{esc(hline[1])}</text>')
    body.append(f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" {FONT}>{hi:.3g}</text>'
                f'<text x="{left - 4}" y="{bottom}" text-anchor="end" {FONT}>{lo:.3g}</text>'
                f'<text x="{left}" y="{height - 10}" {FONT}>{esc(x_labels[0])}</text>'
                f'<text x="{right}" y="{height - 10}" text-anchor="end" {FONT}>{esc(x_labels[1])}</text>')
    return _svg(width, height, body, title)


def bar_chart(rows: Sequence[tuple[str, float, float | None, float | None]], *,
              reference: tuple[float, str] | None = None, title: str = "",
              width: int = 760, row_height: int = 18) -> str:
    """Horizontal bars (label, value, optional interval low/high) and an optional reference line."""
    rows = [r for r in rows if r[1] is not None and math.isfinite(r[1])]
    if not rows:
        return _svg(width, 40, [f'<text x="10" y="25" {FONT}>no data</text>'], title)
    left, right, top = 170, width - 70, 10
    height = top + row_height * len(rows) + 20
    values = [v for _, value, a, b in rows for v in (value, a, b) if v is not None]
    if reference:
        values.append(reference[0])
    lo, hi = min(0.0, *values), max(0.0, *values)
    sx = _scale(lo, hi if hi > lo else lo + 1, left, right)
    body = []
    for i, (label, value, a, b) in enumerate(rows):
        y = top + i * row_height
        x0, x1 = sorted((sx(0.0), sx(value)))
        body.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" {FONT}>'
                    f'{esc(_short(label))}</text>'
                    f'<rect class="bar" x="{_num(x0)}" y="{y + 3}" width="{_num(max(x1 - x0, 0.5))}" '
                    f'height="{row_height - 6}" fill="{COLORS[0] if value >= 0 else COLORS[1]}"/>'
                    f'<text x="{_num(x1 + 4)}" y="{y + 12}" {FONT}>{value:.3g}</text>')
        if a is not None and b is not None:
            body.append(f'<line x1="{_num(sx(a))}" x2="{_num(sx(b))}" y1="{y + row_height / 2}" '
                        f'y2="{y + row_height / 2}" stroke="#333"/>')
    if reference:
        x = _num(sx(reference[0]))
        body.append(f'<line x1="{x}" x2="{x}" y1="{top}" y2="{height - 15}" stroke="#d62728" '
                    f'stroke-dasharray="4 3"/><text x="{x}" y="{height - 4}" fill="#d62728" '
                    f'text-anchor="middle" {FONT}>{esc(reference[1])}</text>')
    return _svg(width, height, body, title)


def histograms(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
               title: str = "", width: int = 760, height: int = 200) -> str:
    """Side-by-side bars of each series' shares per bin (counts are normalised per series)."""
    shares = []
    for name, counts in series:
        total = float(sum(counts))
        shares.append((name, [c / total if total else 0.0 for c in counts]))
    top_value = max((v for _, s in shares for v in s), default=0.0)
    if not labels or top_value == 0:
        return _svg(width, 40, [f'<text x="10" y="25" {FONT}>no data</text>'], title)
    left, right, top, bottom = 50, width - 120, 15, height - 35
    slot = (right - left) / len(labels)
    bar = slot * 0.8 / len(shares)
    sy = _scale(0.0, top_value, bottom, top)
    body = [f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#999"/>',
            f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" {FONT}>{top_value:.2f}</text>']
    for j, (name, values) in enumerate(shares):
        color = COLORS[j % len(COLORS)]
        for i, v in enumerate(values):
            x = left + i * slot + slot * 0.1 + j * bar
            body.append(f'<rect class="bar" x="{_num(x)}" y="{_num(sy(v))}" width="{_num(bar)}" '
                        f'height="{_num(bottom - sy(v))}" fill="{color}"/>')
        body.append(f'<text x="{right + 8}" y="{top + 14 * (j + 1)}" fill="{color}" {FONT}>'
                    f'{esc(name)}</text>')
    step = max(1, len(labels) // 8)
    for i in range(0, len(labels), step):
        body.append(f'<text x="{_num(left + i * slot)}" y="{bottom + 14}" {FONT}>'
                    f'{esc(labels[i])}</text>')
    return _svg(width, height, body, title)


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
