"""Settings of the running monitor: where Kafka is, which topics, how long the join waits.

Defaults follow CONTRACT.md; every name can be changed. Values come from the command line and
the environment, never from a hidden file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from flows.join_state import JoinSettings

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


@dataclass(frozen=True)
class Topics:
    predictions: str = "predictions"
    labels: str = "labels"
    joined: str = "joined-labels"
    status: str = "slo-status"
    alerts: str = "slo-alerts"
    diagnostics: str = "slo-diagnostics"   # key alert_id: the data of its diagnostic report

    @staticmethod
    def dead_letter(topic: str) -> str:
        """The CONTRACT's `<input topic>.dlq`."""
        return f"{topic}.dlq"

    def inputs(self) -> tuple[str, str]:
        return (self.predictions, self.labels)

    def join_outputs(self) -> list[str]:
        """Topics the join flow writes: the joined records and each input's dead letters."""
        return [self.joined, self.dead_letter(self.predictions), self.dead_letter(self.labels)]

    def monitor_outputs(self) -> list[str]:
        """Topics the monitor flow writes."""
        return [*self.join_outputs(), self.status, self.alerts, self.diagnostics]


@dataclass(frozen=True)
class FlowSettings:
    bootstrap_servers: str = field(
        default_factory=lambda: os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)
    )
    topics: Topics = field(default_factory=Topics)
    join: JoinSettings = field(default_factory=JoinSettings)
    shards: int = 16                 # join shards; fixed for the life of a recovery store
    partitions: int = 4              # partitions of topics that `run` creates
    tail: bool = True                # False: stop at the end of the input topics (replays, tests)
    report_pending_at_end: bool = False
    write_joined: bool = True        # also write joined records to `topics.joined`
    watermark_step: float = 1.0      # broadcast input progress at most once per this much event time
    evaluation_step: float = 60.0    # the SLO engine evaluates once per this much event time
    allowed_lateness: float = 120.0  # how far out of order events may be within a partition
    batch_size: int = 1000
    kafka_config: dict[str, str] = field(default_factory=dict)  # passed to every client (SASL, TLS)
    # Whether a recovery store keeps the snapshots. Bytewax asks every stateful step for a
    # snapshot each epoch even without one; without it the big states (join, engine) answer
    # None instead of pickling themselves for nothing.
    recovery: bool = False
    # This process's index in its cluster, and the cluster's size: each output record is written
    # by the process that made it (flows.kafka_sink).
    process_id: int = 0
    processes: int = 1

    def brokers(self) -> list[str]:
        return [host.strip() for host in self.bootstrap_servers.split(",") if host.strip()]
