"""One simulator scenario per triage cause (and a healthy one), shared by tests and bench."""

from __future__ import annotations

from simulator import scenarios as sc
from tests.diagnosis.diagnosis_support import BASE, HOUR

CHANGE = 3 * HOUR

CASES = {
    "data_drift": lambda: sc.feature_shift(BASE, change_at=CHANGE, drift_lag=0.5 * HOUR,
                                           ramp=0.5 * HOUR, precision_after=0.88),
    "upstream_change": lambda: sc.upstream_change(BASE, change_at=CHANGE),
    "upstream_change/nulls": lambda: sc.upstream_change(BASE, change_at=CHANGE, breakage="nulls"),
    "upstream_change/categories": lambda: sc.upstream_change(BASE, change_at=CHANGE,
                                                             breakage="categories"),
    "concept_drift": lambda: sc.precision_drop(BASE, change_at=CHANGE, precision_after=0.85),
    "labelling_problem": lambda: sc.bad_reviewer(BASE, change_at=CHANGE, flip_rate=0.6),
    "version_regression": lambda: sc.bad_version(BASE, change_at=CHANGE, precision_after=0.8),
    "none": lambda: sc.stable(BASE),
}
