"""The demo's live view: each SLO key's estimate, bounds, state, labels and version, and the
scenario's progress in event time. A `rich` live table on a terminal; plain lines otherwise
(one per event-time hour for the whole-model key, one per alert), so logs and CI stay readable.

It reads what the monitor's engine emitted (the demo's collecting sink), from a thread of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from schemas.timestamps import format_event_time
from slo.snapshots import AlertEvent, StatusSnapshot

STATE_STYLES = {"ok": "green", "at_risk": "yellow", "breached": "bold red", "insufficient_data": "dim"}
HOUR = 3600.0


class LiveView:
    def __init__(self, results: list, start: float, end: float, pages: Callable[[], int],
                 actions: Callable[[], int], stream: TextIO | None = None, refresh: float = 0.5) -> None:
        self.results, self.begin, self.end = results, start, end
        self.pages, self.actions = pages, actions
        self.console = Console(file=stream, highlight=False)
        self.refresh = refresh
        self.latest: dict[str, StatusSnapshot] = {}
        self.alerts: list[AlertEvent] = []
        self._seen = 0
        self._hour_printed = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-view", daemon=True)

    def start(self) -> LiveView:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    # --- reading the engine's output -------------------------------------------------------

    def _take_new(self) -> tuple[list[StatusSnapshot], list[AlertEvent]]:
        items = self.results[self._seen:len(self.results)]
        self._seen += len(items)
        statuses = [i for i in items if isinstance(i, StatusSnapshot)]
        alerts = [i for i in items if isinstance(i, AlertEvent)]
        for status in statuses:
            self.latest[status.key.dedup_key] = status
        self.alerts.extend(alerts)
        return statuses, alerts

    def event_time(self) -> float:
        return max((s.event_time for s in self.latest.values()), default=self.begin)

    # --- terminal ---------------------------------------------------------------------------

    def _run(self) -> None:
        if self.console.is_terminal:
            self._run_live()
        else:
            self._run_plain()

    def _table(self) -> Table:
        table = Table(title="SLOs (event time " + format_event_time(self.event_time()) + ")", expand=False)
        for column in ("SLO key", "estimate", "95% bounds", "state", "labels", "version"):
            table.add_column(column, justify="right" if column in ("estimate", "labels") else "left")
        for key, s in sorted(self.latest.items()):
            bounds = "-" if s.lower is None else f"[{s.lower:.3f}, {s.upper:.3f}]"
            table.add_row(key, "-" if s.estimate is None else f"{s.estimate:.3f}", bounds,
                          f"[{STATE_STYLES.get(s.state, '')}]{s.state}[/]", str(s.labels), s.model_version or "-")
        return table

    def _run_live(self) -> None:
        progress = Progress(TextColumn("scenario"), BarColumn(), TextColumn("{task.fields[hours]}"),
                            TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), console=self.console)
        task = progress.add_task("scenario", total=self.end - self.begin, hours="", counts="")
        with Live(console=self.console, refresh_per_second=4, transient=False) as live:
            while True:
                stopping = self._stop.is_set()
                self._take_new()
                done = self.event_time() - self.begin
                progress.update(task, completed=done,
                                hours=f"{done / HOUR:.1f}h / {(self.end - self.begin) / HOUR:.0f}h",
                                counts=f"alerts {len(self.alerts)} · pages {self.pages()} · actions {self.actions()}")
                alerts = [f"[bold]{format_event_time(a.event_time)}[/] {a.action} [red]{a.severity}[/] "
                          f"{a.key.dedup_key}" for a in self.alerts[-5:]]
                live.update(Group(self._table(), progress, *alerts))
                if stopping:
                    return
                self._stop.wait(self.refresh)

    def _run_plain(self) -> None:
        while True:
            stopping = self._stop.is_set()
            statuses, alerts = self._take_new()
            for status in statuses:
                hour = int((status.event_time - self.begin) // HOUR)
                if status.key.segment is None and hour > self._hour_printed:
                    self._hour_printed = hour
                    self._line(status)
            for alert in alerts:
                self._say(f"  alert  {format_event_time(alert.event_time)} {alert.action} {alert.severity} "
                          f"{alert.key.dedup_key}: {alert.reason}")
            if stopping:
                return
            self._stop.wait(self.refresh)

    def _line(self, s: StatusSnapshot) -> None:
        estimate = "  -  " if s.estimate is None else f"{s.estimate:.3f}"
        bounds = "" if s.lower is None else f" [{s.lower:.3f}, {s.upper:.3f}]"
        share = (s.event_time - self.begin) / max(self.end - self.begin, 1.0)
        self._say(f"  +{(s.event_time - self.begin) / HOUR:4.1f}h ({share:4.0%}) {s.key.dedup_key} "
                  f"{estimate}{bounds} {s.state} labels {s.labels} version {s.model_version or '-'}")

    def _say(self, line: str) -> None:
        """One plain line, never wrapped (logs and CI)."""
        print(line, file=self.console.file, flush=True)


def count_of(getter: Callable[[], Any]) -> Callable[[], int]:
    """A safe counter for the view: a failing getter shows 0 rather than stopping the view."""
    def count() -> int:
        try:
            return len(getter())
        except Exception:  # noqa: BLE001 - the view must never break the demo
            return 0
    return count
