"""Turn a scenario into two time-ordered streams: predictions and, later, their labels.

`TrafficGenerator.batches()` makes predictions chunk by chunk of event time with numpy
(non-homogeneous Poisson arrivals by thinning: diurnal swing times the scenario's traffic
multiplier). `TrafficGenerator.events()` walks the batches, decides reviews, and merges each
review's label (due at prediction time + delay) back in with a heap, yielding
("prediction" | "label", event_time, record) in event-time order. Records follow the public
contract (shared/CONTRACT.md). No Kafka here: writers consume the events.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import threading
from dataclasses import dataclass
from typing import Iterable, Iterator, Literal

import numpy as np

from simulator.durations import format_time
from simulator.model import FEATURE_NAMES, Outcomes, Population, draw_outcomes, draw_segments
from simulator.scenarios import Scenario
from simulator.stats import RunStats

Kind = Literal["prediction", "label"]
Event = tuple[Kind, float, dict]
TimestampFormat = Literal["rfc3339", "epoch"]

DEFAULT_MODEL_ID = "fraud-detector"


@dataclass
class PredictionBatch:
    """A chunk of consecutive predictions as parallel arrays (event-time ordered)."""

    first_index: int            # sequence number of the first prediction in the run
    times: np.ndarray           # epoch seconds, rounded to milliseconds
    versions: np.ndarray        # model_version per prediction
    segments: dict[str, np.ndarray]
    outcomes: Outcomes

    def __len__(self) -> int:
        return len(self.times)

    @property
    def label_times(self) -> np.ndarray:
        """When each prediction's review would happen (only used if it is reviewed)."""
        return np.round(self.times + self.outcomes.label_delay, 3)

    @property
    def reviewed(self) -> np.ndarray:
        """Review decisions at the stamped probabilities (before any review-rate override)."""
        return self.outcomes.review_draw < self.outcomes.review_probability


def rfc3339_many(times: np.ndarray) -> list[str]:
    """Vectorised RFC 3339 (UTC, milliseconds, 'Z') for an array of epoch seconds."""
    ms = np.round(np.asarray(times) * 1000.0).astype("int64").astype("datetime64[ms]")
    return [s + "Z" for s in np.datetime_as_string(ms, unit="ms").tolist()]


class TrafficGenerator:
    """Deterministic traffic for one model: same arguments and seed, same streams.

    The review probability can be raised while running (`set_review_rate`), e.g. by a consumer of
    the `review-sampling` topic; it only changes which predictions are reviewed (and what they are
    stamped with), never the other random draws, so runs stay comparable.
    """

    def __init__(self, scenario: Scenario, *, start: float, duration: float, rate_per_hour: float,
                 seed: int = 0, model_id: str = DEFAULT_MODEL_ID,
                 population: Population | None = None,
                 timestamp_format: TimestampFormat = "rfc3339",
                 label_tail: float | None = None, chunk_events: int = 8192) -> None:
        if duration < 0 or rate_per_hour < 0:
            raise ValueError("duration and rate must be >= 0")
        if timestamp_format not in ("rfc3339", "epoch"):
            raise ValueError("timestamp_format must be 'rfc3339' or 'epoch'")
        if not model_id:
            raise ValueError("model_id must not be empty")
        self.scenario = scenario
        self.start = float(start)
        self.duration = float(duration)
        self.rate_per_hour = float(rate_per_hour)
        self.seed = int(seed)
        self.model_id = model_id
        self.population = population or Population()
        self.timestamp_format = timestamp_format
        self.label_tail = label_tail
        self.chunk_events = chunk_events
        self.stats = RunStats()
        self._overrides: dict[str, tuple[float, float | None]] = {}
        self._served_version: str | None = None   # set by a rollback (`serve_version`)
        self.serving: tuple[str, float] | None = None   # (that version, event time it serves from)
        self._lock = threading.Lock()
        digest = hashlib.blake2b(repr((model_id, scenario, seed, self.start, self.duration,
                                       self.rate_per_hour)).encode(), digest_size=4)
        self.run_tag = digest.hexdigest()   # keeps prediction ids unique across differing runs

    @property
    def end(self) -> float:
        return self.start + self.duration

    # --- review sampling hook (issue 7) ----------------------------------------------------

    def set_review_rate(self, model_id: str, rate: float, until_time: float | None = None) -> None:
        """Review at least `rate` of `model_id`'s predictions made before `until_time`.

        `until_time` is event time (epoch seconds; None = until cleared). The stamped
        review_probability becomes max(own, rate), so flagged ones stay fully reviewed. Safe to
        call from another thread while events are being consumed; applies from the next
        prediction handed out. Overrides for other models are kept but have no effect here.
        """
        if not 0 < rate <= 1:
            raise ValueError("review rate must be in (0, 1]")
        with self._lock:
            self._overrides = {**self._overrides, model_id: (float(rate), until_time)}

    def clear_review_rate(self, model_id: str) -> None:
        with self._lock:
            self._overrides = {k: v for k, v in self._overrides.items() if k != model_id}

    def review_rate_override(self, model_id: str, event_time: float) -> float | None:
        """The raised review rate in force for `model_id` at `event_time`, if any."""
        entry = self._overrides.get(model_id)
        if entry is None:
            return None
        rate, until = entry
        return rate if until is None or event_time < until else None

    # --- rollback hook ------------------------------------------------------------------------

    def serve_version(self, version: str) -> None:
        """Serve every prediction with `version` from the next chunk of event time on, as a
        serving system does after a rollback (e.g. a `model-control` record). The version's own
        behaviour applies: a rollback from a bad version to the base one ends the bad version's
        changes. Safe to call from another thread; pick a small `chunk_events` for a prompt switch.
        """
        if not version:
            raise ValueError("version must not be empty")
        self._served_version = version

    # --- predictions -------------------------------------------------------------------------

    def _arrival_bound(self) -> float:
        """An upper bound of the arrival rate (per second), for thinning."""
        return (self.rate_per_hour / 3600.0 * (1 + self.population.diurnal_amplitude)
                * self.scenario.max_traffic_multiplier())

    def batches(self) -> Iterator[PredictionBatch]:
        """Predictions in event-time order, a chunk of event time at a time (restartable)."""
        rng = np.random.default_rng(self.seed)
        bound = self._arrival_bound()
        if bound <= 0 or self.duration <= 0:
            return
        chunk = max(1.0, self.chunk_events / bound)
        index = 0
        lo = 0.0
        while lo < self.duration:
            hi = min(lo + chunk, self.duration)
            n = rng.poisson(bound * (hi - lo))
            offsets = np.sort(lo + (hi - lo) * rng.random(n))
            times = self.start + offsets
            keep = rng.random(n) * bound < (self.rate_per_hour / 3600.0 * self.population.diurnal(times)
                                            * self.scenario.traffic_multiplier(offsets))
            offsets, times = offsets[keep], np.round(times[keep], 3)
            lo = hi
            if len(times) == 0:
                continue
            segments = draw_segments(rng, len(times), self.population)
            versions = self.scenario.versions(offsets, rng.random(len(times)))
            served = self._served_version
            if served is not None:   # a rollback: one version for all (the draws stay the same)
                versions = np.full(len(times), served)
                if self.serving is None or self.serving[0] != served:
                    self.serving = (served, float(times[0]))
            params = self.scenario.resolve(offsets, segments, versions)
            outcomes = draw_outcomes(rng, params, self.population)
            yield PredictionBatch(index, times, versions, segments, outcomes)
            index += len(times)

    # --- the merged stream ----------------------------------------------------------------------

    def events(self) -> Iterator[Event]:
        """Predictions and labels interleaved in event-time order; resets and fills `self.stats`.

        A label's time is its prediction's time plus the review delay; ties go to labels first.
        Labels due after the end are still emitted (all of them, or those within `label_tail`).
        """
        self.stats = stats = RunStats(phase_edges=[self.start + b for b in self.scenario.boundaries()])
        model_id, tag = self.model_id, self.run_tag
        epoch = self.timestamp_format == "epoch"
        label_cutoff = math.inf if self.label_tail is None else self.end + self.label_tail
        reviewers = np.array(self.population.reviewers)
        heap: list[tuple[float, int, dict, int, float]] = []
        pop, push = heapq.heappop, heapq.heappush
        label_seq = 0

        def emit_label(entry: tuple[float, int, dict, int, float]) -> Event:
            stats.labels += 1
            stats.labels_positive += entry[2]["label"]
            stats.label_weighted[entry[3]] += entry[4]
            stats.last_label_time = entry[0]
            return ("label", entry[0], entry[2])

        for batch in self.batches():
            o = batch.outcomes
            n = len(batch)
            times = batch.times.tolist()
            label_times_arr = batch.label_times
            label_times = label_times_arr.tolist()
            stamps = times if epoch else rfc3339_many(batch.times)
            if epoch:
                label_stamps: list = label_times
            else:  # format only the labels we expect to need; overrides format their own
                label_stamps = [None] * n
                planned = np.flatnonzero(batch.reviewed)
                for j, stamp in zip(planned.tolist(), rfc3339_many(label_times_arr[planned])):
                    label_stamps[j] = stamp
            versions = batch.versions.tolist()
            flagged = o.flagged.tolist()
            recorded = o.label.tolist()
            scores = o.score.tolist()
            probs = o.review_probability.tolist()
            draws = o.review_draw.tolist()
            names = reviewers[o.reviewer].tolist()
            seg_keys = list(batch.segments)
            seg_rows = list(zip(*(batch.segments[k].tolist() for k in seg_keys)))
            feature_cols = []
            for name in FEATURE_NAMES:
                col = o.features[name]
                if col.dtype.kind == "f" and np.isnan(col).any():
                    obj = col.astype(object)
                    obj[np.isnan(col)] = None
                    feature_cols.append(obj.tolist())
                else:
                    feature_cols.append(col.tolist())
            feature_rows = list(zip(*feature_cols))
            first = batch.first_index
            done = 0
            try:
                for i in range(n):
                    t = times[i]
                    while heap and heap[0][0] <= t:
                        yield emit_label(pop(heap))
                    p = probs[i]
                    if self._overrides:
                        raised = self.review_rate_override(model_id, t)
                        if raised is not None and raised > p:
                            p = raised
                    pid = f"{tag}-{first + i:010d}"
                    record = {
                        "prediction_id": pid,
                        "model_id": model_id,
                        "model_version": versions[i],
                        "timestamp": stamps[i],
                        "predicted_label": flagged[i],
                        "score": scores[i],
                        "review_probability": p,
                        "segment": dict(zip(seg_keys, seg_rows[i])),
                        "features": dict(zip(FEATURE_NAMES, feature_rows[i])),
                    }
                    done = i + 1
                    yield ("prediction", t, record)
                    if draws[i] < p:
                        stats.reviewed += 1
                        lt = label_times[i]
                        if lt > label_cutoff:
                            stats.labels_dropped += 1
                            continue
                        label = {"prediction_id": pid, "model_id": model_id, "label": recorded[i],
                                 "timestamp": label_stamps[i] or format_time(lt), "reviewer": names[i]}
                        push(heap, (lt, label_seq, label, 2 * flagged[i] + recorded[i], 1.0 / p))
                        label_seq += 1
            finally:
                stats.add_predictions(batch.times[:done], o.flagged[:done], o.truth[:done],
                                      batch.versions[:done], {k: v[:done] for k, v in batch.segments.items()})
        while heap:
            yield emit_label(pop(heap))


def merge_events(*streams: Iterable[Event]) -> Iterator[Event]:
    """Merge several generators' event streams (e.g. several models) in event-time order."""
    return heapq.merge(*streams, key=lambda e: e[1])
