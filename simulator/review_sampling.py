"""Obey raised review sampling (issue 7): apply a `review-sampling` record to a generator.

The remediation playbooks (CONTRACT.md: "the responder") publish `{"model_id", "rate",
"expires_at", "reason"}` keyed by model_id on the compacted `review-sampling` topic; a tombstone
(no value) ends it. Whoever consumes that topic calls `apply_review_sampling` between events.
`expires_at` is compared with the predictions' event time (RFC 3339 or epoch seconds; null =
until replaced), matching the monitor's use of event time everywhere. No Kafka here.
"""

from __future__ import annotations

from typing import Mapping

from simulator.durations import parse_time
from simulator.streams import TrafficGenerator


def apply_review_sampling(generator: TrafficGenerator, record: Mapping | None,
                          model_id: str | None = None) -> None:
    """Raise (or, for a tombstone, clear) the review rate of the record's model.

    `model_id` is the message key, needed for tombstones; otherwise the record's own is used.
    """
    if record is None:
        if model_id is None:
            raise ValueError("a tombstone needs the model_id from the message key")
        generator.clear_review_rate(model_id)
        return
    target = record.get("model_id") or model_id
    if not target:
        raise ValueError("review-sampling record without model_id")
    expires = record.get("expires_at")
    generator.set_review_rate(target, float(record["rate"]),
                              None if expires is None else parse_time(expires))
