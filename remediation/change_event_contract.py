"""PagerDuty change events (``POST /v2/change/enqueue``): the documented request contract, as a
checker for the local receiver (remediation/receiver.py), written from PagerDuty's "Send Change
Events" page independently of the code that builds them (remediation/change_events.py).

A change event has a routing key, a payload with a summary (at most 1024 characters), an
optional source, timestamp (ISO 8601) and custom_details object, and optional links. It has no
dedup_key and no severity.

>>> validate_change_event({"routing_key": "k" * 32, "payload": {"summary": "deployed v4"}})
[]
>>> validate_change_event({"routing_key": "short", "payload": {"summary": ""}})
["Length of 'routing_key' is incorrect (should be 32 characters)", "'payload.summary' is missing or empty"]
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from remediation.events_contract import ROUTING_KEY_LENGTH

MAX_SUMMARY = 1024


def validate_change_event(event: Any) -> list[str]:
    """Every reason PagerDuty would answer 400 to this (decoded) change event; [] when valid."""
    if not isinstance(event, dict):
        return ["Event object is not a JSON object"]
    errors: list[str] = []
    key = event.get("routing_key")
    if not isinstance(key, str) or not key:
        errors.append("'routing_key' is missing or not a string")
    elif len(key) != ROUTING_KEY_LENGTH:
        errors.append(f"Length of 'routing_key' is incorrect (should be {ROUTING_KEY_LENGTH} characters)")
    payload = event.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' is required and must be an object")
    else:
        summary = payload.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors.append("'payload.summary' is missing or empty")
        elif len(summary) > MAX_SUMMARY:
            errors.append(f"'payload.summary' is longer than {MAX_SUMMARY} characters")
        if "source" in payload and not isinstance(payload["source"], str):
            errors.append("'payload.source' must be a string")
        timestamp = payload.get("timestamp")
        if timestamp is not None:
            try:
                datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
            except ValueError:
                errors.append("'payload.timestamp' is not an ISO 8601 date-time")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            errors.append("'payload.custom_details' must be an object")
    links = event.get("links")
    if links is not None and (not isinstance(links, list) or not all(
            isinstance(link, dict) and isinstance(link.get("href"), str) for link in links)):
        errors.append("'links' must be a list of objects with 'href'")
    return errors
