"""Change-from-usual detection on the error stream: river's ADWIN, label by label.

A test against the budget (slo/sequential.py's CUSUMs, the windows) cannot page early on a slow
decline: right after the true error rate crosses the budget there is almost no excess over it
to see. What there is to see is that the error rate *moved*: from the key's usual 3% towards
5%. ADWIN (Bifet and Gavalda 2007) keeps the longest recent stretch of the stream whose mean is
homogeneous and cuts it where an older part and a newer part differ by more than a
Hoeffding/Bernstein bound at confidence `delta` (corrected for the cut points it tries), so its
false-detection rate does not depend on how often the monitor evaluates.

`ChangeTest` feeds ADWIN each label's error (1 for a false positive of precision, a false
negative of recall; 0 for a hit) exactly once, as the tracker feeds the CUSUMs (in review-time
order within a step), and *latches* an alarm when a cut shows a higher error rate in the newer
part. The alarm alone is not a page: the tracker's `change` rule also needs the SLO plausibly at
risk (slo/rules.py). The latch ends when ADWIN cuts again towards a lower rate, `hold` seconds
of review time after the increase, or when the episode resolves (`reset`).

Review-sampling weights are not given to ADWIN: its bound holds for values in [0, 1], and a
label of weight 20 fed as 20 would be 20 labels of evidence from one review. Each reviewed label
counts once, so ADWIN detects a change of the reviewed labels' error rate; the warning's gate
uses the window's weighted (unbiased) estimate, so a change in who gets reviewed alone does not
page while the SLO is well met.

>>> t = ChangeTest(delta=0.002, clock=1, hold=6 * 3600.0)
>>> for i in range(2000):                      # 3% errors
...     t.add(60.0 * i, i % 100 < 3)
>>> t.alarm
False
>>> for i in range(2000, 2203):                # 12% errors: an increase after ~200 labels
...     t.add(60.0 * i, i % 25 < 3)
>>> t.alarm, round(t.usual, 3), round(t.level, 3)   # the kept part still holds older labels
(True, 0.031, 0.044)
>>> t.add(t.since + 6 * 3600.0, False)         # `hold` later the latch is off
>>> t.alarm
False
"""

from __future__ import annotations

from slo.river_drift import ADWIN


class ChangeTest:
    """ADWIN on the per-label error; an alarm latched on a detected increase."""

    __slots__ = ("hold", "adwin", "latched", "since", "usual", "level")

    def __init__(self, delta: float, clock: int, hold: float):
        if not 0.0 < delta < 1.0 or clock < 1 or hold <= 0.0:
            raise ValueError("need 0 < delta < 1, clock >= 1, hold > 0")
        self.hold = hold
        self.adwin = ADWIN(delta=delta, clock=clock)
        self.latched = False
        self.since = 0.0     # review time of the label that showed the increase
        self.usual = 0.0     # error rate of the part ADWIN dropped (before the change)
        self.level = 0.0     # error rate of the part it kept (since the change)

    def add(self, t: float, error: bool) -> None:
        """One label reviewed at `t` (epoch seconds, non-decreasing): error or hit."""
        adwin = self.adwin
        x = 1.0 if error else 0.0
        old_width, old_total = adwin.width, adwin.total
        adwin.update(x)       # (after a detection, river restarts the window at this update)
        if adwin.drift_detected:
            # ADWIN dropped the oldest part of its window: recover both parts' error rates
            width, total = adwin.width, adwin.total
            dropped = old_width + 1.0 - width
            if dropped > 0.0 and width > 0.0:
                usual, level = (old_total + x - total) / dropped, total / width
                if level > usual:
                    self.latched, self.since, self.usual, self.level = True, t, usual, level
                else:
                    self.latched = False
        elif self.latched and t - self.since >= self.hold:
            self.latched = False

    @property
    def alarm(self) -> bool:
        """True from a detected increase until a decrease, `hold` later, or a reset."""
        return self.latched

    def reset(self) -> None:
        """Re-arm after the episode resolved: the next warning needs a new increase."""
        self.latched = False
