"""The HTML report: every section and plot is there, nothing is loaded from elsewhere, and
user-supplied text is escaped."""

from __future__ import annotations

from html.parser import HTMLParser

import orjson

from remediation.report.files import report_file_name, report_url, write_report
from remediation.report.page import SECTIONS, render_html
from tests.diagnosis.test_triage_causes import summary_of

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class Page(HTMLParser):
    """Tags, attributes and text of a page, and which section each plot is in."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.sections: dict[str, int] = {}        # section id -> plots (svg) in it
        self.text: list[str] = []
        self._section: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "section":
            self._section = attributes.get("id")
            self.sections[self._section] = 0
        elif tag == "svg" and self._section is not None:
            self.sections[self._section] += 1

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def test_every_section_and_plot_is_present_and_self_contained(tmp_path):
    summary = summary_of("version_regression")
    html_path, json_path = write_report(tmp_path, summary["alert"]["alert_id"], summary)
    assert orjson.loads(json_path.read_bytes()) == summary
    page = parse(html_path.read_text(encoding="utf-8"))
    assert list(page.sections) == list(SECTIONS)
    plotted = {"timeline": 2, "segments": 1, "drift": 1, "score": 2, "versions": 1, "reviewers": 2}
    for section, plots in plotted.items():
        assert page.sections[section] == plots, section
    # the band and the bars are drawn, not empty charts
    assert any(tag == "polygon" and a.get("class") == "band" for tag, a in page.tags)
    assert sum(1 for tag, a in page.tags if tag == "rect" and a.get("class") == "bar") > 50
    # nothing external: no scripts, no stylesheets, no URLs in attributes
    assert not {tag for tag, _ in page.tags} & {"script", "link", "iframe", "img", "object", "embed"}
    for tag, attributes in page.tags:
        for name, value in attributes.items():
            assert name not in ("src", "href") or tag == "svg", (tag, name, value)
            assert "://" not in (value or "") or value == "http://www.w3.org/2000/svg", (tag, value)
    text = " ".join(page.text)
    assert "Version regression" in text and "v2" in text


def test_user_supplied_strings_render_as_text():
    summary = summary_of("concept_drift")
    hostile = orjson.loads(orjson.dumps(summary))
    hostile["segments"][0]["value"] = XSS
    hostile["reviewers"][0]["value"] = XSS
    hostile["versions"][0]["value"] = XSS
    hostile["false_positives"][0]["features"] = {XSS: XSS}
    hostile["input_drift"] = {XSS: next(iter(hostile["input_drift"].values()))}
    hostile["alert"]["reason"] = XSS
    hostile["triage"]["evidence"] = [XSS]
    html = render_html(hostile)
    page = parse(html)
    assert not [tag for tag, _ in page.tags if tag in ("script", "img")]
    assert not any(k.startswith("on") for _, attributes in page.tags for k in attributes)
    assert "&lt;script&gt;" in html
    # the text a reader sees is the string itself
    assert sum(chunk.count(XSS) for chunk in page.text) >= 5


def test_report_names_and_urls_come_from_the_alert_id_only():
    assert report_url("https://status.example.com", "a-1") == "https://status.example.com/reports/a-1.html"
    assert "/" not in report_file_name("../../x") and ".." not in report_file_name("../../x")


def test_the_drift_monitor_record_gets_its_own_section_when_the_slo_has_one():
    from remediation.report.page import render_html

    summary = {"alert": {"alert_id": "a"}, "slo": {"name": "p", "model_id": "m"},
               "drift_monitor": {"status": "warning", "reason": "amount drifted <b>", "drifted": ["amount"],
                                 "event_time": "2026-11-26T12:00:00Z",
                                 "estimated_metric": {"estimate": 0.91, "lower": 0.88, "upper": 0.94,
                                                      "reference": 0.97, "realized": None},
                                 "flagged_rate": {"current": 0.12, "reference": 0.1}}}
    page = render_html(summary)
    section = page[page.index('<section id="drift-monitor">'):]
    section = section[:section.index("</section>")]
    assert "warning" in section and "amount drifted &lt;b&gt;" in section
    assert "0.880 to 0.940" in section and "0.120 / 0.100" in section
    assert 'id="drift-monitor"' not in render_html({k: v for k, v in summary.items() if k != "drift_monitor"})
