"""Breakdowns of the metric by segment value, model version and reviewer.

- Segments are ranked by their contribution to the drop: the segment's share of the current
  population (HT weight) times how much its own metric fell from the reference, so the terms of
  one segment key add up to the drop that is not due to a change of mix.
- Versions and reviewers are each tested against all the others pooled (two proportions on
  effective counts, slo/diagnosis/rates.py), with Benjamini-Hochberg across the values.

>>> import numpy as np
>>> good = np.zeros((2, 6)); good[1] = [95, 5, 95, 5, 95, 5]
>>> bad = np.zeros((2, 6)); bad[1] = [60, 40, 60, 40, 60, 40]
>>> extra = np.zeros(3)
>>> rows = against_rest({"a": (good, extra), "b": (bad, extra), "c": (good, extra)},
...                     "precision", fdr=0.05, min_labels=30)
>>> [(r["value"], r["worse"]) for r in rows]
[('b', True), ('a', False), ('c', False)]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from slo.diagnosis.rates import Rate, compare_rates, metric_rate
from slo.drift.fdr import bh_adjust

Groups = dict[str, tuple[np.ndarray, np.ndarray]]   # value -> (label cells, extra)


def segment_contributions(current: dict[str, Groups], reference: dict[str, Groups], metric: str,
                          overall_reference: Rate, fdr: float) -> list[dict[str, Any]]:
    """One row per segment key=value, largest contribution to the drop first."""
    rows: list[dict[str, Any]] = []
    for dim in sorted(d for d in current if d.startswith("segment:")):
        key = dim.split(":", 1)[1]
        total = sum(metric_rate(c, metric).total for c, _ in current[dim].values())
        for value, (cells, extra) in current[dim].items():
            cur = metric_rate(cells, metric)
            ref_cells = reference.get(dim, {}).get(value)
            ref = metric_rate(ref_cells[0], metric) if ref_cells is not None else Rate(None, 0, 0, 0, 0)
            baseline = ref.estimate if ref.estimate is not None else overall_reference.estimate
            contribution = (cur.total / total * (baseline - cur.estimate)
                            if total and cur.estimate is not None and baseline is not None else 0.0)
            rows.append({"key": key, "value": value, "predictions": int(extra[0]),
                         "current": cur.to_record(), "reference": ref.to_record(),
                         "contribution": contribution,
                         "p_value": compare_rates(ref, cur) if ref.estimate is not None else 1.0})
    for row, q in zip(rows, bh_adjust({str(i): r["p_value"] for i, r in enumerate(rows)}).values()):
        row["q_value"] = q
        row["significant"] = q <= fdr
    rows.sort(key=lambda r: -r["contribution"])
    return rows


def against_rest(groups: Groups, metric: str, fdr: float, min_labels: int) -> list[dict[str, Any]]:
    """Each value's metric against all other values pooled; lowest p-value first.

    `worse`: significantly below the rest (BH-adjusted p at most `fdr`) with at least
    `min_labels` labels in its population.
    """
    if not groups:
        return []
    total = sum(cells for cells, _ in groups.values())
    rows = []
    for value, (cells, extra) in groups.items():
        own, rest = metric_rate(cells, metric), metric_rate(total - cells, metric)
        p = compare_rates(own, rest) if len(groups) > 1 else 1.0
        rows.append({"value": value, "predictions": int(extra[0]), "flagged": int(extra[1]),
                     "mean_label_delay": (float(extra[2]) / max(1, int(cells[:, :2].sum()))),
                     "current": own.to_record(), "rest": rest.to_record(), "p_value": p})
    adjusted = bh_adjust({r["value"]: r["p_value"] for r in rows})
    for row in rows:
        own, rest = row["current"], row["rest"]
        row["q_value"] = adjusted[row["value"]]
        row["worse"] = bool(row["q_value"] <= fdr and own["labels"] >= min_labels
                            and own["estimate"] is not None and rest["estimate"] is not None
                            and own["estimate"] < rest["estimate"])
    rows.sort(key=lambda r: (r["p_value"], r["value"]))
    return rows


def without(groups: Groups, values: set[str]) -> np.ndarray:
    """Label cells of all values except `values`."""
    cells = [c for v, (c, _) in groups.items() if v not in values]
    return sum(cells) if cells else np.zeros((2, 6))
