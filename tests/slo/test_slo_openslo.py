"""Import of OpenSLO v1 SLO documents with a ratio indicator."""

from __future__ import annotations

import pytest

from slo.rules import resolve_rules
from slo.spec import SloSpecError, parse_slo_yaml
from slo.openslo import looks_like_openslo, parse_openslo_yaml

OCCURRENCES = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: fraud-precision
  annotations:
    slo-monitor/min-labels: "50"
    slo-monitor/segments: country, device
spec:
  description: Flagged transactions must really be fraud
  service: fraud-detector
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 1h
      isRolling: true
  objectives:
    - displayName: good enough
      target: 0.95
  indicator:
    metadata:
      name: fraud-precision-sli
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: slo-monitor
            spec: {counter: false_positives, positive_label: 1}
        total:
          metricSource:
            type: slo-monitor
            spec: {counter: flagged}
"""

TIMESLICES = """\
apiVersion: openslo/v1
kind: SLI
metadata:
  name: fraud-recall-sli
spec:
  ratioMetric:
    counter: true
    good:
      metricSource: {type: slo-monitor, spec: {counter: true_positives, positive_label: fraud}}
    total:
      metricSource: {type: slo-monitor, spec: {counter: actual_positives}}
---
apiVersion: openslo/v1
kind: Service
metadata:
  name: fraud-detector
spec:
  description: ignored
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: fraud-recall
  annotations:
    slo-monitor/model-id: fraud-detector-v2
spec:
  service: fraud-detector
  indicatorRef: fraud-recall-sli
  budgetingMethod: Timeslices
  timeWindow:
    - duration: 28d
      isRolling: true
  objectives:
    - target: 0.99
      timeSliceTarget: 0.8
      timeSliceWindow: 1h
"""


def test_occurrences_slo_maps_to_our_keys():
    assert looks_like_openslo(OCCURRENCES)
    (spec,) = parse_slo_yaml(OCCURRENCES, "openslo.yaml").slos    # detected automatically
    assert (spec.name, spec.model_id, spec.metric, spec.objective, spec.window) == (
        "fraud-precision", "fraud-detector", "precision", 0.95, 3600)
    assert spec.positive_label == 1 and spec.min_labels == 50
    assert spec.segments == ("country", "device")
    assert spec.description == "Flagged transactions must really be fraud"
    assert spec.compliance is None


def test_timeslices_slo_with_indicator_ref():
    (spec,) = parse_openslo_yaml(TIMESLICES, "openslo.yaml").slos
    assert (spec.name, spec.model_id, spec.metric, spec.positive_label) == (
        "fraud-recall", "fraud-detector-v2", "recall", "fraud")
    assert (spec.objective, spec.window) == (0.8, 3600)
    rules = resolve_rules(spec)
    assert (rules.compliance.period, rules.compliance.target, rules.compliance.timeslice) == (
        28 * 86400, 0.99, 3600)


@pytest.mark.parametrize("change, message", [
    (("counter: false_positives", "counter: false_positive"),
     "openslo.yaml:27: spec.indicator.spec.ratioMetric.bad.metricSource.spec.counter: unknown "
     "counter 'false_positive'"),
    (("type: slo-monitor\n            spec: {counter: flagged}", "type: prometheus\n            spec: {counter: flagged}"),
     "openslo.yaml:30: spec.indicator.spec.ratioMetric.total.metricSource.type: unsupported metric "
     "source 'prometheus'"),
    (("isRolling: true", "isRolling: false"),
     "openslo.yaml:14: spec.timeWindow[0].isRolling: calendar windows are not supported"),
    (("target: 0.95", "target: 95"),
     "openslo.yaml:17: slos[0].objective: must be between 0 and 1 (got 95)"),
    (("counter: flagged", "counter: actual_positives"),
     "openslo.yaml:22: spec.indicator.spec.ratioMetric: bad false_positives over total "
     "actual_positives is neither precision nor recall"),
    (("apiVersion: openslo/v1", "apiVersion: openslo/v2alpha"),
     "openslo.yaml:1: apiVersion: unsupported apiVersion 'openslo/v2alpha'"),
])
def test_errors_point_into_the_openslo_document(change, message):
    old, new = change
    assert old in OCCURRENCES
    with pytest.raises(SloSpecError) as info:
        parse_slo_yaml(OCCURRENCES.replace(old, new), "openslo.yaml")
    assert str(info.value).startswith(message)


def test_missing_indicator_reference():
    text = TIMESLICES.replace("indicatorRef: fraud-recall-sli", "indicatorRef: fraud-recal-sli")
    with pytest.raises(SloSpecError, match="no kind: SLI document named 'fraud-recal-sli' "
                                           r"\(did you mean 'fraud-recall-sli'\?\)"):
        parse_openslo_yaml(text, "openslo.yaml")
