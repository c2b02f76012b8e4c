"""Guardrails: may this action run for this alert now? Pure decisions over a ledger of past actions.

Everything is measured in the alerts' event time (like every window of the monitor), so a
recorded alert stream replayed gives the same decisions, and a monitor catching up after an
outage sees its alerts spaced as the model's behaviour was, not bunched at restart.

Checks, in order (the first that applies decides, and its reason is audited):

1. ``duplicate``: the action already ran (or was dry-run, proposed, or failed) for this alert, e.g.
   a re-delivered record or an escalation of an episode the action already answered;
2. ``disabled``: switched off in the remediation config;
3. ``min_labels``: the alert's window holds too few labels to justify the action;
4. ``cooldown``: the same action ran for the same model less than `cooldown` ago;
5. ``daily_limit``: the model already had `max_actions_per_day` actions in the last 24 hours.
   Read-only actions (the diagnostic report) neither count toward the limit nor are held back
   by it: the limit is there to stop a loop of changes, and a report changes nothing.

What passes runs live, or in dry-run/approval mode is only audited; those "would-have-run"
entries count for the guardrails of the same mode only, so a dry-run trail reads exactly like
what live mode would do, and switching to live is not blocked by dry-run history.

>>> from remediation.alert_record import parse_alert
>>> from remediation.playbook_config import Playbook, RollbackOptions
>>> def alert(alert_id, minute):
...     return parse_alert({"alert_id": alert_id, "dedup_key": "p/m", "action": "trigger",
...                         "severity": "critical", "slo": "p", "model_id": "m", "labels": 500,
...                         "event_time": f"2026-11-26T12:{minute:02d}:00Z"})
>>> book = Playbook("p", "critical", ("rollback",), "test", options={"rollback": RollbackOptions()})
>>> ledger = ActionLedger()
>>> decide(alert("a1", 0), "rollback", book, ledger).rule
'playbook'
>>> ledger.add(LedgerEntry("rollback", "done", "m", "p", "a1", alert("a1", 0).event_time.timestamp()))
>>> print(decide(alert("a2", 30), "rollback", book, ledger).reason)  # doctest: +ELLIPSIS
rollback on m ran for alert a1 at 2026-11-26T12:00:00Z; its cooldown of 6h lasts until ...
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from remediation.alert_record import Alert
from remediation.playbook_config import Playbook
from slo.durations import format_duration
from schemas.timestamps import format_event_time as rfc3339

DAY = 86400.0

# rules of audited decisions
PLAYBOOK = "playbook"          # the action runs (or would run) as the playbook says
DUPLICATE = "duplicate"
DISABLED = "disabled"
MIN_LABELS = "min_labels"
COOLDOWN = "cooldown"
READ_ONLY_ACTIONS = frozenset({"diagnostic_report"})  # change nothing: outside the daily limit
DAILY_LIMIT = "daily_limit"

# outcomes of audit records; "taken" ones count for cooldown and the daily limit of their mode
DONE, DRY_RUN, PROPOSED, SKIPPED, FAILED = "done", "dry_run", "proposed", "skipped", "failed"
TAKEN_OUTCOME = {"live": DONE, "dry_run": DRY_RUN, "approval": PROPOSED}
FINAL_OUTCOMES = frozenset({DONE, DRY_RUN, PROPOSED, FAILED})


@dataclass(frozen=True)
class LedgerEntry:
    """One action decided for one alert (from an audit record)."""

    action: str
    outcome: str
    model_id: str
    slo: str
    alert_id: str
    event_time: float               # the alert's event time, epoch seconds


@dataclass(frozen=True)
class Verdict:
    """`go`: run it (in `mode`); otherwise skipped by `rule` because `reason`."""

    go: bool
    rule: str
    reason: str
    mode: str


class ActionLedger:
    """Actions decided so far, per model; rebuilt from remediation-actions at start.

    Keeps `keep` seconds of event time behind the newest entry (enough for any cooldown and the
    daily limit; older entries only matter for duplicates of very old alerts).
    """

    def __init__(self, keep: float = 8 * DAY):
        self.keep = keep
        self._by_model: dict[str, list[LedgerEntry]] = defaultdict(list)
        self._by_alert: dict[tuple[str, str], LedgerEntry] = {}
        self._newest = float("-inf")

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_model.values())

    def add(self, entry: LedgerEntry) -> None:
        if entry.outcome in FINAL_OUTCOMES:
            self._by_alert[(entry.alert_id, entry.action)] = entry
        if entry.outcome in TAKEN_OUTCOME.values():
            self._by_model[entry.model_id].append(entry)
        if entry.event_time > self._newest:
            self._newest = entry.event_time
            self._prune()

    def handled(self, alert_id: str, action: str) -> LedgerEntry | None:
        """The final decision already made for this alert and action, if any."""
        return self._by_alert.get((alert_id, action))

    def last_taken(self, model_id: str, action: str, outcome: str) -> LedgerEntry | None:
        """The most recent (by event time) `action` with `outcome` on `model_id`."""
        entries = [e for e in self._by_model.get(model_id, ()) if e.action == action and e.outcome == outcome]
        return max(entries, key=lambda e: e.event_time, default=None)

    def taken_between(self, model_id: str, outcome: str, start: float, end: float) -> list[LedgerEntry]:
        """Actions with `outcome` on `model_id` whose event time is in (start, end]."""
        return [e for e in self._by_model.get(model_id, ()) if e.outcome == outcome and start < e.event_time <= end]

    def _prune(self) -> None:
        horizon = self._newest - self.keep
        for model, entries in self._by_model.items():
            if entries and entries[0].event_time < horizon:
                self._by_model[model] = [e for e in entries if e.event_time >= horizon]
        stale = [k for k, e in self._by_alert.items() if e.event_time < horizon]
        for key in stale:
            del self._by_alert[key]


def decide(alert: Alert, action: str, playbook: Playbook, ledger: ActionLedger) -> Verdict:
    """Whether `action` of `playbook` may run for `alert`, and why (see the module docstring)."""
    mode = playbook.mode
    options = playbook.options_for(action)
    t = alert.event_time.timestamp()
    model = alert.model_id

    def skip(rule: str, reason: str) -> Verdict:
        return Verdict(False, rule, reason, mode)

    earlier = ledger.handled(alert.alert_id, action)
    if earlier is not None:
        return skip(DUPLICATE, f"{action} was already decided for alert {alert.alert_id} "
                               f"(outcome {earlier.outcome}): an alert gets each action at most once")
    if not options.enabled:
        return skip(DISABLED, f"{action} is disabled for SLO {alert.slo} in the remediation config")
    if options.min_labels:
        if alert.labels is None:
            return skip(MIN_LABELS, f"the alert does not say how many labels its window holds; "
                                    f"{action} needs at least {options.min_labels}")
        if alert.labels < options.min_labels:
            return skip(MIN_LABELS, f"only {alert.labels} labels in the alert's window; "
                                    f"{action} needs at least {options.min_labels}")
    taken = TAKEN_OUTCOME[mode]
    last = ledger.last_taken(model, action, taken)
    if last is not None and options.cooldown and t - last.event_time < options.cooldown:
        verb = {"live": "ran", "dry_run": "would have run (dry run)", "approval": "was proposed"}[mode]
        return skip(COOLDOWN, f"{action} on {model} {verb} for alert {last.alert_id} at {rfc3339(last.event_time)}; "
                              f"its cooldown of {format_duration(options.cooldown)} lasts until "
                              f"{rfc3339(last.event_time + options.cooldown)} (alert at {rfc3339(t)})")
    limit = playbook.max_actions_per_day
    if limit is not None and action not in READ_ONLY_ACTIONS:
        recent = [e for e in ledger.taken_between(model, taken, t - DAY, t) if e.action not in READ_ONLY_ACTIONS]
        if len(recent) >= limit:
            return skip(DAILY_LIMIT, f"{len(recent)} action(s) on {model} in the 24h before {rfc3339(t)} "
                                     f"({', '.join(sorted({e.action for e in recent}))}); the limit is {limit} per day")
    how = {"live": "runs", "dry_run": "would run (dry run: nothing is changed)",
           "approval": "is proposed (approval-only: a human applies it)"}[mode]
    version = f" v{alert.model_version}" if alert.model_version else ""
    return Verdict(True, PLAYBOOK, f"{alert.severity} alert on {model}{version}: {action} {how}, "
                                   f"as {playbook.source} says", mode)
