"""Which version a rollback goes to, and the registry tags that record rollbacks. Pure.

The target is the last version the monitor saw meet the objective (the alert's
``last_healthy_version``), else the newest registered version older than the breaching one.
Never the breaching version, never a version marked as breached by an earlier rollback (the
``slo_monitor.breached`` tag, which survives restarts and can be read and removed by people in
the MLflow UI), never a version that is not READY.

MLflow keeps no alias history, so each move is written on the target version as the
``slo_monitor.rollback`` tag (previous alias target, alert, state) before the alias moves: it says
how to undo the move, and whether the move is still ``pending`` (the alias may not have moved)
or ``done``.

>>> versions = [VersionInfo("3", "READY", {}), VersionInfo("4", "READY", {BREACHED_TAG: "{}"}),
...             VersionInfo("5", "READY", {})]
>>> target = choose_target("5", "4", versions)
>>> target.version, target.reason
('3', 'version 3: the newest registered version older than 5 (the last healthy version 4 is marked as breached)')
>>> choose_target("5", None, versions[:1] + versions[2:]).version
'3'
>>> choose_target("3", None, versions).version is None
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

BREACHED_TAG = "slo_monitor.breached"
ROLLBACK_TAG = "slo_monitor.rollback"
PENDING, DONE, UNDONE = "pending", "done", "undone"


@dataclass(frozen=True)
class VersionInfo:
    """A registered model version as the rollback sees it."""

    version: str
    status: str                      # READY | PENDING_REGISTRATION | FAILED_REGISTRATION
    tags: Mapping[str, str]

    @property
    def breached(self) -> bool:
        return BREACHED_TAG in self.tags

    def rollback_record(self) -> dict[str, Any] | None:
        """The decoded rollback tag, if this version was a rollback target."""
        return decode_tag(self.tags.get(ROLLBACK_TAG))


@dataclass(frozen=True)
class Target:
    version: str | None              # None: nowhere to go
    reason: str


def choose_target(breaching: str, last_healthy: str | None, versions: Sequence[VersionInfo]) -> Target:
    """The version to move the alias to, away from `breaching`; see the module docstring."""
    by_version = {v.version: v for v in versions}

    def unusable(version: str) -> str | None:
        info = by_version.get(version)
        if info is None:
            return "is not registered"
        if version == breaching:
            return "is the breaching version"
        if info.breached:
            return "is marked as breached"
        if info.status != "READY":
            return f"is {info.status}"
        return None

    why_not = ""
    if last_healthy is not None:
        problem = unusable(str(last_healthy))
        if problem is None:
            return Target(str(last_healthy),
                          f"version {last_healthy}: the last version the monitor saw meet the objective")
        why_not = f" (the last healthy version {last_healthy} {problem})"
    else:
        why_not = " (the alert names no last healthy version)"
    older = sorted((v for v in versions if _number(v.version) < _number(breaching) and unusable(v.version) is None),
                   key=lambda v: _number(v.version), reverse=True)
    if older:
        return Target(older[0].version, f"version {older[0].version}: the newest registered version older than "
                                        f"{breaching}{why_not}")
    return Target(None, f"no version to roll back to: none older than {breaching} is READY and unmarked{why_not}")


def encode_tag(record: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(record), option=orjson.OPT_SORT_KEYS).decode()


def decode_tag(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return decoded if isinstance(decoded, dict) else None


def _number(version: str) -> float:
    try:
        return float(int(version))
    except (TypeError, ValueError):
        return float("-inf")
