"""What an action (rollback, raised review sampling, later the diagnostic report) looks like to the
executor: first a read-only `plan`, then `apply`. Dry-run and approval-only modes stop after the
plan, so "what would be done" is computed by the same code that does it.

Failures are exceptions of two kinds: `ActionUnavailable` (a dependency is down: the executor
retries with backoff) and `ActionFailed` (a definite failure: audited as failed, not retried).
Apply is written to be run again after any failure or crash: it looks at the world first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from remediation.alert_record import Alert
from remediation.playbook_config import Playbook


Publish = Callable[[str, str, "dict[str, Any] | None"], None]
"""Writes one Kafka record: (topic, key, JSON value); None is a tombstone. Flushed before commit."""


@dataclass(frozen=True)
class Skip:
    """Nothing to do, and why (audited as skipped)."""

    rule: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """What the action will do: `summary` is one sentence ("move champion of m from 5 to 4")."""

    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    payload: Any = None              # the handler's own plan object


@dataclass(frozen=True)
class Applied:
    """Done: what happened, for the audit record."""

    reason: str
    details: dict[str, Any] = field(default_factory=dict)


class ActionUnavailable(Exception):
    """A dependency is unavailable; retry later. `uncertain`: a change may already be applied,
    so the executor must not give up until it knows."""

    def __init__(self, message: str, uncertain: bool = False):
        super().__init__(message)
        self.uncertain = uncertain


class ActionFailed(Exception):
    """A definite failure (retrying will not help); `rule` names it in the audit record."""

    def __init__(self, rule: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.rule = rule
        self.details = details or {}


class ActionHandler(Protocol):
    """One kind of action. `late`: the executor has been retrying longer than it allows; apply
    should then only finish changes that already happened (and clean up), not start new ones."""

    name: str

    def plan(self, alert: Alert, playbook: Playbook) -> Plan | Skip: ...

    def apply(self, alert: Alert, playbook: Playbook, plan: Plan, *, late: bool = False) -> Applied: ...
