"""The Bytewax step around `JoinShard`: one logic per shard key, outcomes downstream in lists.

A prediction that carries its whole record (models with a drift SLO) is passed on as a
`PREDICTION_DETAIL` outcome unless it is a duplicate, ahead of the shard's clock signal that
covers it, so the engine sees it before it evaluates past its time (replay equals live).
"""

from __future__ import annotations

from bytewax.operators import StatefulBatchLogic

from flows import metrics
from flows.join_state import PREDICTION_DUPLICATE, JoinSettings, JoinShard, Outcome
from flows.partition_clock import LABEL_ITEM, PREDICTION_ITEM, PROGRESS_ITEM

PREDICTION_DETAIL = "prediction_detail"  # Outcome detail: the whole Prediction (drift SLOs only)


class JoinShardLogic(StatefulBatchLogic):
    def __init__(
        self, settings: JoinSettings, report_pending_at_end: bool, clock_step: float, resume: JoinShard | None,
        recovery: bool = True,
    ) -> None:
        self.shard = resume.snapshot() if resume is not None else JoinShard(settings)
        self.report_pending_at_end = report_pending_at_end
        self.clock_step = clock_step
        self.recovery = recovery
        self._size_reported = 0
        self._report_size()

    def on_batch(self, values: list[list[tuple]]) -> tuple[list[list[Outcome]], bool]:
        """Each value is one list of items from the partition clock; all outcomes leave as one list."""
        shard = self.shard
        outcomes: list[Outcome] = []
        for items in values:
            for item in items:
                kind = item[0]
                if kind == PREDICTION_ITEM:
                    added = shard.add_prediction(item[1], item[2])
                    if added is not None:
                        outcomes.append(added)
                    if len(item) > 3 and (added is None or added.kind != PREDICTION_DUPLICATE):
                        outcomes.append(Outcome(PREDICTION_DETAIL, item[1], item[3]))
                elif kind == LABEL_ITEM:
                    outcomes.extend(shard.add_label(item[1], item[2]))
                elif kind == PROGRESS_ITEM:
                    progress = item[1]
                    outcomes.extend(shard.advance(progress.source, progress.partition, progress.event_time))
        outcomes.extend(shard.signals(self.clock_step))
        self._report_size()
        return ([outcomes] if outcomes else []), False

    def on_eof(self) -> tuple[list[list[Outcome]], bool]:
        pending = self.shard.pending() if self.report_pending_at_end else []
        outcomes = self.shard.held_counts() + pending
        return ([outcomes] if outcomes else []), False

    def snapshot(self) -> JoinShard | None:
        """The shard's state for the recovery store; None without one (see FlowSettings.recovery)."""
        return self.shard.snapshot() if self.recovery else None

    def _report_size(self) -> None:
        size = self.shard.size()
        metrics.JOIN_STATE_SIZE.inc(size - self._size_reported)
        self._size_reported = size
