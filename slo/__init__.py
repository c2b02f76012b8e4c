"""The SLO engine: precision/recall SLOs of ML models from sampled labels, in event time.

Pure Python with no I/O and no clock: the flow routes joined labels to per-key trackers
(`slo.routing.keys_for`), feeds them (`SloTracker.observe`) and moves them forward with the
watermark (`SloTracker.advance`), which returns status snapshots and alert events. See
docs/slo-engine.md.
"""

from slo.routing import TrackerKey, keys_for, keys_for_prediction
from slo.snapshots import AlertEvent, StatusSnapshot
from slo.spec import SloFile, SloSpec, SloSpecError, load_slo_file, parse_slo_yaml
from slo.tracker import SloTracker

__all__ = ["AlertEvent", "SloFile", "SloSpec", "SloSpecError", "SloTracker", "StatusSnapshot",
           "TrackerKey", "keys_for", "keys_for_prediction", "load_slo_file", "parse_slo_yaml"]
