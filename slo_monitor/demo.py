"""`slo-monitor demo`: the main job end to end on this machine, in a few minutes.

1. A local MLflow server (SQLite, loopback) with the demo model `fraud-detector`: version 1 is
   healthy, version 2 is the bad one, and the alias `champion` points to version 2.
2. A local PagerDuty (Events API v2 receiver on loopback), fresh demo topics, the status page.
3. Simulated traffic, live, in event time sped up `--speed` times (360: an hour in ten seconds):
   version 1 serves healthy traffic; at the change time version 2 takes all traffic and its
   precision falls to 0.80. Labels arrive within two minutes. The traffic follows the
   remediation as a serving system and a review tool would: it switches to the version a
   `model-control` record names, and reviews at the rate a `review-sampling` record raises.
4. The monitor follows it (join, SLO engine, alerts) with a live view; the responder pages the
   local PagerDuty; the executor runs the critical playbook (rollback in MLflow, raised review
   sampling, diagnostic report) and audits every action on `remediation-actions`. Once the
   rolled-back version's labels fill the window, the alert resolves and so does the incident.
5. A summary: what was paged (severity, when, resolved), the rollback as MLflow reports it and
   when the traffic followed it, the report (only if the report action wrote one), the status page.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from slo_monitor.local_mlflow import DEMO_CHAMPION

REPO = Path(__file__).resolve().parent.parent
DEMO_SLOS = REPO / "examples" / "slos.yaml"   # the contract's SLO file, segments included
DEMO_REMEDIATION = REPO / "examples" / "demo" / "remediation.yaml"
DEMO_ROUTING_KEY = "DEM0R0UT1NGKEY000000000000000000"  # 32 characters, like an integration key
HEALTHY, BAD = "1", DEMO_CHAMPION                       # registry versions (local_mlflow.DEMO_VERSIONS)
JUNK_PREDICTIONS = [
    b"{truncated",
    b'{"prediction_id": "junk-1", "model_id": "fraud-detector", "timestamp": "soon", "predicted_label": 1}',
]
FINAL_ACTIONS = ("rollback", "raise_review_sampling", "diagnostic_report")
DEMO_START = "2025-01-06T00:00:00Z"                     # event time of the traffic's start


class _CollectingPartition(StatelessSinkPartition):
    def __init__(self, sink: CollectingSink) -> None:
        self.sink = sink

    def write_batch(self, items) -> None:
        self.sink.items.extend(items)


class CollectingSink(DynamicSink):
    """Keeps what a stream produced, for the live view and the summary."""

    def __init__(self) -> None:
        self.items: list = []

    def build(self, step_id, worker_index, worker_count):
        return _CollectingPartition(self)


@dataclass
class Outcome:
    """What the summary reports (also read by tests)."""

    incidents: list = field(default_factory=list)
    change_events: list = field(default_factory=list)
    audit: list[dict] = field(default_factory=list)
    champion_before: str | None = None
    champion_after: str | None = None
    rollback_tag: dict | None = None
    status_url: str = ""


def run_demo(args: argparse.Namespace) -> int:
    from confluent_kafka.admin import AdminClient

    bootstrap = args.bootstrap_servers
    try:
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=5)
    except Exception as error:  # noqa: BLE001 - any failure here means "no broker"
        print(f"demo: no Kafka at {bootstrap} ({error}); start one with `make kafka-up`", file=sys.stderr)
        return 3
    from slo_monitor.local_mlflow import LocalMlflowServer

    if LocalMlflowServer.executable() is None:
        print("demo: no `mlflow` command: `make install` installs the server (dev extra)", file=sys.stderr)
        return 3
    stem = f"demo-{int(time.time())}"
    workdir = (args.workdir / stem).resolve()
    signal.signal(signal.SIGTERM, _interrupt)   # SIGTERM cleans up like Ctrl-C: MLflow is stopped
    try:
        with LocalMlflowServer(workdir / "mlflow") as mlflow:
            return _run_with_registry(args, bootstrap, stem, workdir, mlflow.url)
    except KeyboardInterrupt:
        print("demo: interrupted; MLflow and the local PagerDuty are stopped", file=sys.stderr)
        return 130


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _run_with_registry(args: argparse.Namespace, bootstrap: str, stem: str, workdir: Path, tracking_uri: str) -> int:
    from bytewax.testing import run_main
    from confluent_kafka import Producer

    from flows.kafka_source import request_stop, reset_stop
    from flows.monitor_flow import build_monitor_flow
    from flows.settings import FlowSettings, Topics
    from flows.topics import ensure_topics
    from remediation.executor import start_executor
    from remediation.executor_cli import settings_from_slo_file as executor_settings
    from remediation.playbook_config import load_playbook_config
    from remediation.receiver import LocalEventsApi
    from remediation.responder import start_responder
    from remediation.responder_cli import settings_from_slo_file as responder_settings
    from slo.spec import load_slo_file
    from slo_monitor.cli import build_parser
    from slo_monitor.demo_view import LiveView, count_of
    from slo_monitor.local_mlflow import register_demo_model
    from slo_monitor.status_page import FeedTopics, start_status_page

    slo_file = load_slo_file(DEMO_SLOS)
    spec = slo_file.slos[0]
    print(f"demo: {DEMO_SLOS.relative_to(REPO)}: {spec.name}: {spec.metric} of {spec.model_id!r} >= {spec.objective} "
          f"over any rolling {spec.window // 3600}h window")
    register_demo_model(tracking_uri, spec.model_id)
    outcome = Outcome(champion_before=BAD)
    print(f"demo: MLflow at {tracking_uri}: {spec.model_id} versions {HEALTHY} (healthy) and {BAD} (bad); "
          f"alias champion -> version {BAD}")

    topics = Topics(**{name: f"{stem}-{name}" for name in Topics().__dict__})
    actions_topic, control_topic, sampling_topic = (f"{stem}-remediation-actions", f"{stem}-model-control",
                                                    f"{stem}-review-sampling")
    ensure_topics({"bootstrap.servers": bootstrap}, [*topics.inputs(), *topics.monitor_outputs()], partitions=4)
    change_at = args.change_at if args.change_at is not None else min(4.0, args.hours / 2)
    simulate = build_parser().parse_args(
        ["simulate", "--scenario", "bad_version", "--hours", f"{args.hours:g}", "--change-at", f"{change_at:g}h",
         "--rollout-share", "1", "--rate", "6000", "--flagged-rate", "0.1",
         "--review-probability-unflagged", "0.02", "--label-delay", "40s", "--max-label-delay", "2m",
         "--model-id", spec.model_id, "--model-version", HEALTHY, "--new-version", BAD,
         "--start", DEMO_START, "--speed", f"{args.speed:g}", "--quiet",
         "--bootstrap-servers", bootstrap, "--partitions", "4",
         "--predictions-topic", topics.predictions, "--labels-topic", topics.labels,
         "--follow-model-control", control_topic, "--follow-review-sampling", sampling_topic]
    )
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for junk in JUNK_PREDICTIONS:
        producer.produce(topics.predictions, junk, b"junk")
    producer.flush(30)

    reports_dir = workdir / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    page = start_status_page(bootstrap, FeedTopics(topics.status, topics.alerts, actions_topic),
                             port=args.status_port, reports_dir=reports_dir)
    outcome.status_url = page.url
    print(f"demo: status page at {page.url}")
    with LocalEventsApi() as pagerduty:
        environ = {**os.environ, **pagerduty.env(), "PAGERDUTY_ROUTING_KEY": DEMO_ROUTING_KEY,
                   "MLFLOW_TRACKING_URI": tracking_uri, "SLO_MONITOR_REPORTS_DIR": str(reports_dir)}
        os.environ.update({k: environ[k] for k in ("MLFLOW_TRACKING_URI", "SLO_MONITOR_REPORTS_DIR")})
        responder = start_responder(
            responder_settings(slo_file, bootstrap, environ=environ, alerts_topic=topics.alerts,
                               actions_topic=actions_topic),
            environ=environ,
        )
        executor = start_executor(
            executor_settings(slo_file, bootstrap, load_playbook_config(DEMO_REMEDIATION, slo_file), environ=environ,
                              alerts_topic=topics.alerts, actions_topic=actions_topic,
                              model_control_topic=control_topic, review_sampling_topic=sampling_topic,
                              **_report_settings(reports_dir, page.url, topics)),
            environ=environ,
        )
        settings = FlowSettings(bootstrap_servers=bootstrap, topics=topics, tail=True, shards=4,
                                report_pending_at_end=True)
        outcomes, results = CollectingSink(), CollectingSink()
        start = _scenario_start(simulate)
        view = LiveView(results.items, start, start + args.hours * 3600, count_of(pagerduty.incidents),
                        count_of(lambda: [a for a in page.view.snapshot()["actions"] if a.get("service") == "executor"]))
        for service in (responder, executor):   # subscribed (and the control topics created) first
            service.service.ready.wait(60)
        traffic = TrafficThread(simulate)
        print(f"\ndemo: live traffic, {args.hours:g} h of event time at {args.speed:g}x "
              f"(about {args.hours * 3600 / args.speed:.0f} s); monitoring {topics.predictions!r} and "
              f"{topics.labels!r} ...")
        started = time.monotonic()
        reset_stop()
        view.start()
        traffic.start()
        threading.Thread(target=_stop_when_drained, args=(traffic, results.items), daemon=True).start()
        try:
            run_main(build_monitor_flow(settings, slo_file, outcome_sink=outcomes, engine_sink=results))
            seconds = time.monotonic() - started
            if traffic.exit_code != 0:
                print(f"demo: the traffic simulation failed (exit {traffic.exit_code})", file=sys.stderr)
                return 1
            expects_page = any(getattr(item, "action", None) for item in results.items)
            _wait_for_pages(pagerduty, expects_page)
            outcome.audit = _wait_for_actions(bootstrap, actions_topic, expects_page)
        finally:
            request_stop()   # (an interrupted demo: the traffic thread's monitor side)
            view.stop()
            responder.stop()
            executor.stop()
        outcome.incidents, outcome.change_events = pagerduty.incidents(), pagerduty.changes()
    outcome.champion_after, outcome.rollback_tag = _read_back(tracking_uri, spec.model_id)
    _print_summary(results.items, outcomes.items, outcome, seconds, topics, spec.model_id)
    try:
        while args.stay:
            print("\ndemo: the status page stays up; Ctrl-C to stop")
            time.sleep(365 * 86400)
    except KeyboardInterrupt:
        pass
    finally:
        page.stop()
    return 0


class TrafficThread(threading.Thread):
    """`slo-monitor simulate` (live, following the remediation) next to the monitor."""

    def __init__(self, simulate: argparse.Namespace) -> None:
        super().__init__(name="demo-traffic", daemon=True)
        self.simulate = simulate
        self.exit_code: int | None = None

    def run(self) -> None:
        try:
            self.exit_code = self.simulate.handler(self.simulate)
        finally:
            if self.exit_code is None:
                self.exit_code = 1


def _stop_when_drained(traffic: TrafficThread, results: list, quiet_for: float = 3.0, longest: float = 60.0) -> None:
    """End the monitor's input once the traffic is written and the monitor has had nothing new to
    say for `quiet_for` seconds (it has read to the end), or `longest` seconds after the traffic."""
    from flows.kafka_source import request_stop

    traffic.join()
    deadline, seen, since = time.monotonic() + longest, -1, time.monotonic()
    while time.monotonic() < deadline and traffic.exit_code == 0:
        if len(results) != seen:
            seen, since = len(results), time.monotonic()
        elif time.monotonic() - since > quiet_for:
            break
        time.sleep(0.2)
    request_stop()


def _report_settings(reports_dir: Path, page_url: str, topics) -> dict[str, str]:
    """Where the executor writes diagnostic reports (the status page serves that folder)."""
    return {"reports_dir": str(reports_dir), "report_base_url": page_url.rstrip("/"),
            "diagnostics_topic": topics.diagnostics}


def _scenario_start(simulate: argparse.Namespace) -> float:
    from schemas.timestamps import parse_event_time
    from simulator.cli import DEFAULT_REPLAY_START

    return parse_event_time(simulate.start if simulate.start is not None else DEFAULT_REPLAY_START)


def _wait_for_pages(pagerduty, expected_some: bool, timeout: float = 30.0) -> None:
    """Until the receiver has had no new request for 3 seconds (the responder has drained)."""
    deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(pagerduty.requests())
        if count != last:
            last, since = count, time.monotonic()
        if time.monotonic() - since > 3 and (count or not expected_some):
            return
        time.sleep(0.2)


def _wait_for_actions(bootstrap: str, topic: str, expected_some: bool, timeout: float = 120.0) -> list[dict]:
    """The executor's audit records, once every action of the critical playbook is settled."""
    from remediation.executor_kafka import read_history

    deadline = time.monotonic() + timeout
    while True:
        records = [orjson.loads(value) for _, value in read_history(bootstrap, topic) if value]
        decided = {r.get("action") for r in records if r.get("service") == "executor"}
        if not expected_some or set(FINAL_ACTIONS) <= decided or time.monotonic() > deadline:
            return records
        time.sleep(1)


def _read_back(tracking_uri: str, model: str) -> tuple[str | None, dict | None]:
    """Where `champion` points now, and the rollback tag on that version (MLflow's own answer)."""
    from remediation.model_registry import MlflowRegistry
    from remediation.rollback_target import ROLLBACK_TAG

    registry = MlflowRegistry(tracking_uri)
    target = registry.alias_target(model, "champion")
    tags = {v.version: v.tags for v in registry.versions(model)}
    raw = tags.get(target or "", {}).get(ROLLBACK_TAG)
    return target, (orjson.loads(raw) if raw else None)


def _print_summary(results: list, outcomes: list, outcome: Outcome, seconds: float, topics, model: str) -> None:
    from flows.join_state import RECORD_OUTCOMES
    from schemas.timestamps import format_event_time as rfc3339
    from slo.snapshots import AlertEvent, StatusSnapshot

    statuses = [r for r in results if isinstance(r, StatusSnapshot) and r.key.segment is None]
    alerts = [r for r in results if isinstance(r, AlertEvent)]
    print(f"\n=== summary ===\nthe monitor followed the traffic for {seconds:.1f} s and evaluated "
          f"{len(statuses)} minutes of event time")
    print("\nwhole-model SLO, hour by hour (event time):")
    for status in statuses[::60]:
        estimate = "   -  " if status.estimate is None else f"{status.estimate:.3f}"
        bounds = "" if status.lower is None else f" [{status.lower:.3f}, {status.upper:.3f}]"
        print(f"  {rfc3339(status.event_time)}  {estimate}{bounds:<17} labels {status.labels:>4}  "
              f"{status.state:<17} version {status.model_version}")
    print("\nalerts written to slo-alerts:")
    for alert in alerts:
        print(f"  {rfc3339(alert.event_time)}  {alert.action:<8} {alert.severity:<8} {alert.key.dedup_key}: {alert.reason}")
    print(f"\npaged (local PagerDuty): {len(outcome.incidents)} incident(s)")
    for incident in outcome.incidents:
        print(f"  incident #{incident.number} {incident.dedup_key}: severity {incident.severity}, {incident.status}, "
              f"events {' -> '.join(incident.actions)}, at event time {incident.timestamp or '-'}")
    executor = [r for r in outcome.audit if r.get("service") == "executor"]
    print("\nremediation (audit records on remediation-actions):")
    for record in executor:
        print(f"  {record.get('action')}: {record.get('outcome')} ({record.get('rule')}): {record.get('reason')}")
    if not executor:
        print("  none")
    rollbacks = [r for r in executor if r.get("action") == "rollback" and r.get("outcome") == "done"]
    if rollbacks and outcome.champion_after and outcome.rollback_tag:
        tag = outcome.rollback_tag
        print(f"\nrollback: MLflow says {model}@champion -> version {outcome.champion_after} "
              f"(was {outcome.champion_before}); its tag: from {tag.get('from_version')} to {tag.get('to_version')}, "
              f"state {tag.get('state')}, alert {tag.get('alert_id')}")
        served = _served_again(statuses, alerts, outcome.champion_after)
        if served is not None:
            print(f"  the traffic followed it (model-control): version {outcome.champion_after} serves again from "
                  f"{rfc3339(served)} (event time, as the monitor saw it)")
    else:
        print(f"\nrollback: none; MLflow says {model}@champion -> version {outcome.champion_after}")
    for change in outcome.change_events:
        print(f"  PagerDuty change event: {getattr(change, 'summary', change)}")
    reports = [r for r in executor if r.get("action") == "diagnostic_report"]
    written = [r for r in reports if r.get("outcome") == "done" and (r.get("details") or {}).get("report_path")]
    if written:
        print(f"\nreport: {written[0]['details']['report_path']}")
    elif reports:
        print(f"\nreport: none was written ({reports[0].get('outcome')}, {reports[0].get('rule')}: "
              f"{reports[0].get('reason')})")
    else:
        print("\nreport: none was written (no diagnostic_report action was decided)")
    counts = Counter(o.kind for o in outcomes if o.kind in RECORD_OUTCOMES)
    print("\nwhat became of the input records: " + ", ".join(f"{kind} {count}" for kind, count in counts.most_common()))
    print(f"dead letters are on {topics.predictions + '.dlq'!r} with their reasons")
    print(f"\nstatus page: {outcome.status_url} (up while the demo runs; `slo-monitor demo --stay` keeps it up)")


def _served_again(statuses: list, alerts: list, version: str | None) -> float | None:
    """Event time of the first whole-model status after the first trigger whose latest served
    version is `version` (the rollback's target), if any."""
    triggered = next((alert.event_time for alert in alerts if alert.action == "trigger"), None)
    if triggered is None or version is None:
        return None
    return next((status.event_time for status in statuses
                 if status.event_time > triggered and status.model_version == version), None)
