"""A restored SLO engine under an SLO file that now defines the SLO differently, or not at all:
its open alerts are resolved (an alert left open would stay open in PagerDuty for good), then a
redefined SLO goes on under its new definition with the counts that still mean the same, and a
removed one's state is dropped."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from flows.engine_operator import CLOCK_ITEM, JOINED_ITEM, EngineLogic
from flows.engine_state import SloEngine
from flows.settings import FlowSettings
from schemas.joined import JoinedRecord
from slo.drift.alerting import DriftAlerts
from slo.drift.monitor import DriftSnapshot
from slo.snapshots import AlertEvent, StatusSnapshot
from slo.spec import parse_slo_yaml

SLO = ("slos: [{{name: p, model_id: m, metric: precision, positive_label: 1, objective: {objective},"
       " window: 1h, min_labels: 30}}]")
OTHER_SLO = "slos: [{name: q, model_id: m, metric: recall, positive_label: 1, objective: 0.9}]"
T0 = 1_790_000_040.0 // 60 * 60
SETTINGS = FlowSettings(recovery=True, shards=1)   # (the routed items below carry one shard clock)


def label(index: int, correct: bool) -> JoinedRecord:
    predicted_at = T0 + index * 6.0
    return JoinedRecord(f"id{index}", "m", "v1", predicted_at, predicted_at + 30, 1, int(correct), 1.0)


def breaching_engine(objective: float = 0.95) -> tuple[SloEngine, str]:
    """An engine with an open alert (two hours at precision 0.7) and that alert's id."""
    engine = SloEngine(parse_slo_yaml(SLO.format(objective=objective)), "p", shards=1, lateness=0.0, step=60.0)
    outputs = []
    for index in range(1200):
        engine.add_joined(label(index, correct=index % 10 < 7))
        outputs += engine.clock("shard-0", T0 + index * 6.0)
    alerts = [o for o in outputs if isinstance(o, AlertEvent)]
    assert alerts and alerts[-1].action != "resolve", "the fixture must leave an alert open"
    return engine, alerts[-1].alert_id


def test_a_redefined_slo_resolves_its_open_alert_and_judges_its_window_by_the_new_definition(
        caplog: pytest.LogCaptureFixture) -> None:
    saved, alert_id = breaching_engine(objective=0.95)
    with caplog.at_level(logging.WARNING, logger="flows.engine_operator"):
        logic = EngineLogic(parse_slo_yaml(SLO.format(objective=0.97)), SETTINGS, saved.snapshot())

    [record] = caplog.records
    assert "SLO 'p' is defined differently" in record.getMessage()
    assert "objective 0.95 -> 0.97" in record.getMessage()
    assert logic.notify_at() is not None

    outputs, discard = logic.on_notify()
    [[resolve]] = outputs
    assert (resolve.action, resolve.alert_id, resolve.key.slo) == ("resolve", alert_id, "p")
    assert "redefined (objective 0.95 -> 0.97)" in resolve.reason
    assert not discard and logic.notify_at() is None

    # The next step judges the labels already counted by the new objective: no empty window to
    # fill, and the breach, still there, is a new alert of the new definition.
    [outputs], _ = logic.on_batch([[(CLOCK_ITEM, "p", "shard-0", T0 + 1260 * 6.0)]])
    status = [o for o in outputs if isinstance(o, StatusSnapshot)][-1]
    assert status.objective == 0.97 and status.labels > 300 and status.state == "breached"
    later = []
    for index in range(1261, 1400):   # no labels since: the window still holds the breach
        batches, _ = logic.on_batch([[(CLOCK_ITEM, "p", "shard-0", T0 + index * 6.0)]])
        later += [output for batch in batches for output in batch]
    triggers = [o for o in outputs + later if isinstance(o, AlertEvent) and o.action == "trigger"]
    assert triggers and triggers[0].alert_id != alert_id and triggers[0].objective == 0.97


def test_what_is_no_longer_counted_the_same_way_starts_afresh() -> None:
    saved, _ = breaching_engine()
    recall = SLO.format(objective=0.95).replace("metric: precision", "metric: recall")
    logic = EngineLogic(parse_slo_yaml(recall), SETTINGS, saved.snapshot())
    assert logic.engine is not None and logic.engine.trackers == {}   # keys come again with new labels


def test_items_before_the_notification_follow_the_resolve_and_meet_the_new_definition() -> None:
    saved, alert_id = breaching_engine(objective=0.95)
    logic = EngineLogic(parse_slo_yaml(SLO.format(objective=0.97)), SETTINGS, saved.snapshot())

    [outputs], discard = logic.on_batch([[(JOINED_ITEM, "p", label(5000, correct=True)),
                                          (CLOCK_ITEM, "p", "shard-0", T0 + 5000 * 6.0)]])
    assert (outputs[0].action, outputs[0].alert_id) == ("resolve", alert_id)
    assert all(o.objective == 0.97 for o in outputs[1:])
    assert not discard and logic.engine is not None and logic.engine.spec.objective == 0.97
    assert logic.on_notify() == ([], False)   # resolved once only


def test_a_removed_slo_resolves_its_open_alert_and_drops_its_state(caplog: pytest.LogCaptureFixture) -> None:
    saved, alert_id = breaching_engine()
    with caplog.at_level(logging.WARNING, logger="flows.engine_operator"):
        logic = EngineLogic(parse_slo_yaml(OTHER_SLO), SETTINGS, saved.snapshot())

    assert "SLO 'p' was removed from the SLO file" in caplog.records[0].getMessage()
    [[resolve]], discard = logic.on_notify()
    assert (resolve.action, resolve.alert_id) == ("resolve", alert_id)
    assert resolve.reason == "SLO 'p' was removed from the SLO file"
    assert discard


def test_the_saved_state_is_kept_until_the_resolves_are_out() -> None:
    """A crash before the notification restores the old engine again, and it is retired then."""
    saved, alert_id = breaching_engine()
    logic = EngineLogic(parse_slo_yaml(OTHER_SLO), SETTINGS, saved.snapshot())
    still_saved = SloEngine.restore(logic.snapshot())
    assert [event.alert_id for event in still_saved.retire("test")] == [alert_id]


def test_a_replay_that_ends_first_still_resolves() -> None:
    saved, alert_id = breaching_engine()
    logic = EngineLogic(parse_slo_yaml(OTHER_SLO), SETTINGS, saved.snapshot())
    [[resolve]], discard = logic.on_eof()
    assert resolve.alert_id == alert_id and discard and logic.on_notify() == ([], True)


def test_an_unchanged_slo_restores_silently(caplog: pytest.LogCaptureFixture) -> None:
    saved, _ = breaching_engine(objective=0.95)
    with caplog.at_level(logging.WARNING, logger="flows.engine_operator"):
        logic = EngineLogic(parse_slo_yaml(SLO.format(objective=0.95)), SETTINGS, saved.snapshot())

    assert caplog.records == []
    assert logic.engine is not None and logic.notify_at() is None


def test_a_retired_drift_warning_resolves() -> None:
    spec = parse_slo_yaml("slos: [{name: p, model_id: m, metric: precision, positive_label: 1, objective: 0.95,"
                          " drift: {}}]").slos[0]
    alerts = DriftAlerts(spec)
    [trigger] = alerts.update(DriftSnapshot(T0, "warning", "score drifted", {}, {}), "v3")
    [resolve] = alerts.retire("SLO 'p' was removed from the SLO file", T0 + 600, "v3")
    assert (resolve.action, resolve.alert_id, resolve.dedup_key) == ("resolve", trigger.alert_id, "p/m#drift")
    assert resolve.reason == "Drift warning on m over: SLO 'p' was removed from the SLO file"
    assert resolve.event_time == T0 + 600 and alerts.retire("again", T0 + 900, "v3") == []


def test_a_new_remediation_is_taken_over_with_the_windows_and_the_open_alert(
        caplog: pytest.LogCaptureFixture) -> None:
    """Only what is done about alerts changed: nothing evaluated changes, so nothing restarts."""
    saved, alert_id = breaching_engine(objective=0.95)
    edited = SLO.format(objective=0.95).replace(
        "min_labels: 30", "min_labels: 30, remediation: {critical: [rollback, diagnostic_report]}")
    with caplog.at_level(logging.INFO, logger="flows.engine_operator"):
        logic = EngineLogic(parse_slo_yaml(edited), SETTINGS, saved.snapshot())

    assert logic.notify_at() is None and logic.engine is not None
    assert "the new remediation taken over" in caplog.records[0].getMessage()
    assert all(tracker.spec.remediation == {"critical": ("rollback", "diagnostic_report")}
               for tracker in logic.engine.trackers.values())
    assert saved.sketch is None and logic.engine.sketch is not None   # diagnostics from now on
    [whole_model] = logic.engine.trackers.values()
    assert whole_model.policy.episode is not None and whole_model.policy.episode.alert_id == alert_id
    assert [event.alert_id for event in logic.engine.retire("test")] == [alert_id]


def test_the_drift_monitor_goes_on_while_its_settings_stay() -> None:
    drift = ("slos: [{{name: p, model_id: m, metric: precision, positive_label: 1, objective: {objective},"
             " drift: {{window: {window}}}}}]")
    engine = SloEngine(parse_slo_yaml(drift.format(objective=0.95, window="24h")), "p", shards=1, lateness=0.0,
                       step=60.0)
    new_objective = parse_slo_yaml(drift.format(objective=0.97, window="24h"))
    assert engine.redefined(new_objective, new_objective.slos[0]).drift is engine.drift
    new_window = parse_slo_yaml(drift.format(objective=0.95, window="12h"))
    fresh = engine.redefined(new_window, new_window.slos[0]).drift
    assert fresh is not None and fresh is not engine.drift


def test_with_bytewax_a_removed_slo_is_resolved_at_the_restart_and_then_forgotten(tmp_path) -> None:
    """Bytewax builds the restored logic at start even though no item comes for it, calls
    `on_notify`, and drops the state of a discarded logic from the recovery store."""
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.recovery import RecoveryConfig, init_db_dir
    from bytewax.testing import TestingSink, TestingSource, run_main

    init_db_dir(tmp_path, 1)
    items = []
    for index in range(1200):   # the breach of `breaching_engine`, as routed items of SLO "p"
        items.append(("p", [(JOINED_ITEM, "p", label(index, correct=index % 10 < 7)),
                            (CLOCK_ITEM, "p", "shard-0", T0 + index * 6.0)]))

    def run(slo_text: str) -> list:
        flow = Dataflow("engine-resume")
        routed = op.input("in", flow, TestingSource(items))
        engine = op.stateful_batch("engine", routed, lambda resume: EngineLogic(parse_slo_yaml(slo_text),
                                                                                 SETTINGS, resume))
        outputs: list = []
        op.output("out", engine, TestingSink(outputs))
        run_main(flow, epoch_interval=timedelta(seconds=0), recovery_config=RecoveryConfig(tmp_path))
        return [event for _, batch in outputs for event in batch if isinstance(event, AlertEvent)]

    first = run(SLO.format(objective=0.95))
    open_ids = {a.alert_id for a in first} - {a.alert_id for a in first if a.action == "resolve"}
    assert open_ids
    resolves = run(OTHER_SLO)   # "p" removed; the input has nothing new
    assert {(a.alert_id, a.action) for a in resolves} == {(alert_id, "resolve") for alert_id in open_ids}
    assert run(OTHER_SLO) == []   # its state is gone: nothing to resolve again


def test_holding_segment_alerts_or_not_is_taken_over_with_the_windows_and_the_open_alert(
        caplog: pytest.LogCaptureFixture) -> None:
    """`alerting.hold_segment_alerts` decides only whether a segment's alert opens: not evaluation."""
    saved, alert_id = breaching_engine(objective=0.95)
    edited = SLO.format(objective=0.95).replace("min_labels: 30", "min_labels: 30, alerting: {hold_segment_alerts: false}")
    with caplog.at_level(logging.INFO, logger="flows.engine_operator"):
        logic = EngineLogic(parse_slo_yaml(edited), SETTINGS, saved.snapshot())

    assert logic.notify_at() is None and logic.engine is not None
    assert "the new alerting.hold_segment_alerts taken over (alerting.hold_segment_alerts True -> False)" in (
        caplog.records[0].getMessage())
    assert logic.engine.spec.alerting.hold_segment_alerts is False
    [whole_model] = logic.engine.trackers.values()
    assert whole_model.policy.episode is not None and whole_model.policy.episode.alert_id == alert_id


def test_burn_rates_given_as_none_are_a_new_definition_though_pydantic_calls_the_specs_equal(
        caplog: pytest.LogCaptureFixture) -> None:
    """Omitted `burn_rates` are the defaults, `burn_rates: null` none: other alert rules."""
    saved, alert_id = breaching_engine(objective=0.95)
    edited = parse_slo_yaml(SLO.format(objective=0.95).replace("min_labels: 30",
                                                               "min_labels: 30, alerting: {burn_rates: null}"))
    assert edited.slos[0] == saved.spec   # (why `_changes` compares dumps)
    with caplog.at_level(logging.WARNING, logger="flows.engine_operator"):
        logic = EngineLogic(edited, SETTINGS, saved.snapshot())

    assert "alerting.default_burn_rates True -> False" in caplog.records[0].getMessage()
    [[resolve]], _ = logic.on_notify()
    assert (resolve.action, resolve.alert_id) == ("resolve", alert_id)
    assert logic.engine is not None and not logic.engine.spec.alerting.default_burn_rates
