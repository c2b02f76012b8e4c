"""SLO file loading and validation: the CONTRACT example, defaults, and located errors."""

from __future__ import annotations

import pickle

import pytest

from slo.durations import format_duration
from slo.rules import resolve_rules
from slo.spec import SloSpecError, load_slo_file, parse_slo_yaml

# Verbatim from CONTRACT.md ("SLO file (YAML)").
CONTRACT_EXAMPLE = """\
slos:
  - name: fraud-precision          # unique, [a-z0-9-]
    model_id: fraud-detector
    metric: precision              # precision | recall
    positive_label: 1              # the class that counts as "flagged" / positive
    objective: 0.95                # the metric must stay at or above this
    window: 1h                     # rolling window over prediction event time
    min_labels: 30                 # below this many labels in the window: "insufficient data", never a page
    segments: [country]            # optional: also evaluate each value of these segment keys
    remediation:                   # optional: what to do, per alert severity
      critical: [rollback, raise_review_sampling, diagnostic_report]
      error: [raise_review_sampling, diagnostic_report]
pagerduty:
  routing_key_env: PAGERDUTY_ROUTING_KEY
"""


def test_contract_example_is_valid_and_read_as_written():
    slo_file = parse_slo_yaml(CONTRACT_EXAMPLE, "slos.yaml")
    (spec,) = slo_file.slos
    assert spec.name == "fraud-precision"
    assert spec.model_id == "fraud-detector"
    assert spec.metric == "precision"
    assert spec.positive_label == 1 and type(spec.positive_label) is int
    assert spec.objective == 0.95
    assert spec.window == 3600
    assert spec.min_labels == 30
    assert spec.segments == ("country",)
    assert spec.remediation == {"critical": ("rollback", "raise_review_sampling", "diagnostic_report"),
                                "error": ("raise_review_sampling", "diagnostic_report")}
    assert slo_file.pagerduty.routing_key_env == "PAGERDUTY_ROUTING_KEY"
    assert slo_file.source == "slos.yaml"


def test_load_slo_file_names_the_file(tmp_path):
    path = tmp_path / "monitor.yaml"
    path.write_text(CONTRACT_EXAMPLE.replace("objective: 0.95", "objective: 1.5"))
    with pytest.raises(SloSpecError) as info:
        load_slo_file(path)
    assert str(info.value) == "monitor.yaml:6: slos[0].objective: must be between 0 and 1 (got 1.5)"
    assert info.value.line == 6 and info.value.path == "slos[0].objective"
    path.write_text(CONTRACT_EXAMPLE)
    assert load_slo_file(path).slos[0].name == "fraud-precision"


def test_unreadable_file_is_a_spec_error(tmp_path):
    with pytest.raises(SloSpecError, match="cannot read"):
        load_slo_file(tmp_path / "missing.yaml")


def test_spec_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_slo_yaml("slos: []")


def _error(text: str) -> str:
    with pytest.raises(SloSpecError) as info:
        parse_slo_yaml(text, "slos.yaml")
    return str(info.value)


@pytest.mark.parametrize("change, expected", [
    (("objective: 0.95", "objective: 1.5"),
     "slos.yaml:6: slos[0].objective: must be between 0 and 1 (got 1.5)"),
    (("objective: 0.95", "objective: 0"),
     "slos.yaml:6: slos[0].objective: must be between 0 and 1 (got 0)"),
    (("objective: 0.95", "objective: high"),
     "slos.yaml:6: slos[0].objective: must be a number between 0 and 1 (got 'high')"),
    (("    metric: precision              # precision | recall\n", ""),
     "slos.yaml:2: slos[0].metric: missing required key"),
    (("metric: precision", "metric: precison"),
     "slos.yaml:4: slos[0].metric: unknown metric 'precison': expected 'precision' or 'recall' "
     "(did you mean 'precision'?)"),
    (("window: 1h", "window: 1 hour"),
     "slos.yaml:7: slos[0].window: bad duration '1 hour': use a whole number and a unit s, m, h, d "
     "or w, like 5m, 1h, 3d or 1h30m"),
    (("window: 1h", "window: 1M"),
     "slos.yaml:7: slos[0].window: bad duration '1M': M is not a unit here (minutes are m; months have no "
     "fixed length: use days or weeks, like 30d or 4w)"),
    (("window: 1h", "window: 60"),
     "slos.yaml:7: slos[0].window: bad duration 60: write it with a unit, like 5m, 1h or 3d"),
    (("name: fraud-precision", "name: Fraud_Precision"),
     "slos.yaml:2: slos[0].name: bad name 'Fraud_Precision': use lowercase letters, digits and '-' "
     "(not at either end), at most 63 characters"),
    (("    window: 1h", "    windw: 1h"),
     "slos.yaml:7: slos[0].windw: unknown key 'windw' (did you mean 'window'?)"),
    (("pagerduty:", "pagerdutty:"),
     "slos.yaml:13: pagerdutty: unknown key 'pagerdutty' (did you mean 'pagerduty'?)"),
    (("min_labels: 30", "min_labels: 0"),
     "slos.yaml:8: slos[0].min_labels: must be a whole number of at least 1 (got 0)"),
    (("[rollback, raise", "[rolback, raise"),
     "slos.yaml:11: slos[0].remediation.critical[0]: unknown remediation action 'rolback': expected "
     "'rollback', 'raise_review_sampling' or 'diagnostic_report' (did you mean 'rollback'?)"),
    (("      error: [raise", "      fatal: [raise"),
     "slos.yaml:12: slos[0].remediation.fatal: unknown severity 'fatal': expected 'critical', "
     "'error', 'warning' or 'info'"),
    (("positive_label: 1 ", "positive_label: 1.0 "),
     "slos.yaml:5: slos[0].positive_label: must be a bool, an integer or a string (got 1.0)"),
    (("routing_key_env: PAGERDUTY_ROUTING_KEY", "routing_key_env: 'not valid'"),
     "slos.yaml:14: pagerduty.routing_key_env: must be an environment variable name: letters, "
     "digits and _ (got 'not valid')"),
])
def test_rejections_name_line_path_and_problem(change, expected):
    old, new = change
    assert old in CONTRACT_EXAMPLE
    assert _error(CONTRACT_EXAMPLE.replace(old, new)) == expected


def test_invalid_yaml_syntax_gives_its_line():
    text = CONTRACT_EXAMPLE.replace("segments: [country]", "segments: [country")
    message = _error(text)
    assert message.startswith("slos.yaml:10: invalid YAML: ")


def test_duplicate_slo_name_points_at_the_second():
    text = CONTRACT_EXAMPLE.replace("pagerduty:", "  - name: fraud-precision\n    model_id: x\n"
                                    "    metric: recall\n    positive_label: 1\n"
                                    "    objective: 0.9\npagerduty:")
    assert _error(text) == ("slos.yaml:13: slos[1].name: duplicate SLO name 'fraud-precision' "
                            "(first defined at slos[0], line 2)")


def test_duplicate_yaml_key_is_refused():
    text = CONTRACT_EXAMPLE.replace("    window: 1h ", "    window: 1h\n    window: 2h ")
    assert _error(text) == "slos.yaml:8: slos[0].window: duplicate key (first given at line 7)"


def test_every_problem_is_reported_in_line_order():
    text = (CONTRACT_EXAMPLE.replace("objective: 0.95", "objective: 2")
            .replace("min_labels: 30", "min_labels: -1"))
    with pytest.raises(SloSpecError) as info:
        parse_slo_yaml(text, "slos.yaml")
    assert [p.line for p in info.value.problems] == [6, 8]
    assert str(info.value).splitlines()[1].startswith("slos.yaml:8: slos[0].min_labels")


@pytest.mark.parametrize("text, expected", [
    ("", "slos.yaml: expected a mapping with an 'slos' list, the file is empty"),
    ("- a\n", "slos.yaml:1: expected a mapping with an 'slos' list, the file is a list"),
    ("slos: []\n", "slos.yaml:1: slos: no SLOs defined (need at least one)"),
])
def test_empty_or_wrong_shape(text, expected):
    assert _error(text) == expected


def test_burn_rate_windows_are_checked():
    text = CONTRACT_EXAMPLE.replace("pagerduty:", "    alerting:\n      burn_rates:\n"
                                    "        - {severity: critical, long: 5m, short: 20m, "
                                    "threshold: 2}\npagerduty:")
    assert _error(text) == ("slos.yaml:15: slos[0].alerting.burn_rates[0].short: must be shorter "
                            "than long (5m)")
    text = text.replace("long: 5m, short: 20m", "long: 20m, short: 90s")
    assert "must be a whole number of 1m buckets" in _error(text)


def test_nested_typo_gets_a_hint():
    text = CONTRACT_EXAMPLE.replace("pagerduty:", "    alerting:\n      breach: {confidnce: 0.99}\n"
                                    "pagerduty:")
    assert _error(text) == ("slos.yaml:14: slos[0].alerting.breach.confidnce: unknown key "
                            "'confidnce' (did you mean 'confidence'?)")


MINIMAL = "slos: [{name: a, model_id: m, metric: precision, positive_label: 1, objective: 0.95}]"


def test_defaults_are_filled_in_and_scale_with_the_window():
    spec = parse_slo_yaml(MINIMAL).slos[0]
    assert (spec.window, spec.min_labels, spec.confidence, spec.interval) == (3600, 30, 0.95, "wilson")
    rules = resolve_rules(spec)
    assert rules.bucket == 60
    assert rules.breach.confidence == 0.9999 and rules.breach.for_s == 300
    burns = [(format_duration(r.long), format_duration(r.short), r.threshold, r.severity)
             for r in rules.burn_rates]
    assert burns == [("20m", "5m", 2.0, "critical"), ("6h", "30m", 1.0, "error"),
                     ("6h", "1h", 0.9, "warning")]
    assert rules.sustained.for_s == 3600 and rules.starvation.for_s == 1800
    assert rules.hysteresis == pytest.approx(0.005) and rules.resolve_for == 1800

    day = resolve_rules(parse_slo_yaml(MINIMAL.replace("}]", ", window: 1d}]")).slos[0])
    assert day.bucket == 15 * 60
    assert [(format_duration(r.long), format_duration(r.short)) for r in day.burn_rates][0] == ("8h", "2h")
    span, ahead = day.ring_buckets()
    assert span + ahead <= 720


def test_rules_can_be_tuned_and_disabled():
    text = MINIMAL.replace("}]", ", alerting: {sequential: null, starvation: null, "
                                 "breach: {confidence: 0.99, for: 0s}, burn_rates: "
                                 "[{severity: error, long: 1h, short: 5m, threshold: 3, for: 2m}], "
                                 "resolve: {hysteresis: 0.01, for: 1h}}}]")
    rules = resolve_rules(parse_slo_yaml(text).slos[0])
    assert rules.sequential is None and rules.starvation is None
    assert (rules.breach.confidence, rules.breach.for_s) == (0.99, 0)
    assert [(r.id, r.threshold, r.for_s) for r in rules.burn_rates] == [("burn_1h_5m", 3.0, 120)]
    assert (rules.hysteresis, rules.resolve_for) == (0.01, 3600)
    none = resolve_rules(parse_slo_yaml(MINIMAL.replace("}]", ", alerting: {burn_rates: []}}]")).slos[0])
    assert none.burn_rates == ()


def test_extension_keys_are_ignored():
    text = MINIMAL.replace("}]", ", x-team: fraud}]\nx-owner: ml-platform\n")
    assert parse_slo_yaml(text).slos[0].name == "a"


def test_compliance_and_recall_options():
    text = ("slos: [{name: r, model_id: m, metric: recall, positive_label: fraud, objective: 0.8, "
            "window: 1h, interval: clopper-pearson, confidence: 0.9, "
            "compliance: {period: 28d, target: 0.95}}]")
    spec = parse_slo_yaml(text).slos[0]
    assert spec.positive_label == "fraud" and spec.interval == "clopper-pearson"
    rules = resolve_rules(spec)
    assert (rules.compliance.period, rules.compliance.timeslice, rules.compliance.target) == (
        28 * 86400, 3600, 0.95)
    assert "timeslices" in _error(text.replace("period: 28d", "period: 90m"))


def test_routing_index_and_pickling():
    slo_file = parse_slo_yaml(CONTRACT_EXAMPLE)
    assert [s.name for s in slo_file.slos_for_model("fraud-detector")] == ["fraud-precision"]
    assert slo_file.slos_for_model("other") == ()
    clone = pickle.loads(pickle.dumps(slo_file))
    assert clone.slos == slo_file.slos
    assert slo_file.get("fraud-precision").objective == 0.95


def _one_slo(positive_label: str) -> str:
    return f"slos:\n  - name: a\n    model_id: m\n    metric: precision\n    positive_label: {positive_label}\n" \
           "    objective: 0.9\n"


@pytest.mark.parametrize("written, read_as", [("yes", "true"), ("off", "false"), ("On", "true"), ("0x1", "1"),
                                              ("01", "1"), ("1_0", "10"), ("12:30", "750")])
def test_a_positive_label_yaml_would_read_as_something_else_is_refused(written, read_as):
    """YAML 1.1 reads `yes` as true: predictions labelled "yes" would never count as flagged and
    the SLO would never page, without a word."""
    text = _one_slo(positive_label=written)
    with pytest.raises(SloSpecError) as info:
        parse_slo_yaml(text, "s.yaml")
    assert str(info.value) == (f's.yaml:5: slos[0].positive_label: YAML reads {written} as {read_as}: write '
                               f'"{written}" (quoted) for the text, or {read_as}')


@pytest.mark.parametrize("written, value", [('"yes"', "yes"), ("true", True), ("False", False), ("1", 1),
                                            ("-1", -1), ("fraud", "fraud"), ("'01'", "01")])
def test_a_positive_label_written_as_meant_is_taken_as_written(written, value):
    text = _one_slo(positive_label=written)
    assert parse_slo_yaml(text, "s.yaml").slos[0].positive_label == value
