"""The sketch's state is bounded by event time, not by traffic, and survives pickling.

Bound (slo/diagnosis/sketch.py): with the defaults and a 1 h window, 38 slices of at most 240
sampled rows each (about 36 KiB per feature column over all slices) plus histograms and label
cells; for the simulator's traffic (4 features, 2 segment keys, 8 reviewers) it stays under
512 KiB. bench/diagnosis.py measures it after a million predictions.
"""

from __future__ import annotations

import pickle

from simulator import scenarios as sc
from slo.diagnosis import DiagnosticSketch
from tests.diagnosis.diagnosis_support import BASE, SPEC, START, run, synthetic_alert

BOUND = 512 * 1024


def test_state_stops_growing_and_stays_under_the_bound():
    sketch = DiagnosticSketch(SPEC)
    sizes = []
    for part in range(3):     # three 8-hour runs back to back: 24 h of traffic
        run(sc.stable(BASE), hours=8, rate=1500, seed=part, stop_at_alert=False, sketch=sketch,
            start=START + part * 8 * 3600)
        sizes.append(sketch.state_bytes())
    assert max(sizes) < BOUND, sizes
    # the first run filled the slices; later ones replace them and the size stays put
    assert sizes[2] < 1.2 * sizes[1], sizes
    assert len(sketch.slices) <= sketch.capacity


def test_pickled_sketch_gives_the_same_summary():
    sketch, alert, t = run(sc.precision_drop(BASE, change_at=3 * 3600, precision_after=0.85))
    restored = pickle.loads(pickle.dumps(sketch))
    assert restored.summary(alert) == sketch.summary(alert)
    assert restored.summary(synthetic_alert(t))["triage"]["verdict"] == "concept_drift"
