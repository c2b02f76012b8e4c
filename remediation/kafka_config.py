"""Kafka client settings of the responder and the executor (the monitor's are flows/kafka_clients.py).

The responder is a consumer-group member that commits by hand (only after PagerDuty accepted
or definitively rejected an event), starts from the earliest offset when its group has none
(librdkafka's default `latest` would skip alerts written before its first start), and writes
audit records with an idempotent producer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import flows.topics


def consumer_config(bootstrap: str, group_id: str, extra: Mapping[str, str] | None = None,
                    instance_id: str | None = None) -> dict[str, str]:
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
        # One partition's records are decided in order; a slow PagerDuty must not make the
        # group think we died: the loop polls at least every second even while it waits.
        "max.poll.interval.ms": "300000",
    }
    if instance_id:
        # Static membership: a restarted responder takes its partitions back at once instead
        # of waiting for the session of its previous incarnation to time out.
        config["group.instance.id"] = instance_id
    config.update(extra or {})
    return config


def history_config(bootstrap: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A group-less reader for replaying committed history (never commits)."""
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": "slo-monitor-responder-history",   # required by the client; never used
        "enable.auto.commit": "false",
        "auto.offset.reset": "earliest",
    }
    config.update({k: v for k, v in (extra or {}).items() if not k.startswith(("group.", "session."))})
    return config


def producer_config(bootstrap: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    config = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": "true",
        "acks": "all",
        "linger.ms": "5",
        # Retry each record until it is delivered, however long the broker is away: offset commits
        # wait for these records (remediation/json_producer.py), so waiting loses nothing, and
        # librdkafka's default (give up after 5 minutes) would lose a rollback command.
        "message.timeout.ms": "0",
    }
    config.update({k: v for k, v in (extra or {}).items()
                   if not k.startswith(("group.", "session.", "auto.", "enable.auto", "max.poll"))})
    return config


def admin_config(bootstrap: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Settings of a short-lived admin client: the address and the security settings only."""
    config = {"bootstrap.servers": bootstrap}
    config.update({k: v for k, v in (extra or {}).items() if k.startswith(("security.", "sasl.", "ssl."))})
    return config


def ensure_topics(bootstrap: str, names: Iterable[str], partitions: int = 1,
                  extra: Mapping[str, str] | None = None) -> list[str]:
    """Create the missing topics; return those created. Existing topics are left as they are."""
    return flows.topics.ensure_topics(admin_config(bootstrap, extra), list(names), partitions)
