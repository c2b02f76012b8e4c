"""Optional second channel: a Slack incoming webhook (slack-sdk) for chosen tiers.

PagerDuty wakes people; Slack keeps a team aware of the lower tiers (by default warning and
info) without paging them. Slack is best effort: a failed post is logged and not retried, and
never delays or blocks a PagerDuty page beyond its short timeout. The webhook URL is a secret
(anyone with it can post): it is read from an environment variable and never logged.

Needs the ``slack-sdk`` package; without it the channel is disabled with a warning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from remediation.inhibition import PageOrder

log = logging.getLogger(__name__)

_EMOJI = {"critical": ":red_circle:", "error": ":large_orange_circle:", "warning": ":large_yellow_circle:",
          "info": ":large_blue_circle:"}


@dataclass(frozen=True)
class SlackSettings:
    webhook_url_env: str = "SLACK_WEBHOOK_URL"
    severities: tuple[str, ...] = ("warning", "info")
    timeout: int = 5


class SlackNotifier:
    """Posts a message per page of a configured tier (trigger and resolve)."""

    def __init__(self, settings: SlackSettings, environ: Mapping[str, str] | None = None):
        environ = os.environ if environ is None else environ
        self.settings = settings
        self._url = environ.get(settings.webhook_url_env) or None
        self._client: Any = None
        if self._url is None:
            log.warning("Slack channel configured but %s is not set: Slack disabled", settings.webhook_url_env)
            return
        try:
            from slack_sdk.webhook import WebhookClient
        except ImportError:
            log.warning("Slack channel configured but the slack-sdk package is not installed: Slack disabled")
            return
        quiet = logging.getLogger("remediation.slack.sdk")   # its DEBUG/INFO lines contain the URL
        quiet.setLevel(logging.WARNING)
        self._client = WebhookClient(self._url, timeout=settings.timeout, logger=quiet)

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def secrets(self) -> list[str]:
        return [self._url] if self._url else []

    def notify(self, order: PageOrder, event: dict[str, Any]) -> bool:
        """Post about this page if its tier goes to Slack; True when Slack took it."""
        if self._client is None or order.alert.severity not in self.settings.severities:
            return False
        if order.event_action == "resolve" and order.alert.action != "resolve":
            return False  # the incident moved to another service on escalation: not a recovery
        text, blocks = message(order, event)
        try:
            response = self._client.send(text=text, blocks=blocks)
        except Exception as error:  # noqa: BLE001 - Slack must never stop paging
            log.warning("Slack post for %s failed: %s", order.dedup_key, type(error).__name__)
            return False
        if response.status_code != 200:
            log.warning("Slack answered %d to the post for %s: %.200s", response.status_code, order.dedup_key,
                        response.body)
            return False
        return True


def message(order: PageOrder, event: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text and Block Kit blocks for one page."""
    alert = order.alert
    if order.event_action == "trigger":
        text = f"{_EMOJI.get(alert.severity, '')} {event['payload']['summary']}"
    else:
        text = f":white_check_mark: [RESOLVED] {order.dedup_key}: {alert.reason or 'recovered'}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]
    links = [f"<{link['href']}|{link.get('text', 'link')}>" for link in event.get("links", [])]
    context = [f"dedup key `{order.dedup_key}`", f"alert `{alert.alert_id}`", *links]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)[:3000]}]})
    return text, blocks
