"""Where an alert's report lives: its file name, its URL, and writing both files.

The name comes from the alert id alone (the engine's ids are UUIDs), so the pager and the
status page can link a report without asking anyone: ``<reports_dir>/<alert_id>.html`` and
``.json``, served as ``<base_url>/reports/<alert_id>.html``. An id that is not a plain file
name (another producer's, or a hostile one) is replaced by its SHA-256, never used as a path.

>>> report_file_name("68cc5ddf-9779-5cf5-a08d-f8dea9de3922")
'68cc5ddf-9779-5cf5-a08d-f8dea9de3922'
>>> report_file_name("../../etc/passwd")[:8]
'sha256-3'
>>> report_url("https://status.example.com/", "abc")
'https://status.example.com/reports/abc.html'
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import orjson

from remediation.report.page import render_html

DEFAULT_REPORTS_DIR = ".run/reports"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def report_file_name(alert_id: str) -> str:
    """The report's file name without extension (see the module docstring)."""
    if _SAFE.match(alert_id) and ".." not in alert_id:
        return alert_id
    return "sha256-" + hashlib.sha256(alert_id.encode()).hexdigest()


def report_url(base_url: str, alert_id: str) -> str:
    """The report's URL on the status page."""
    return f"{base_url.rstrip('/')}/reports/{report_file_name(alert_id)}.html"


def report_paths(reports_dir: str | Path, alert_id: str) -> tuple[Path, Path]:
    """(HTML path, JSON path) of an alert's report."""
    stem = Path(reports_dir) / report_file_name(alert_id)
    return stem.with_suffix(".html"), stem.with_suffix(".json")


def write_report(reports_dir: str | Path, alert_id: str, summary: dict[str, Any]) -> tuple[Path, Path]:
    """Write the HTML page and the JSON summary (each atomically: a reader never sees half)."""
    html_path, json_path = report_paths(reports_dir, alert_id)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(json_path, orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    _atomic_write(html_path, render_html(summary).encode("utf-8"))
    return html_path, json_path


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)        # the status page serves it (mkstemp makes files private)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
