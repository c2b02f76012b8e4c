"""The status page in headless Chromium (Debian's `chromium`, driven by playwright-core).

Records on the real broker -> the page's Kafka feed -> HTTP -> a real browser: the SLO keys,
their states and charts render, the XSS segment shows as text and runs nothing, the report link
opens. The screenshot is kept as a test artifact: .run/artifacts/status-page.png.
`make browser-tools` installs chromium and playwright-core (CI runs it before the tests).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from slo_monitor.status_page import start_status_page
from tests.kafka_support import REPO
from tests.status_page.records import REPORT_FILE, XSS_SEGMENT
from tests.status_page.test_status_page_kafka import feed_topics, wait_until_shown

pytestmark = pytest.mark.kafka

HERE = Path(__file__).resolve().parent
ARTIFACTS = REPO / ".run" / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def inspect(url: str, screenshot: Path) -> dict:
    missing = [what for what, there in (("chromium", Path(CHROMIUM).exists()), ("node", shutil.which("node")),
                                        ("playwright-core", (HERE / "node_modules/playwright-core").is_dir()))
               if not there]
    assert not missing, f"browser tools missing: {missing}; run `make browser-tools`"
    done = subprocess.run(["node", str(HERE / "inspect_page.mjs"), url, str(screenshot)], capture_output=True,
                          text=True, timeout=120, cwd=HERE)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_status_page_renders_slos_and_charts_in_chromium(kafka_bootstrap, tmp_path):
    topics = feed_topics(kafka_bootstrap, junk=False)
    (tmp_path / REPORT_FILE).write_text("<html><body><h1>Diagnostic report</h1></body></html>")
    page = start_status_page(kafka_bootstrap, topics, port=0, reports_dir=tmp_path)
    try:
        wait_until_shown(page.url, statuses=360)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        screenshot = ARTIFACTS / "status-page.png"
        facts = inspect(page.url, screenshot)
    finally:
        page.stop()

    assert facts["status"] == 200 and facts["title"] == "slo-monitor status"
    assert sorted(facts["headings"]) == sorted(["fraud-precision/fraud-detector",
                                                "fraud-precision/fraud-detector/country=US",
                                                f"fraud-precision/fraud-detector/{XSS_SEGMENT}"])
    assert sorted(facts["states"]) == ["breached", "ok", "ok"]
    assert len(facts["charts"]) == 3
    for chart in facts["charts"]:
        assert chart["box"]["width"] >= 600 and chart["box"]["height"] >= 150
        assert chart["estimate"] and all(line["width"] > 500 for line in chart["estimate"])
        assert chart["band"] and all(band["height"] > 5 for band in chart["band"])
        assert chart["objective"] == 1
    assert facts["openAlerts"] == 1
    assert any("rollback" in row and "done" in row for row in facts["actions"])
    assert facts["reportLinks"] and facts["reportLinks"][0] == f"/reports/{REPORT_FILE}"
    assert facts["report"] == {"status": 200, "text": "Diagnostic report"}
    # the segment's markup was text: no script element, no handler ran, no dialog
    assert facts["scripts"] == 0 and facts["xssFlag"] is False and facts["dialogs"] == []
    assert screenshot.stat().st_size > 20_000
