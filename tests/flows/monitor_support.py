"""Shared set-up for monitor-flow tests: simulated traffic on the broker, a monitor run."""

from __future__ import annotations

from dataclasses import replace

from bytewax.testing import TestingSink, run_main

from flows.monitor_flow import build_monitor_flow
from flows.settings import FlowSettings, Topics
from flows.topics import ensure_topics
from simulator.kafka_writer import KafkaWriter
from simulator.model import Behaviour
from simulator.runner import run_simulation
from simulator.scenarios import Scenario
from simulator.streams import TrafficGenerator
from slo.snapshots import AlertEvent, StatusSnapshot
from slo.spec import SloFile, parse_slo_yaml
from tests.kafka_support import unique_topic

START = 1_736_121_600.0  # 2025-01-06T00:00:00Z, the simulator's replay start
HOUR = 3600.0

FRAUD_SLO = """
slos:
  - name: fraud-precision
    model_id: fraud-detector
    metric: precision
    positive_label: 1
    objective: 0.95
    window: 1h
    min_labels: 30
    segments: [country]
"""

# ~600 flagged (labelled) predictions an hour: 6,000 predictions, 10% flagged, all reviewed.
FAST_LABELS = Behaviour(flagged_rate=0.1, review_probability_flagged=1.0, review_probability_unflagged=0.02,
                        label_delay_median=40.0, label_delay_sigma=0.5, label_delay_max=120.0)


def monitor_topics() -> Topics:
    stem = unique_topic("mon")
    return Topics(predictions=f"{stem}-p", labels=f"{stem}-l", joined=f"{stem}-j",
                  status=f"{stem}-status", alerts=f"{stem}-alerts", diagnostics=f"{stem}-diag")


def write_traffic(bootstrap: str, topics: Topics, scenario: Scenario, hours: float,
                  rate: float = 6000, seed: int = 3, partitions: int = 3) -> TrafficGenerator:
    ensure_topics({"bootstrap.servers": bootstrap}, [*topics.inputs(), *topics.monitor_outputs()], partitions)
    generator = TrafficGenerator(scenario, start=START, duration=hours * HOUR, rate_per_hour=rate, seed=seed)
    run_simulation(generator, KafkaWriter(bootstrap, topics.predictions, topics.labels, partitions=partitions))
    return generator


def run_monitor(bootstrap: str, topics: Topics, slo_text: str = FRAUD_SLO, **overrides) -> tuple[list, SloFile]:
    """Run the monitor over everything in the topics; return the engine's outputs."""
    slo_file = parse_slo_yaml(slo_text)
    settings = replace(FlowSettings(bootstrap_servers=bootstrap, topics=topics, tail=False, shards=4), **overrides)
    outputs: list = []
    run_main(build_monitor_flow(settings, slo_file, engine_sink=TestingSink(outputs)))
    return outputs, slo_file


def alerts_of(outputs: list, segment: str | None = None) -> list[AlertEvent]:
    return [o for o in outputs if isinstance(o, AlertEvent) and o.key.segment == segment]


def statuses_of(outputs: list, segment: str | None = None) -> list[StatusSnapshot]:
    return [o for o in outputs if isinstance(o, StatusSnapshot) and o.key.segment == segment]
