"""The Bytewax step around `SloEngine`: one logic per SLO name.

Items arrive in lists (one per routed join outcome list). Bytewax builds a logic from its resume
state only (it does not pass the key), so every routed item carries the SLO name and the engine
is created on the first item.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

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

# Fields that change only what is done about an alert, not what is evaluated: a restored engine
# adopts a definition that differs in nothing else, windows and open alerts included. An
# `alerting` rule is named `alerting.<rule>`: whether segment alerts are held is read at each step.
ACTION_FIELDS = frozenset({"remediation", "description", "diagnostics", "alerting.hold_segment_alerts"})


class EngineLogic(StatefulBatchLogic):
    def __init__(self, slo_file: SloFile, settings: FlowSettings, resume: bytes | None) -> None:
        self.slo_file = slo_file
        self.settings = settings
        self.engine: SloEngine | None = SloEngine.restore(resume) if resume is not None else None
        # A restored engine whose SLO the file no longer has, or defines differently beyond its
        # ACTION_FIELDS (those it adopts), is retired: its open alerts are resolved at once
        # (`on_notify`). A removed SLO's state is then dropped; a redefined one goes on in an
        # engine for its new definition, with the counts that still mean the same.
        self.retiring: tuple[SloEngine, str] | None = None
        if self.engine is not None:
            saved = self.engine.spec
            try:
                current: SloSpec | None = slo_file.get(saved.name)
            except KeyError:   # removed from the file
                current = None
            changes = _changes(saved, current)
            if current is None or not changes.keys() <= ACTION_FIELDS:
                self.retiring = (self.engine, _retirement_reason(saved.name, changes))
                self.engine = None if current is None else self.engine.redefined(slo_file, current)
            elif changes:
                self.engine.adopt(slo_file, current)
                log.info("SLO %r: the new %s taken over (%s); its windows and alerts go on", saved.name,
                         " and ".join(changes), _described(changes))

    def on_batch(self, values: list[list[tuple]]) -> tuple[list[list[EngineOutput]], bool]:
        """Each value is one list of routed items; all outputs leave as one list."""
        outputs = self._retire()   # first: a new engine's alerts must follow the old ones' resolves
        engine = self.engine or self._create(values[0][0][1])
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
        _record(outputs)
        if outputs:
            # Observability only: the evaluation itself never reads the wall clock.
            metrics.labelled(metrics.EVALUATION_LAG, engine.spec.name).set(time.time() - outputs[-1].event_time)
            return [outputs], False
        return [], False

    def notify_at(self) -> datetime | None:
        """Now, while a retired engine's alerts are still to be resolved."""
        return datetime.now(UTC) if self.retiring is not None else None

    def on_notify(self) -> tuple[list[list[EngineOutput]], bool]:
        """Resolve the retired engine's open alerts; drop this logic (and its saved state) unless
        an engine goes on (a redefined SLO's, or one started by an item meanwhile)."""
        outputs = self._retire()
        _record(outputs)
        return ([outputs] if outputs else []), self.engine is None

    on_eof = on_notify   # a replay that ends before the notification resolves them the same way

    def _retire(self) -> list[EngineOutput]:
        if self.retiring is None:
            return []
        engine, reason = self.retiring
        self.retiring = None
        return list(engine.retire(reason))

    def _create(self, slo_name: str) -> SloEngine:
        settings = self.settings
        self.engine = SloEngine(
            self.slo_file, slo_name, settings.shards, settings.allowed_lateness, settings.evaluation_step
        )
        return self.engine

    def snapshot(self) -> bytes | None:
        """The engine for the recovery store; None without one (see FlowSettings.recovery)."""
        engine = self.retiring[0] if self.retiring is not None else self.engine   # retired only once resolved
        if engine is None or not self.settings.recovery:
            return None
        return engine.snapshot()


def _record(outputs: list[EngineOutput]) -> None:
    """The metrics of an engine's outputs."""
    for output in outputs:
        if isinstance(output, StatusSnapshot):
            metrics.record_status(output)
            if output.drift is not None:
                drift_metrics.record_drift(output.key, output.drift)
        elif isinstance(output, AlertEvent):
            metrics.labelled(metrics.ALERT_EVENTS, output.key.slo, output.action, output.severity).inc()


def _changes(saved: SloSpec, current: SloSpec | None) -> dict[str, tuple[Any, Any]]:
    """The fields the SLO file now gives the restored SLO differently: name -> (saved, now);
    `alerting`'s rules one by one, as `alerting.<rule>`.

    Dumps are compared, not the specs: they also tell an omitted `burn_rates` (the defaults) from
    a null one (none), which pydantic's equality does not.
    """
    if current is None:
        return {}
    before, after = saved.model_dump(), current.model_dump()
    changes = {}
    for name, now in after.items():
        then = before.get(name)
        if then == now:
            continue
        if name == "alerting" and then is not None:
            changes.update({f"alerting.{rule}": (then.get(rule), value) for rule, value in now.items()
                            if then.get(rule) != value})
        else:
            changes[name] = (then, now)
    return changes


def _described(changes: dict[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{name} {old!r} -> {new!r}" for name, (old, new) in changes.items())


def _retirement_reason(name: str, changes: dict[str, tuple[Any, Any]]) -> str:
    """Logged, and the reason of the resolves of a retired SLO's open alerts (no changes: removed)."""
    if not changes:
        reason = f"SLO {name!r} was removed from the SLO file"
        log.warning("%s: its open alerts are resolved and its saved state dropped", reason)
        return reason
    log.warning("SLO %r is defined differently in the SLO file than in its recovery snapshot (%s): its open "
                "alerts are resolved, and it goes on under the new definition with its label counts where they "
                "are counted the same way; its alert state, tests and compliance start afresh",
                name, _described(changes))
    return f"SLO {name!r} was redefined ({_described(changes)}); its alerts start afresh under the new definition"
