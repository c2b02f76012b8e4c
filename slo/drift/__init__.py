"""Drift detection and label-free performance estimation (issue 8): the pure statistical core.

No Kafka, no Bytewax, no clock: the flow hands in predictions, joined labels and watermarks
(event time), and gets back snapshots to publish. Modules, each named for what it holds:

- config.py     the ``drift:`` block of an SLO (pydantic, for SloSpec)
- monitor.py    `DriftMonitor` (per SLO and model) and `DriftSnapshot` (what to publish)
- reference.py  the reference: a fixed baseline or a trailing window
- window.py     bounded time buckets: counts, score histograms, label sums, bottom-k samples
- features.py   features to numbers: kinds, bounded category vocabularies
- compare.py    one column (feature or score) against the reference
- psi.py        PSI with reference quantile bins and its sample-size-aware threshold
- stattests.py  KS, chi-square (two-sample and goodness-of-fit), two proportions (scipy)
- fdr.py        Benjamini-Hochberg across columns (scipy)
- cbpe.py       the label-free estimate of precision or recall, with bounds
- detectors.py  river's ADWIN and Page-Hinkley on the flagged-rate, error and score streams
- composite.py  the warning: drift and a proxy of the metric got worse

See docs/drift.md for the method and the measured false-alarm rates.

>>> from slo.drift import DriftMonitor, DriftSpec
>>> DriftMonitor(DriftSpec()).evaluate(1.8e9).status
'reference_pending'
"""

from slo.drift.config import DriftSpec, ReferenceSpec, WarningSpec
from slo.drift.monitor import DriftMonitor, DriftSnapshot

__all__ = ["DriftMonitor", "DriftSnapshot", "DriftSpec", "ReferenceSpec", "WarningSpec"]
