"""River's change detectors (ADWIN, Page-Hinkley) on the monitor's streams, stamped in event time.

Why: the window tests compare a day with the reference; a detector watches a stream item by item
and says *when* its mean moved (the flagged rate, the error of labelled predictions, the score).
River does the statistics; this wrapper only remembers how many changes were seen and the event
time of the last one (river forgets on reset), and exposes a small state for slo-status.

The river docstring example, through the wrapper (same detection index as river prints):

>>> import random
>>> rng = random.Random(12345)
>>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
>>> adwin = StreamDetector("example", "adwin")
>>> [i for i, x in enumerate(stream) if adwin.update(x, event_time=float(i))]
[1023]
>>> adwin.state()["last_detection"]
1023.0
"""

from __future__ import annotations

from typing import Any

from slo.river_drift import ADWIN, DriftDetector, PageHinkley

KINDS = {"adwin": ADWIN, "page_hinkley": PageHinkley}


def make_detector(kind: str, params: dict[str, Any] | None = None) -> DriftDetector:
    """A river detector of `kind` ("adwin" | "page_hinkley"); `params` are river's own."""
    if kind not in KINDS:
        raise ValueError(f"unknown detector {kind!r}: expected one of {sorted(KINDS)}")
    return KINDS[kind](**(params or {}))


class StreamDetector:
    """One river detector on one named stream; picklable (river's detectors are)."""

    __slots__ = ("stream", "kind", "detector", "updates", "detections", "last_detection")

    def __init__(self, stream: str, kind: str = "adwin", params: dict[str, Any] | None = None):
        self.stream = stream
        self.kind = kind
        self.detector = make_detector(kind, params)
        self.updates = 0
        self.detections = 0
        self.last_detection: float | None = None   # event time of the item that tripped it

    def update(self, x: float, event_time: float) -> bool:
        """Feed one value observed at `event_time`; True when this value signals a change."""
        self.detector.update(x)
        self.updates += 1
        if self.detector.drift_detected:
            self.detections += 1
            self.last_detection = event_time
            return True
        return False

    def fired_since(self, t: float) -> bool:
        """Whether the last detection happened at or after event time `t`."""
        return self.last_detection is not None and self.last_detection >= t

    def state(self) -> dict[str, Any]:
        """What slo-status shows: counts, last detection, and ADWIN's current window mean."""
        out: dict[str, Any] = {"stream": self.stream, "kind": self.kind, "updates": self.updates,
                               "detections": self.detections, "last_detection": self.last_detection}
        if isinstance(self.detector, ADWIN):
            out["mean"] = self.detector.estimation
            out["width"] = int(self.detector.width)
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
