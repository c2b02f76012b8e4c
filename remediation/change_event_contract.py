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

from typing import Any

from remediation.events_contract import optional_payload_errors, routing_key_errors, summary_errors


def validate_change_event(event: Any) -> list[str]:
    """Every reason PagerDuty would answer 400 to this (decoded) change event; [] when valid."""
    if not isinstance(event, dict):
        return ["Event object is not a JSON object"]
    errors = routing_key_errors(event)
    payload = event.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' is required and must be an object")
    else:
        errors += summary_errors(payload)
        if "source" in payload and not isinstance(payload["source"], str):
            errors.append("'payload.source' must be a string")
        errors += optional_payload_errors(payload)
    links = event.get("links")
    if links is not None and (not isinstance(links, list) or not all(
            isinstance(link, dict) and isinstance(link.get("href"), str) for link in links)):
        errors.append("'links' must be a list of objects with 'href'")
    return errors
