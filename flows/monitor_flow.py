"""The monitor dataflow: the join feeding the SLO engine, writing slo-status and slo-alerts.

    join outcomes ──► route by SLO name ──► engine (one per SLO) ──┬─► slo-status
      joined labels, prediction counts, shard clocks                ├─► slo-alerts
      whole predictions (SLOs with drift or diagnostics)            └─► slo-diagnostics

Output is at-least-once (Bytewax replays the epoch since the last snapshot after a crash);
records carry stable identities so a consumer recognises a repeat: a status record by its key
and `event_time`, an alert by `alert_id`, `action` and `severity`.
"""

from __future__ import annotations

import bytewax.operators as op
import orjson
from bytewax.dataflow import Dataflow
from bytewax.outputs import Sink

from flows.engine_operator import CLOCK_ITEM, DETAIL_ITEM, JOINED_ITEM, PREDICTIONS_ITEM, EngineLogic
from flows.alert_log import AlertIdentity
from flows.engine_state import EngineOutput
from flows.join_flow import join_stream, joined_output, one_by_one
from flows.join_operator import PREDICTION_DETAIL
from flows.join_state import CLOCK, JOINED, PREDICTIONS_SEEN, Outcome
from flows.kafka_clients import producer_config
from flows.kafka_sink import OutRecord, ProducerSink, local_key
from flows.settings import FlowSettings, Topics
from slo.snapshots import AlertEvent, DiagnosticSummary, StatusSnapshot
from slo.spec import SloFile


def build_monitor_flow(
    settings: FlowSettings,
    slo_file: SloFile,
    outcome_sink: Sink[Outcome] | None = None,
    engine_sink: Sink[EngineOutput] | None = None,
    flow_id: str = "slo-monitor",
    alerts_already_written: frozenset[AlertIdentity] = frozenset(),
) -> Dataflow:
    """The monitor; `alerts_already_written` (from `alert_log.written_alerts`) are not repeated.

    The process that runs it should tune its garbage collector first (`slo_monitor.gc_tuning`).
    """
    flow = Dataflow(flow_id)
    detail_models = frozenset(spec.model_id for spec in slo_file.slos if spec.needs_prediction_details)
    outcomes = join_stream(flow, settings, detail_models)
    if settings.write_joined:
        joined_output(outcomes, settings)
    router = SloRouter(slo_file)
    to_engine = op.flat_map("route-to-slos", outcomes, router.route)
    engine_outputs = op.stateful_batch(
        "engine",
        to_engine,
        lambda resume: EngineLogic(slo_file, settings, resume),
    )
    results = op.filter_map(
        "not-written-before",
        engine_outputs,
        lambda keyed: [r for r in keyed[1] if not _written_before(r, alerts_already_written)] or None,
    )
    topics, key = settings.topics, local_key(settings.process_id)
    op.output(
        "write-engine-results",
        op.map("encode-engine-results", results,
               lambda batch: (key, [encode_engine_output(r, topics) for r in batch])),
        ProducerSink(producer_config(settings), settings.process_id, settings.processes),
    )
    if outcome_sink is not None:
        op.output("outcomes-out", op.flat_map("outcomes-one-by-one", outcomes, one_by_one), outcome_sink)
    if engine_sink is not None:
        op.output("engine-out", op.flat_map("results-one-by-one", results, one_by_one), engine_sink)
    return flow


class SloRouter:
    """Sends each join outcome the engine needs to the SLO(s) it concerns."""

    def __init__(self, slo_file: SloFile) -> None:
        self.slo_file = slo_file
        self.all_slos = [spec.name for spec in slo_file.slos]
        # model_id -> (names of its SLOs, names of those that take whole predictions)
        self._by_model: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def route(self, outcomes: list[Outcome]) -> list[tuple[str, list[tuple]]]:
        """One list of engine items per SLO concerned, in outcome order."""
        per_slo: dict[str, list[tuple]] = {}
        for outcome in outcomes:
            kind = outcome.kind
            if kind == JOINED:
                record = outcome.detail
                for name in self._names(record.model_id)[0]:
                    _append(per_slo, name, (JOINED_ITEM, name, record))
            elif kind == PREDICTIONS_SEEN:
                counts = outcome.detail
                for name in self._names(counts[0])[0]:
                    _append(per_slo, name, (PREDICTIONS_ITEM, name, counts))
            elif kind == CLOCK:
                for name in self.all_slos:
                    _append(per_slo, name, (CLOCK_ITEM, name, outcome.prediction_id, outcome.detail))
            elif kind == PREDICTION_DETAIL:
                prediction = outcome.detail
                for name in self._names(prediction.model_id)[1]:
                    _append(per_slo, name, (DETAIL_ITEM, name, prediction))
        return list(per_slo.items())

    def _names(self, model_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        names = self._by_model.get(model_id)
        if names is None:
            if len(self._by_model) >= _MAX_ROUTED_MODELS:   # model ids no SLO watches, without end
                self._by_model.clear()
            specs = self.slo_file.slos_for_model(model_id)
            names = self._by_model[model_id] = (tuple(spec.name for spec in specs),
                                                tuple(spec.name for spec in specs if spec.needs_prediction_details))
        return names


_MAX_ROUTED_MODELS = 65_536


def _append(per_slo: dict[str, list[tuple]], name: str, item: tuple) -> None:
    items = per_slo.get(name)
    if items is None:
        per_slo[name] = [item]
    else:
        items.append(item)


def _written_before(output: EngineOutput, written: frozenset[AlertIdentity]) -> bool:
    return isinstance(output, AlertEvent) and (output.alert_id, output.action, output.severity) in written


def encode_engine_output(output: EngineOutput, topics: Topics) -> OutRecord:
    value = orjson.dumps(output.to_record(), option=orjson.OPT_SERIALIZE_NUMPY)
    if isinstance(output, DiagnosticSummary):
        return OutRecord(topics.diagnostics, output.alert_id.encode("utf-8"), value)
    topic = topics.status if isinstance(output, StatusSnapshot) else topics.alerts
    return OutRecord(topic, output.key.dedup_key.encode("utf-8"), value)
