"""PagerDuty Events API v2 alert events: the documented request contract, as a checker.

Written from PagerDuty's "Send an Alert Event" page and its OpenAPI document, independently of
the code that builds our events (remediation/pagerduty_event.py), so that the local receiver
rejects what PagerDuty would reject and a bug in the builder shows up as a 400 in tests.

>>> validate_event({"routing_key": "x" * 32, "event_action": "resolve", "dedup_key": "k"})
[]
>>> validate_event({"routing_key": "short", "event_action": "trigger",
...                 "payload": {"summary": "s", "source": "h", "severity": "fatal"}})
["Length of 'routing_key' is incorrect (should be 32 characters)", "'payload.severity' is invalid (must be one of critical, error, warning, info)"]
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# PagerDuty: "payloads are limited to 512 KB"; read as 512,000 bytes, the stricter reading (and
# Alertmanager's, maxEventSize 512000).
MAX_EVENT_BYTES = 512_000
ROUTING_KEY_LENGTH = 32
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
PAYLOAD_SEVERITIES = ("critical", "error", "warning", "info")


def validate_event(event: Any) -> list[str]:
    """Every reason PagerDuty would answer 400 to this (decoded) event; [] when valid.

    Messages name fields, never values: a routing key must not be echoed into logs.
    """
    if not isinstance(event, dict):
        return ["Event object is not a JSON object"]
    errors = routing_key_errors(event)
    action = event.get("event_action")
    if action not in EVENT_ACTIONS:
        errors.append(f"'event_action' is invalid (must be one of {', '.join(EVENT_ACTIONS)})")

    dedup_key = event.get("dedup_key")
    if dedup_key is not None:
        if not isinstance(dedup_key, str) or not dedup_key:
            errors.append("'dedup_key' must be a non-empty string")
        elif len(dedup_key) > MAX_DEDUP_KEY:
            errors.append(f"'dedup_key' is longer than {MAX_DEDUP_KEY} characters")
    elif action in ("acknowledge", "resolve"):
        errors.append(f"'dedup_key' is required for {action} events")

    if action == "trigger":
        errors.extend(_payload_errors(event.get("payload")))
    for name in ("client", "client_url"):
        if name in event and not isinstance(event[name], str):
            errors.append(f"'{name}' must be a string")
    errors.extend(_list_errors(event, "links", required="href"))
    errors.extend(_list_errors(event, "images", required="src"))
    return errors


def _payload_errors(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is required for trigger events and must be an object"]
    errors = summary_errors(payload)
    source = payload.get("source")
    if not isinstance(source, str) or not source.strip():
        errors.append("'payload.source' is missing or empty")
    if payload.get("severity") not in PAYLOAD_SEVERITIES:
        errors.append(f"'payload.severity' is invalid (must be one of {', '.join(PAYLOAD_SEVERITIES)})")
    for name in ("component", "group", "class"):
        if name in payload and not isinstance(payload[name], str):
            errors.append(f"'payload.{name}' must be a string")
    return errors + optional_payload_errors(payload)


# --- checks that alert events and change events share ---------------------------------------------

def routing_key_errors(event: dict[str, Any]) -> list[str]:
    key = event.get("routing_key")
    if not isinstance(key, str) or not key:
        return ["'routing_key' is missing or not a string"]
    if len(key) != ROUTING_KEY_LENGTH:
        return [f"Length of 'routing_key' is incorrect (should be {ROUTING_KEY_LENGTH} characters)"]
    if not (key.isascii() and key.isalnum()):
        return ["'routing_key' cannot contain non-alphanumeric characters."]
    return []


def summary_errors(payload: dict[str, Any]) -> list[str]:
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        return ["'payload.summary' is missing or empty"]
    if len(summary) > MAX_SUMMARY:
        return [f"'payload.summary' is longer than {MAX_SUMMARY} characters"]
    return []


def optional_payload_errors(payload: dict[str, Any]) -> list[str]:
    """The payload's optional timestamp and custom details."""
    errors = []
    timestamp = payload.get("timestamp")
    if timestamp is not None and not _is_iso8601(timestamp):
        errors.append("'payload.timestamp' is not an ISO 8601 date-time")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        errors.append("'payload.custom_details' must be an object")
    return errors


def _list_errors(event: dict[str, Any], name: str, required: str) -> list[str]:
    if name not in event:
        return []
    items = event[name]
    if not isinstance(items, list):
        return [f"'{name}' must be an array"]
    errors = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get(required), str) or not item[required]:
            errors.append(f"'{name}[{i}].{required}' is required")
    return errors


def _is_iso8601(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
