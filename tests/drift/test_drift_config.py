"""The `drift:` block: defaults, both reference kinds, errors, and how it plugs into SloSpec."""

from __future__ import annotations

import pickle
from datetime import date

import pytest
from pydantic import ValidationError

from slo.drift.config import DriftSpec, ReferenceSpec
from slo.spec import SloSpec
from slo.yaml_source import compose_yaml

EXAMPLE = """
drift:
  reference: {kind: fixed, start: 2026-11-01T00:00:00Z, end: "2026-11-08T00:00:00Z"}
  window: 24h
  bucket: 1h
  features: [amount, merchant_category]
  categorical: [merchant_category]
  fdr: 0.01
  detectors:
    - {stream: flagged_rate, kind: adwin, params: {delta: 0.001}}
    - {stream: error, kind: page_hinkley, params: {threshold: 20, mode: up}}
  warning: {severity: error, proxies: [estimated_metric], min_decline: 0.02}
  x-owner: fraud-team
"""


def test_the_documented_example_parses():
    data, _ = compose_yaml(EXAMPLE, "example.yaml")
    spec = DriftSpec.model_validate(data["drift"])
    assert spec.reference.kind == "fixed"
    assert spec.reference.end - spec.reference.start == 7 * 86400
    assert spec.window == 86400 and spec.bucket_seconds == 3600
    assert spec.detectors[1].params == {"threshold": 20, "mode": "up"}
    assert spec.warning.severity == "error" and spec.warning.min_decline == 0.02
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_defaults():
    spec = DriftSpec()
    assert (spec.reference.kind, spec.reference.window, spec.window) == ("trailing", 30 * 86400, 86400)
    assert spec.bucket_seconds == 3600 and spec.reference.bucket_seconds == 86400
    assert (spec.bins, spec.alpha, spec.fdr, spec.numeric_test, spec.categorical_test) == \
        (10, 0.05, 0.05, "ks", "chi2")
    assert [d.stream for d in spec.detectors] == ["flagged_rate", "error", "score"]
    assert spec.warning.proxies == ("estimated_metric", "flagged_rate")


@pytest.mark.parametrize("block,message", [
    ({"reference": {"kind": "fixed"}}, "needs either `first`"),
    ({"reference": {"kind": "fixed", "first": "1h", "start": 1.8e9, "end": 1.9e9}}, "not both"),
    ({"reference": {"kind": "fixed", "start": 1.9e9, "end": 1.8e9}}, "must come after"),
    ({"reference": {"kind": "fixed", "start": "2026-11-01"}}, "no time zone"),
    ({"reference": {"kind": "fixed", "start": date(2026, 11, 1)}}, "is a date"),  # YAML's date
    ({"reference": {"kind": "trailing", "first": "1h"}}, "for a fixed reference"),
    ({"reference": {"kind": "trailing", "window": "7d", "bucket": "5h"}}, "whole number"),
    ({"window": "24h", "bucket": "7h"}, "whole number of `bucket`s"),
    ({"window": 3600}, "write it with a unit"),
    ({"fdr": 1.5}, "between 0 and 1"),
    ({"bins": 1}, "at least 2"),
    ({"detectors": [{"stream": "error", "params": {"nonsense": 1}}]}, "bad adwin params"),
    ({"detectors": [{"stream": "latency"}]}, "flagged_rate"),
    ({"warning": {"proxies": []}}, "at least one proxy"),
    ({"windw": "1h"}, "extra"),
    # each bucket keeps a sketch of ~5 KiB: 1000d of 1m buckets would take 7 GiB
    ({"reference": {"window": "1000d", "bucket": "1m"}}, "the reference window holds 1440000 buckets of 1m; at most 720"),
    ({"window": "30d", "bucket": "1m"}, "the drift window holds 43200 buckets of 1m; at most 720"),
])
def test_mistakes_are_refused_with_a_message(block, message):
    with pytest.raises(ValidationError, match=message):
        DriftSpec.model_validate(block)


def test_yaml_dates_need_a_zone():
    data, _ = compose_yaml("start: 2026-11-01T00:00:00\nend: 2026-11-02T00:00:00Z\n", "x")
    with pytest.raises(ValidationError, match="no time zone"):
        ReferenceSpec.model_validate({"kind": "fixed", **data})


def test_it_plugs_into_the_slo_spec_as_an_optional_block():
    """How SloSpec would carry it (`drift: DriftSpec | None = None`), without editing spec.py."""
    class SloWithDrift(SloSpec):
        drift: DriftSpec | None = None

    base = {"name": "p", "model_id": "m", "metric": "precision", "positive_label": 1,
            "objective": 0.95}
    assert SloWithDrift.model_validate(base).drift is None
    spec = SloWithDrift.model_validate({**base, "drift": {}})
    assert spec.drift == DriftSpec()
    with pytest.raises(ValidationError):
        SloWithDrift.model_validate({**base, "drift": {"window": "soon"}})
