"""Burn rates: how fast a window spends the error budget, and the SRE-workbook thresholds.

The error budget is the share of errors the objective allows, ``1 - objective``. A burn rate of 1
spends it exactly; 2 spends it twice as fast. In the SRE workbook the budget belongs to a 30-day
period, and a page fires when a window spent a given fraction of that budget:
``threshold = fraction x period / window``.

>>> from slo.durations import parse_duration as d
>>> round(threshold_for_budget(0.02, d("1h"), d("30d")), 6)   # page: 2% of the budget in 1h
14.4
>>> round(threshold_for_budget(0.05, d("6h"), d("30d")), 6)   # page: 5% in 6h
6.0
>>> round(threshold_for_budget(0.10, d("3d"), d("30d")), 6)   # ticket: 10% in 3d
1.0
>>> round(burn_rate(0.9, 0.95), 6)                            # 10% errors against a 5% budget
2.0
"""

from __future__ import annotations


def burn_rate(value: float, objective: float) -> float:
    """Burn rate of a window whose metric is `value`: its error ratio over the budget."""
    return (1.0 - value) / (1.0 - objective)


def budget_consumed(rate: float, window: float, period: float) -> float:
    """Fraction of a `period`'s budget spent by burning at `rate` for `window` (same units)."""
    return rate * window / period


def threshold_for_budget(fraction: float, window: float, period: float) -> float:
    """Burn rate at which `window` spends `fraction` of the budget of `period`."""
    return fraction * period / window


def value_at_burn(rate: float, objective: float) -> float:
    """The metric value that burns at `rate` (inverse of `burn_rate`).

    >>> round(value_at_burn(2.0, 0.95), 6)
    0.9
    """
    return 1.0 - rate * (1.0 - objective)
