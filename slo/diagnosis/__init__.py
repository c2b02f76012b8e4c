"""Diagnostics for the report written when an alert opens (issue 7): the pure core.

No Kafka, no Bytewax, no clock. Modules, each named for what it holds:

- sketch.py      `DiagnosticSketch`: the bounded state one SLO keeps, and `summary(alert)`
- slices.py      per-time-slice counts, samples and label cells, and their merge
- timeline.py    the bounded history of status snapshots (the SLO timeline)
- rates.py       the metric from label cells (Horvitz-Thompson) and tests between groups
- breakdowns.py  segments ranked by contribution to the drop; versions and reviewers vs the rest
- inputs.py      feature drift (slo/drift statistics), upstream breakage, score shift
- triage.py      `triage`: the verdict and its evidence

See docs/remediation.md, "Diagnostic report".
"""

from slo.diagnosis.sketch import DiagnosticSketch
from slo.diagnosis.triage import CAUSES, triage

__all__ = ["CAUSES", "DiagnosticSketch", "triage"]
