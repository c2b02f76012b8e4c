"""PagerDuty change events ("champion of fraud-detector rolled back from 5 to 4"), so the rollback
shows on the service's timeline next to the incident that caused it.

Sent with the same client, retry caps, routing keys and error classification as pages
(`remediation.delivery.PagerDutySender`), through ``EventsApiV2Client.send_change_event``
(``POST /v2/change/enqueue``). Change events have no dedup key and no severity. They are a
notification: a failure is reported in the action's audit record, the rollback stands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pagerduty

from remediation.delivery import DeliveryResult, Outcome, PagerDutySender

MAX_SUMMARY = 1024


class ChangeEventSender(PagerDutySender):
    """`PagerDutySender` that also sends change events."""

    def target_for(self, slo: str, severity: str) -> str:
        """Where a change event about this SLO goes: the service its pages go to."""
        return self._keys.target_for(slo, severity)

    def send_change(self, target: str, summary: str, custom_details: dict[str, Any],
                    links: list[dict[str, str]] | None = None, timestamp: datetime | None = None) -> DeliveryResult:
        key = self._keys.key(target)
        if key is None:
            return DeliveryResult(Outcome.LOGGED, None, f"no routing key configured for {target}")
        payload = {
            "summary": summary if len(summary) <= MAX_SUMMARY else summary[: MAX_SUMMARY - 3] + "...",
            "source": "slo-monitor executor",
            "timestamp": (timestamp or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
            "custom_details": custom_details,
        }
        try:
            self._client(key).send_change_event(payload=payload, links=links or [])
        except pagerduty.HttpError as error:
            return self._http_error(error)
        except pagerduty.Error as error:
            cause = error.__cause__ or error
            return DeliveryResult(Outcome.RETRY, None, self._clean(f"network error: {type(cause).__name__}: {cause}"))
        except Exception as error:  # noqa: BLE001 - a notification failure is reported, never raised
            return DeliveryResult(Outcome.RETRY, None, self._clean(f"{type(error).__name__}: {error}"))
        return DeliveryResult(Outcome.ACCEPTED, 202, "accepted")


def describe(result: DeliveryResult) -> str:
    """The result in a few words for audit records: ``accepted``, ``logged: ...``, ``failed: ...``."""
    if result.outcome is Outcome.ACCEPTED:
        return "accepted"
    if result.outcome is Outcome.LOGGED:
        return f"logged: {result.detail}"
    return f"failed: {result.detail}"
