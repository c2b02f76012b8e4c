"""`slo-monitor demo`: the main job end to end on this machine, in about a minute.

1. A local PagerDuty (Events API v2 receiver on loopback) and fresh demo topics on the broker.
2. Simulated fraud-model traffic: version v1 is healthy; at +4h version v2 takes all traffic and
   its precision is 0.80; at +7h v2 is rolled back. Labels arrive within two minutes.
3. The monitor reads it all (fast-forwarded event time): join, SLO engine, alerts; its
   responder pages the local PagerDuty.
4. A summary: what was paged, when, and what became of every input record.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from bytewax.outputs import DynamicSink, StatelessSinkPartition

EXAMPLE_SLOS = Path(__file__).resolve().parent.parent / "examples" / "slos.yaml"
DEMO_ROUTING_KEY = "DEM0R0UT1NGKEY000000000000000000"  # 32 characters, like an integration key
JUNK_PREDICTIONS = [
    b"{truncated",
    b'{"prediction_id": "junk-1", "model_id": "fraud-detector", "timestamp": "soon", "predicted_label": 1}',
]


class _CollectingPartition(StatelessSinkPartition):
    def __init__(self, sink: CollectingSink) -> None:
        self.sink = sink

    def write_batch(self, items) -> None:
        self.sink.items.extend(items)


class CollectingSink(DynamicSink):
    """Keeps what a stream produced, for the summary."""

    def __init__(self) -> None:
        self.items: list = []

    def build(self, step_id, worker_index, worker_count):
        return _CollectingPartition(self)


def run_demo(args: argparse.Namespace) -> int:
    from bytewax.testing import run_main
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient

    from flows.monitor_flow import build_monitor_flow
    from flows.settings import FlowSettings, Topics
    from flows.topics import ensure_topics
    from remediation.receiver import LocalEventsApi
    from remediation.responder import start_responder
    from remediation.responder_cli import settings_from_slo_file
    from slo.spec import load_slo_file
    from slo_monitor.cli import build_parser

    bootstrap = args.bootstrap_servers
    try:
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=5)
    except Exception as error:  # noqa: BLE001 - any failure here means "no broker"
        print(f"demo: no Kafka at {bootstrap} ({error}); start one with `make kafka-up`", file=sys.stderr)
        return 3
    slo_file = load_slo_file(EXAMPLE_SLOS)
    spec = slo_file.slos[0]
    print(f"demo: {EXAMPLE_SLOS.name}: {spec.name}: {spec.metric} of {spec.model_id!r} >= {spec.objective} "
          f"over any rolling {spec.window // 3600}h window")

    stem = f"demo-{int(time.time())}"
    topics = Topics(**{name: f"{stem}-{name}" for name in Topics().__dict__})
    ensure_topics({"bootstrap.servers": bootstrap}, [*topics.inputs(), *topics.monitor_outputs()], partitions=4)
    simulate = build_parser().parse_args(
        ["simulate", "--scenario", "bad_version", "--hours", f"{args.hours:g}", "--change-at", "4h",
         "--rollout-share", "1", "--recover-at", "7h", "--rate", "6000", "--flagged-rate", "0.1",
         "--review-probability-unflagged", "0.02", "--label-delay", "40s", "--max-label-delay", "2m",
         "--model-id", spec.model_id, "--bootstrap-servers", bootstrap, "--partitions", "4",
         "--predictions-topic", topics.predictions, "--labels-topic", topics.labels]
    )
    if simulate.handler(simulate) != 0:
        return 1
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for junk in JUNK_PREDICTIONS:
        producer.produce(topics.predictions, junk, b"junk")
    producer.flush(30)

    with LocalEventsApi() as pagerduty:
        environ = {**pagerduty.env(), "PAGERDUTY_ROUTING_KEY": DEMO_ROUTING_KEY}
        responder = start_responder(
            settings_from_slo_file(slo_file, bootstrap, environ=environ, alerts_topic=topics.alerts,
                                   actions_topic=f"{stem}-remediation-actions"),
            environ=environ,
        )
        settings = FlowSettings(bootstrap_servers=bootstrap, topics=topics, tail=False, shards=4,
                                report_pending_at_end=True)
        outcomes, results = CollectingSink(), CollectingSink()
        print(f"\ndemo: monitoring {topics.predictions!r} and {topics.labels!r} ...")
        started = time.monotonic()
        run_main(build_monitor_flow(settings, slo_file, outcome_sink=outcomes, engine_sink=results))
        seconds = time.monotonic() - started
        _wait_for_pages(pagerduty, results.items)
        responder.stop()
        incidents = pagerduty.incidents()
    _print_summary(results.items, outcomes.items, incidents, seconds, topics)
    return 0


def _wait_for_pages(pagerduty, results: list, timeout: float = 30.0) -> None:
    """Until the receiver has had no new request for 3 seconds (the responder has drained)."""
    expected_some = any(getattr(item, "action", None) for item in results)
    deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(pagerduty.requests())
        if count != last:
            last, since = count, time.monotonic()
        if time.monotonic() - since > 3 and (count or not expected_some):
            return
        time.sleep(0.2)


def _print_summary(results: list, outcomes: list, incidents: list, seconds: float, topics) -> None:
    from flows.join_state import RECORD_OUTCOMES
    from slo.snapshots import AlertEvent, StatusSnapshot
    from schemas.timestamps import format_event_time as rfc3339

    statuses = [r for r in results if isinstance(r, StatusSnapshot) and r.key.segment is None]
    alerts = [r for r in results if isinstance(r, AlertEvent)]
    print(f"\nthe monitor read the topics in {seconds:.1f} s and evaluated {len(statuses)} minutes of event time")
    print("\nwhole-model SLO, hour by hour (event time):")
    for status in statuses[::60]:
        estimate = "   -  " if status.estimate is None else f"{status.estimate:.3f}"
        bounds = "" if status.lower is None else f" [{status.lower:.3f}, {status.upper:.3f}]"
        print(f"  {rfc3339(status.event_time)}  {estimate}{bounds:<17} labels {status.labels:>4}  "
              f"{status.state:<17} version {status.model_version}")
    print("\nalerts written to slo-alerts:")
    for alert in alerts:
        print(f"  {rfc3339(alert.event_time)}  {alert.action:<8} {alert.severity:<8} {alert.key.dedup_key}: {alert.reason}")
    print("\nPagerDuty (local receiver):")
    for incident in incidents:
        print(f"  incident #{incident.number} {incident.dedup_key}: {incident.status}, severity "
              f"{incident.severity}, events {' -> '.join(incident.actions)}")
    if not incidents:
        print("  no incident")
    counts = Counter(outcome.kind for outcome in outcomes if outcome.kind in RECORD_OUTCOMES)
    print("\nwhat became of the input records: " + ", ".join(f"{kind} {count}" for kind, count in counts.most_common()))
    print(f"dead letters are on {topics.predictions + '.dlq'!r} with their reasons")
