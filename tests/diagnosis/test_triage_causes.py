"""Each cause the simulator injects gets its verdict; a healthy run gets no confident verdict.

The events come straight from the simulator, through the real SLO tracker (which raises the
alert) and a DiagnosticSketch; no Kafka. bench/diagnosis.py repeats this over many seeds.
"""

from __future__ import annotations

from functools import lru_cache

import orjson
import pytest

from tests.diagnosis.diagnosis_support import run, synthetic_alert
from tests.diagnosis.scenario_cases import CASES


@lru_cache(maxsize=None)
def summary_of(case: str) -> dict:
    sketch, alert, t = run(CASES[case]())
    if case != "none":
        assert alert is not None, f"{case}: the tracker raised no alert"
    return sketch.summary(alert or synthetic_alert(t))


@pytest.mark.parametrize("case", [c for c in CASES if c != "none"])
def test_verdict_names_the_injected_cause(case):
    triage = summary_of(case)["triage"]
    assert triage["verdict"] == case.split("/")[0]
    assert triage["confident"] is True
    assert triage["evidence"], "a verdict needs its evidence"


def test_healthy_run_has_no_confident_verdict():
    summary = summary_of("none")
    assert summary["triage"]["verdict"] == "none"
    assert summary["triage"]["confident"] is False
    assert not any(cause["holds"] for cause in summary["triage"]["causes"].values())


def test_evidence_numbers_behind_the_verdicts():
    upstream = summary_of("upstream_change")["upstream"]["amount"]
    jump = next(c for c in upstream if c["check"] == "range_jump")
    assert jump["found"] and jump["outside"] > 0.25 and jump["current_median"] > 50 * jump["reference_median"]
    reviewers = summary_of("labelling_problem")["reviewers"]
    assert [r["value"] for r in reviewers if r["worse"]] == ["alice"]   # the first reviewer
    versions = {v["value"]: v for v in summary_of("version_regression")["versions"]}
    assert versions["v2"]["worse"] and not versions["v1"]["worse"]
    assert versions["v2"]["current"]["estimate"] < versions["v1"]["current"]["estimate"]
    drift = summary_of("data_drift")["input_drift"]
    assert drift["amount"]["drifted"] and not drift["merchant_category"]["drifted"]
    concept = summary_of("concept_drift")
    assert not any(v["drifted"] for v in concept["input_drift"].values())
    assert concept["metric"]["p_value"] < 0.05


def test_summary_is_json_and_has_every_section():
    summary = summary_of("concept_drift")
    assert orjson.loads(orjson.dumps(summary)) == summary
    for section in ("timeline", "metric", "confusion", "segments", "input_drift", "flagged_drift",
                    "upstream", "score_shift", "versions", "reviewers", "label_delay",
                    "false_positives", "triage"):
        assert summary[section], section
    assert summary["timeline"]["points"][-1]["state"] == "breached"
    assert summary["confusion"]["current"]["labels"]["fp"] > 0
    fp = summary["false_positives"][0]
    assert fp["features"] and set(fp["features"]) >= {"amount", "merchant_category"}
    # segments ranked by contribution to the drop
    contributions = [s["contribution"] for s in summary["segments"]]
    assert contributions == sorted(contributions, reverse=True)
