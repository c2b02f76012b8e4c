"""Telling serving systems about a rollback: the `model-control` message and an optional webhook.

The registry alias is the source of truth (a server that loads ``models:/<name>@champion`` picks
the rollback up on its next reload); these push the news to systems that would rather be told.
The message is the CONTRACT's ``{"model_id", "from_version", "to_version", "reason", "alert_id"}``
plus the registered model, alias, model URI and times. Delivery is at least once (a crash
between sending and committing sends it again): consumers should treat a repeated ``alert_id``
as already applied.
"""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from remediation.alert_record import Alert


def model_control_message(alert: Alert, *, registered_model: str, alias: str, from_version: str,
                          to_version: str, reason: str, issued_at: datetime | None = None) -> dict[str, Any]:
    """The model-control record (value); its key is the model_id."""
    return {
        "model_id": alert.model_id,
        "from_version": from_version,
        "to_version": to_version,
        "reason": reason,
        "alert_id": alert.alert_id,
        # extras
        "command": "rollback",
        "registered_model": registered_model,
        "alias": alias,
        "model_uri": f"models:/{registered_model}@{alias}",
        "slo": alert.slo,
        "severity": alert.severity,
        "event_time": alert.event_time_text,
        "issued_at": (issued_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
    }


@dataclass(frozen=True)
class Webhook:
    """POSTs JSON to `url` (https with an optional CA bundle, or http on a private network).

    Bounded: `attempts` tries `timeout` seconds each, `pause` seconds apart; the result is a short
    text for the audit record, never an exception.
    """

    url: str
    timeout: float = 5.0
    attempts: int = 2
    pause: float = 0.5
    ca_bundle: str | None = None

    def post(self, body: dict[str, Any]) -> str:
        data = orjson.dumps(body)
        context = ssl.create_default_context(cafile=self.ca_bundle) if self.ca_bundle else None
        last = ""
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(self.url, data=data, method="POST",
                                             headers={"Content-Type": "application/json",
                                                      "User-Agent": "slo-monitor-executor"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout, context=context) as response:
                    return f"accepted (HTTP {response.status}, attempt {attempt})"
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code}"
                if 400 <= error.code < 500 and error.code != 429:
                    return f"failed: {last} (not retried)"
            except (urllib.error.URLError, OSError) as error:
                last = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
            if attempt < self.attempts:
                time.sleep(self.pause)
        return f"failed: {last} after {self.attempts} attempt(s)"

    def describe(self) -> str:
        """The URL without query or credentials (safe to log)."""
        head = self.url.split("?", 1)[0]
        if "@" in head.split("//", 1)[-1]:
            scheme, rest = head.split("//", 1)
            head = f"{scheme}//{rest.split('@', 1)[1]}"
        return head
