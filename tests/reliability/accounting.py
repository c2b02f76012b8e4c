"""Accounting checks shared by the fault tests: after a fault, every input record is counted
exactly where an uninterrupted replay of the same topics counts it, every bad record is in the
dead-letter topic once, and every alert was decided (and, if sent, accepted) exactly once.
"""

from __future__ import annotations

import orjson
from confluent_kafka import KafkaException

from flows.settings import Topics
from tests.flows.cli_monitor import alert_sequence, alerts, last_status_per_key
from tests.kafka_support import read_all

# Records no decoder accepts, each for a different reason (all land in `<topic>.dlq`).
JUNK = [
    b"not json at all",
    b"\xff\xfe\x00 invalid utf-8",
    b'{"prediction_id": 7}',
    b'{"prediction_id": "x", "model_id": "fraud-detector", "timestamp": "yesterday", "predicted_label": 1}',
    b"[1, 2, 3]",
    b'{"prediction_id": "n", "model_id": "fraud-detector", "timestamp": 1736121600, "predicted_label": 1, "score": NaN}',
    b"",
]


def junk_records(tag: str, copies: int) -> list[tuple[bytes, bytes]]:
    return [(f"junk-{tag}-{i}".encode(), JUNK[i % len(JUNK)]) for i in range(copies)]


def assert_dead_letters_once(bootstrap: str, topic: str, sent: list[tuple[bytes, bytes]]) -> None:
    """Every junk record sent to `topic` is in `topic.dlq` exactly once, with a reason."""
    letters = [(key, orjson.loads(value)) for key, value in read_all(bootstrap, Topics().dead_letter(topic))]
    keys = sorted(key for key, _ in letters)
    assert keys == sorted(key for key, _ in sent), "dead letters lost or written twice"
    assert all(letter["error"] for _, letter in letters)


def assert_counted_like_reference(bootstrap: str, outputs: Topics, reference: Topics) -> None:
    """Same windows (labels counted, estimates, states) and same alerts as an uninterrupted run,
    and no alert written twice."""
    assert last_status_per_key(bootstrap, outputs.status) == last_status_per_key(bootstrap, reference.status)
    written = alerts(bootstrap, outputs.alerts)
    assert alert_sequence(written) == alert_sequence(alerts(bootstrap, reference.alerts))
    identities = [(a["alert_id"], a["action"], a["severity"]) for a in written]
    assert len(identities) == len(set(identities)), "an alert was written twice"


def undecided_alerts(bootstrap: str, alerts_topic: str, actions_topic: str) -> set[tuple[str, str]]:
    """(alert_id, action) of the alerts written that have no paging decision in the audit yet."""
    written = {(a["alert_id"], a["action"]) for a in alerts(bootstrap, alerts_topic)}
    try:
        decisions = [orjson.loads(value) for _, value in read_all(bootstrap, actions_topic)]
    except KafkaException:  # the responder has not made its audit topic yet
        return written
    return written - {(d.get("alert_id"), d.get("alert_action")) for d in decisions if d.get("action") == "page"}


def assert_paged_once(bootstrap: str, alerts_topic: str, actions_topic: str, accepted: int) -> list[dict]:
    """Each alert of `alerts_topic` has exactly one paging decision in the audit, and PagerDuty
    accepted exactly as many events as were audited as sent. Returns the decisions."""
    written = {(a["alert_id"], a["action"]) for a in alerts(bootstrap, alerts_topic)}
    decisions = [orjson.loads(value) for _, value in read_all(bootstrap, actions_topic)]
    decisions = [d for d in decisions if d.get("action") == "page" and (d.get("alert_id"), d.get("alert_action")) in written]
    decided = [(d["alert_id"], d["alert_action"]) for d in decisions]
    assert len(decided) == len(set(decided)), "an alert was decided (paged) twice"
    assert set(decided) == written, "an alert was never decided"
    assert accepted == sum(d["outcome"] == "sent" for d in decisions)
    return decisions
