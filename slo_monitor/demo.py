"""`slo-monitor demo`: the main job end to end on this machine, in about a minute.

Simulated fraud-model traffic (a precision drop half-way) goes to fresh topics on the local
broker with some junk mixed in; the join flow reads it all, and the demo prints what became of
every record: joined, expired, duplicate, dead-lettered or still waiting.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from bytewax.outputs import DynamicSink, StatelessSinkPartition

EXAMPLE_SLOS = Path(__file__).resolve().parent.parent / "examples" / "slos.yaml"
DEMO_MAX_LABEL_DELAY = 2 * 3600.0  # short, so the demo shows predictions expiring
JUNK_PREDICTIONS = [
    b"{truncated",
    b'{"prediction_id": "junk-1", "model_id": "fraud-detector", "timestamp": "soon", "predicted_label": 1}',
    b'{"prediction_id": "junk-2", "model_id": "fraud-detector", "timestamp": 1790000000, "predicted_label": 1, "score": 7}',
]


class _CountingPartition(StatelessSinkPartition):
    def __init__(self, counts: Counter) -> None:
        self.counts = counts

    def write_batch(self, items) -> None:
        self.counts.update(item.kind for item in items)


class CountingSink(DynamicSink):
    """Counts join outcomes by kind, for the summary."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()

    def build(self, step_id, worker_index, worker_count):
        return _CountingPartition(self.counts)


def run_demo(args: argparse.Namespace) -> int:
    from bytewax.testing import run_main
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient
    from prometheus_client import REGISTRY

    from flows.join_flow import build_join_flow
    from flows.join_state import JoinSettings
    from flows.settings import FlowSettings, Topics
    from flows.topics import ensure_topics
    from slo.spec import load_slo_file
    from slo_monitor.cli import build_parser

    bootstrap = args.bootstrap_servers
    try:
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=5)
    except Exception as error:  # noqa: BLE001 - any failure here means "no broker"
        print(f"demo: no Kafka at {bootstrap} ({error}); start one with `make kafka-up`", file=sys.stderr)
        return 3
    slo_file = load_slo_file(EXAMPLE_SLOS)
    model_id = slo_file.slos[0].model_id
    print(f"demo: SLO file {EXAMPLE_SLOS.name} is valid ({len(slo_file.slos)} SLO for {model_id!r})")

    stem = f"demo-{int(time.time())}"
    topics = Topics(predictions=f"{stem}-predictions", labels=f"{stem}-labels", joined=f"{stem}-joined")
    ensure_topics({"bootstrap.servers": bootstrap}, [*topics.inputs(), *topics.join_outputs()], partitions=4)

    simulate = build_parser().parse_args(
        ["simulate", "--scenario", "precision_drop", "--hours", f"{args.hours:g}", "--rate", "3000",
         "--model-id", model_id, "--bootstrap-servers", bootstrap,
         "--predictions-topic", topics.predictions, "--labels-topic", topics.labels]
    )
    if simulate.handler(simulate) != 0:
        return 1
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for junk in JUNK_PREDICTIONS:
        producer.produce(topics.predictions, junk, b"junk")
    producer.flush(30)

    settings = FlowSettings(
        bootstrap_servers=bootstrap,
        topics=topics,
        join=JoinSettings(max_label_delay=DEMO_MAX_LABEL_DELAY),
        tail=False,
        report_pending_at_end=True,
    )
    outcomes = CountingSink()
    started = time.monotonic()
    print(f"\ndemo: joining {topics.labels!r} to {topics.predictions!r} ...")
    run_main(build_join_flow(settings, outcome_sink=outcomes))
    seconds = time.monotonic() - started
    records_in = sum(
        REGISTRY.get_sample_value("slo_monitor_records_in_total", {"topic": t}) or 0 for t in topics.inputs()
    )
    dead = {t: REGISTRY.get_sample_value("slo_monitor_dead_lettered_total", {"topic": t}) or 0 for t in topics.inputs()}
    counts = outcomes.counts
    print(f"\nread {records_in:.0f} records in {seconds:.1f} s ({records_in / seconds:,.0f} records/s)")
    for kind, meaning in [
        ("joined", f"labels matched to their prediction, written to {topics.joined!r}"),
        ("prediction_expired", f"predictions with no label within {DEMO_MAX_LABEL_DELAY / 3600:g}h (not reviewed)"),
        ("prediction_pending", "predictions still waiting for a label at the end of the input"),
        ("label_expired", "labels whose prediction never came"),
        ("label_pending", "labels still waiting for their prediction"),
        ("prediction_duplicate", "repeated prediction ids (first one kept)"),
        ("label_duplicate", "repeated labels (first one kept)"),
    ]:
        print(f"  {counts.get(kind, 0):>8}  {kind:<21} {meaning}")
    for topic, count in dead.items():
        print(f"  {count:>8.0f}  dead-lettered         from {topic!r}, to {topic + '.dlq'!r} with the reason")
    return 0
