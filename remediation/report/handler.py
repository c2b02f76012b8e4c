"""The executor's `diagnostic_report` action: write the alert's report (HTML and JSON).

The monitor publishes a summary per opened alert on `slo-diagnostics`; the executor reads
alerts from `slo-alerts`. Either may arrive first, so `plan` waits for the summary: while it is
missing it raises `ActionUnavailable` (the executor retries with backoff), and after `wait`
seconds it fails the action with rule ``no_summary`` (audited; nothing is written). The audit
record's details carry ``report_path`` (the HTML file), ``json_path``, the triage ``verdict``
and, with a base URL, ``report_url`` (remediation/report/files.py: the status page serves
``/reports/<alert_id>.html``, the same URL the pager links).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from remediation.action_handler import ActionFailed, ActionUnavailable, Applied, Plan, Skip
from remediation.alert_record import Alert
from remediation.playbook_config import DIAGNOSTIC_REPORT, Playbook
from remediation.report.files import report_paths, report_url, write_report

MAX_WAITING = 1024      # alerts whose summary is awaited (oldest forgotten beyond it)


class DiagnosticReportHandler:
    """Writes `<reports_dir>/<alert_id>.html` and `.json` from the alert's summary."""

    name = DIAGNOSTIC_REPORT

    def __init__(self, lookup: Callable[[str], dict[str, Any] | None], reports_dir: str | Path,
                 base_url: str | None = None, wait: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, source: str = "slo-diagnostics",
                 close: Callable[[], None] | None = None):
        self.lookup = lookup
        self.reports_dir = Path(reports_dir)
        self.base_url = base_url
        self.wait = wait
        self.source = source
        self._clock = clock
        self._close = close
        self._waiting: OrderedDict[str, float] = OrderedDict()

    def plan(self, alert: Alert, playbook: Playbook) -> Plan | Skip:
        summary = self.lookup(alert.alert_id)
        if summary is None:
            first = self._waiting.setdefault(alert.alert_id, self._clock())
            while len(self._waiting) > MAX_WAITING:
                self._waiting.popitem(last=False)
            waited = self._clock() - first
            if waited < self.wait:
                raise ActionUnavailable(f"no diagnostic summary for alert {alert.alert_id} on {self.source} yet "
                                        f"(waited {waited:.0f}s of {self.wait:g}s)")
            self._waiting.pop(alert.alert_id, None)
            raise ActionFailed("no_summary", f"no diagnostic summary for alert {alert.alert_id} arrived on "
                                             f"{self.source} within {self.wait:g}s; no report written")
        self._waiting.pop(alert.alert_id, None)
        html_path, json_path = report_paths(self.reports_dir, alert.alert_id)
        details: dict[str, Any] = {"report_path": str(html_path), "json_path": str(json_path),
                                   "verdict": (summary.get("triage") or {}).get("verdict")}
        if self.base_url:
            details["report_url"] = report_url(self.base_url, alert.alert_id)
        return Plan(f"write the diagnostic report of alert {alert.alert_id} to {html_path}", details,
                    payload=summary)

    def apply(self, alert: Alert, playbook: Playbook, plan: Plan, *, late: bool = False) -> Applied:
        try:
            write_report(self.reports_dir, alert.alert_id, plan.payload)
        except OSError as error:
            raise ActionFailed("write_failed", f"cannot write the report to {self.reports_dir}: {error}",
                               plan.details) from None
        verdict = plan.details.get("verdict")
        return Applied(f"diagnostic report written to {plan.details['report_path']} (triage: {verdict})",
                       plan.details)

    def close(self) -> None:
        if self._close is not None:
            self._close()
