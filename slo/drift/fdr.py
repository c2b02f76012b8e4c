"""Benjamini-Hochberg across the features (and the score) of one evaluation.

Why: with 40 features each tested at 5%, two "drifts" a day are expected from noise alone.
BH keeps the expected share of false discoveries among the flagged features at `q`; when nothing
drifted at all it bounds the chance of flagging anything at `q` too. It stays valid for the
positively dependent tests that correlated features give. scipy computes the adjusted p-values.

>>> adjusted = bh_adjust({"a": 0.001, "b": 0.02, "c": 0.04, "d": 0.6})
>>> {k: round(v, 3) for k, v in adjusted.items()}
{'a': 0.004, 'b': 0.04, 'c': 0.053, 'd': 0.6}
>>> sorted(bh_reject({"a": 0.001, "b": 0.02, "c": 0.04, "d": 0.6}, q=0.05))
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import stats


def bh_adjust(p_values: Mapping[str, float]) -> dict[str, float]:
    """BH-adjusted p-values (q-values): a name is rejected at level q iff its value <= q."""
    if not p_values:
        return {}
    names = list(p_values)
    adjusted = stats.false_discovery_control(np.array([p_values[k] for k in names]), method="bh")
    return {name: float(a) for name, a in zip(names, adjusted)}


def bh_reject(p_values: Mapping[str, float], q: float) -> set[str]:
    """The names BH rejects at false discovery rate `q`."""
    return {name for name, a in bh_adjust(p_values).items() if a <= q}
