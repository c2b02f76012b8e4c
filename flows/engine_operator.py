"""The Bytewax step around `SloEngine`: one logic per SLO name.

Items arrive in lists (one per routed join outcome list). Bytewax builds a logic from its resume
state only (it does not pass the key), so every routed item carries the SLO name and the engine
is created on the first item.
"""

from __future__ import annotations

import logging
import time

from bytewax.operators import StatefulBatchLogic

from flows import drift_metrics, metrics
from flows.engine_state import EngineOutput, SloEngine
from flows.settings import FlowSettings
from slo.snapshots import AlertEvent, StatusSnapshot
from slo.spec import SloFile, SloSpec

JOINED_ITEM = "j"       # (JOINED_ITEM, slo_name, JoinedRecord)
PREDICTIONS_ITEM = "n"  # (PREDICTIONS_ITEM, slo_name, (model_id, segment, minute, count))
CLOCK_ITEM = "c"        # (CLOCK_ITEM, slo_name, shard, event_time)
DETAIL_ITEM = "d"       # (DETAIL_ITEM, slo_name, Prediction): SLOs with drift or diagnostics

log = logging.getLogger(__name__)


class EngineLogic(StatefulBatchLogic):
    def __init__(self, slo_file: SloFile, settings: FlowSettings, resume: bytes | None) -> None:
        self.slo_file = slo_file
        self.settings = settings
        self.engine: SloEngine | None = SloEngine.restore(resume) if resume is not None else None
        if self.engine is not None:
            _warn_if_redefined(self.engine.spec, slo_file)

    def on_batch(self, values: list[list[tuple]]) -> tuple[list[list[EngineOutput]], bool]:
        """Each value is one list of routed items; all outputs leave as one list."""
        engine = self.engine or self._create(values[0][0][1])
        outputs: list[EngineOutput] = []
        for items in values:
            for item in items:
                kind = item[0]
                if kind == JOINED_ITEM:
                    engine.add_joined(item[2])
                elif kind == PREDICTIONS_ITEM:
                    engine.add_predictions(*item[2])
                elif kind == DETAIL_ITEM:
                    engine.add_prediction_detail(item[2])
                elif kind == CLOCK_ITEM:
                    outputs.extend(engine.clock(item[2], item[3]))
        for output in outputs:
            if isinstance(output, StatusSnapshot):
                metrics.record_status(output)
                if output.drift is not None:
                    drift_metrics.record_drift(output.key, output.drift)
            elif isinstance(output, AlertEvent):
                metrics.labelled(metrics.ALERT_EVENTS, output.key.slo, output.action, output.severity).inc()
        if outputs:
            # Observability only: the evaluation itself never reads the wall clock.
            metrics.labelled(metrics.EVALUATION_LAG, engine.spec.name).set(time.time() - outputs[-1].event_time)
            return [outputs], False
        return [], False

    def _create(self, slo_name: str) -> SloEngine:
        settings = self.settings
        self.engine = SloEngine(
            self.slo_file, slo_name, settings.shards, settings.allowed_lateness, settings.evaluation_step
        )
        return self.engine

    def snapshot(self) -> bytes | None:
        """The engine for the recovery store; None without one (see FlowSettings.recovery)."""
        if self.engine is None or not self.settings.recovery:
            return None
        return self.engine.snapshot()


def _warn_if_redefined(saved: SloSpec, slo_file: SloFile) -> None:
    """Say so when the SLO file now defines a restored SLO differently: the recovery snapshot's
    definition stays in force for it (README, Known limitations)."""
    current = next((spec for spec in slo_file.slos if spec.name == saved.name), None)
    if current is None or current == saved:
        return
    before, after = saved.model_dump(), current.model_dump()
    changed = ", ".join(f"{name} {before.get(name)!r} -> {after.get(name)!r}"
                        for name in after if before.get(name) != after.get(name))
    log.warning("SLO %r is defined differently in the SLO file than in its recovery snapshot (%s); the "
                "snapshot's definition stays in force for it; to apply the new one, give the SLO a new name (its "
                "windows then start afresh)", saved.name, changed)
