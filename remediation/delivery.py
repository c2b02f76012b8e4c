"""Sending one event to PagerDuty with its official client, and classifying what happened.

``pagerduty.EventsApiV2Client`` retries by itself; left alone it retries 429 without limit,
sleeping longer each time, inside one call that then blocks the responder (and its Kafka group
membership) for as long as PagerDuty throttles. Here its retries are capped (`HttpRetryPolicy`),
and what remains is one of three answers the responder acts on:

- ``accepted`` (2xx): commit the alert's offset;
- ``rejected`` (400, 413, 422: PagerDuty will never accept this event): report it loudly, audit
  it, commit, and go on with the next page;
- ``retry`` (429, 5xx, network errors, and 401/403/404, which mean a wrong key or URL that an
  operator can fix): the event stays at the head of the queue, uncommitted, and is tried again
  after a backoff, however long the outage.

Routing keys pass from `RoutingKeys` straight into the client; every text that leaves this
module (results, logs) is scrubbed of them.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import orjson
import pagerduty

from remediation.routing_keys import RoutingKeys, redact

log = logging.getLogger(__name__)

PERMANENT_STATUSES = frozenset({400, 413, 422})
_ENQUEUE_SUFFIX = "/v2/enqueue"


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RETRY = "retry"
    LOGGED = "logged"      # no routing key for the target: logged instead of sent


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    status: int | None      # HTTP status of the last answer, None when there was none
    detail: str             # human explanation, free of secrets


@dataclass(frozen=True)
class HttpRetryPolicy:
    """Retries inside one delivery attempt (the client's own loop), for 429, 5xx and network
    errors. At least 1: the client treats 0 as "default", which for 429 means "forever"."""

    retries: int = 2
    first_sleep: float = 0.5       # then doubled each retry
    timeout: float = 10.0          # seconds per HTTP request

    def __post_init__(self) -> None:
        if self.retries < 1:
            raise ValueError("HttpRetryPolicy.retries must be at least 1 (0 would let the client retry 429 forever)")


class Sender(Protocol):
    def send(self, target: str, event: dict[str, Any]) -> DeliveryResult: ...
    def close(self) -> None: ...


def normalize_events_url(url: str | None) -> str | None:
    """Base URL for the client: accepts the base or the full ``/v2/enqueue`` URL.

    >>> normalize_events_url("https://127.0.0.1:8443/v2/enqueue/")
    'https://127.0.0.1:8443'
    """
    if not url:
        return None
    url = url.strip().rstrip("/")
    if url.endswith(_ENQUEUE_SUFFIX):
        url = url[: -len(_ENQUEUE_SUFFIX)]
    if not url.startswith("https://"):
        raise ValueError(f"PagerDuty events URL must start with https:// (got {url!r}): "
                         "the PagerDuty client refuses plain HTTP")
    return url


class PagerDutySender:
    """Sends events through one EventsApiV2Client per routing key."""

    def __init__(self, keys: RoutingKeys, events_url: str | None = None, ca_bundle: str | None = None,
                 retry: HttpRetryPolicy = HttpRetryPolicy()):
        self._keys = keys
        self._base_url = normalize_events_url(events_url)
        self._verify: ssl.SSLContext | None = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None
        self._retry = retry
        self._clients: dict[str, pagerduty.EventsApiV2Client] = {}

    @property
    def events_url(self) -> str:
        return self._base_url or "https://events.pagerduty.com"

    def send(self, target: str, event: dict[str, Any]) -> DeliveryResult:
        key = self._keys.key(target)
        if key is None:
            log.info("no PagerDuty routing key for %s: would send %s", target,
                     orjson.dumps(event).decode())
            return DeliveryResult(Outcome.LOGGED, None, f"no routing key configured for {target}")
        try:
            client = self._client(key)
            properties = {k: v for k, v in event.items() if k not in ("event_action", "dedup_key")}
            client.send_event(event["event_action"], dedup_key=event.get("dedup_key"), **properties)
        except pagerduty.HttpError as error:
            return self._http_error(error)
        except pagerduty.Error as error:  # no HTTP answer after the client's retries
            cause = error.__cause__ or error
            return DeliveryResult(Outcome.RETRY, None, self._clean(f"network error: {type(cause).__name__}: {cause}"))
        except Exception as error:  # noqa: BLE001 - any other failure must not lose the page
            return DeliveryResult(Outcome.RETRY, None, self._clean(f"{type(error).__name__}: {error}"))
        return DeliveryResult(Outcome.ACCEPTED, 202, "accepted")

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _client(self, key: str) -> pagerduty.EventsApiV2Client:
        client = self._clients.get(key)
        if client is None:
            kwargs: dict[str, Any] = {"verify": self._verify} if self._verify is not None else {}
            client = pagerduty.EventsApiV2Client(key, base_url=self._base_url, **kwargs)
            retries = self._retry.retries
            client.retry = {429: retries, 500: retries, 502: retries, 503: retries, 504: retries}
            client.max_http_attempts = retries
            client.max_network_attempts = retries
            client.sleep_timer = self._retry.first_sleep / client.sleep_timer_base
            client.timeout = self._retry.timeout
            self._clients[key] = client
        return client

    def _http_error(self, error: pagerduty.HttpError) -> DeliveryResult:
        status = error.response.status_code
        if 200 <= status < 300:  # accepted, but the body was not what the client expected
            return DeliveryResult(Outcome.ACCEPTED, status, "accepted (unexpected response body)")
        detail = self._clean(f"HTTP {status}: {_describe_body(error.response)}")
        if status in PERMANENT_STATUSES:
            return DeliveryResult(Outcome.REJECTED, status, detail)
        if status in (401, 403, 404):
            detail += " (check the routing key and PAGERDUTY_EVENTS_URL)"
        return DeliveryResult(Outcome.RETRY, status, detail)

    def _clean(self, text: str) -> str:
        return redact(text, self._keys.secrets())[:1000]


def _describe_body(response: Any) -> str:
    """PagerDuty's error body (status, message, errors) in one line."""
    try:
        body = response.json()
    except Exception:  # noqa: BLE001 - any undecodable body is shown as text
        return (response.text or "").strip()[:300] or "(empty body)"
    if isinstance(body, dict):
        parts = [str(body.get(k)) for k in ("status", "message") if body.get(k)]
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            parts.append("; ".join(str(e) for e in errors))
        if parts:
            return ": ".join(parts)
    return orjson.dumps(body).decode()[:300]
