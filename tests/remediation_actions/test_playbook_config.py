"""The remediation config file: where playbooks come from, merged options, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from remediation.alert_record import parse_alert
from remediation.playbook_config import (
    PlaybookConfigError,
    RollbackOptions,
    SamplingOptions,
    load_playbook_config,
    parse_playbook_config,
)
from slo.spec import parse_slo_yaml
from tests.remediation_actions.support import breach

SLOS = parse_slo_yaml("""
slos:
  - name: fraud-precision
    model_id: fraud-detector
    metric: precision
    positive_label: 1
    objective: 0.95
    remediation:
      critical: [rollback, raise_review_sampling, diagnostic_report]
      error: [raise_review_sampling]
""")

EXAMPLE = """
defaults:
  max_actions_per_day: 3
  rollback: {cooldown: 12h}
  raise_review_sampling: {baseline: 0.02, factor: 10, cap: 0.15, duration: 2h}
slos:
  fraud-precision:
    approval_only: true
    playbook:
      critical: [raise_review_sampling, rollback]
    rollback: {min_labels: 300}
models:
  fraud-detector: {registered_model: fraud-detector-prod, alias: production}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "remediation.yaml"
    path.write_text(text)
    return path


def test_example_file_merges_defaults_slo_and_model_settings(tmp_path):
    config = load_playbook_config(write(tmp_path, EXAMPLE), SLOS)
    book = config.playbook(parse_alert(breach(model_id="fraud-detector")))
    assert book.actions == ("raise_review_sampling", "rollback")                  # the file's order
    assert book.source.endswith("remediation.yaml slos.fraud-precision.playbook.critical")
    assert (book.mode, book.max_actions_per_day) == ("approval", 3)
    assert (book.registered_model, book.alias) == ("fraud-detector-prod", "production")
    assert book.options_for("rollback") == RollbackOptions(cooldown=12 * 3600, min_labels=300)
    sampling = book.options_for("raise_review_sampling")
    assert sampling == SamplingOptions(baseline=0.02, factor=10, cap=0.15, duration=7200)
    assert sampling.raised_rate == 0.15                                           # 0.2 capped


def test_actions_come_from_the_file_then_the_alert_then_the_slo_file():
    config = parse_playbook_config({}, slo_actions={"fraud-precision": {"error": ("raise_review_sampling",)}})
    carried = parse_alert(breach(model_id="m", remediation=["rollback"]))
    assert config.playbook(carried).actions == ("rollback",)
    bare = parse_alert({k: v for k, v in breach(model_id="m", severity="error").items() if k != "remediation"})
    assert config.playbook(bare).actions == ("raise_review_sampling",)
    assert config.playbook(bare).source == "the SLO file's remediation.error"
    warning = parse_alert({k: v for k, v in breach(model_id="m", severity="warning").items() if k != "remediation"})
    assert config.playbook(warning).actions == ()
    default = config.playbook(carried)
    assert (default.registered_model, default.alias, default.mode) == ("m", "champion", "live")


def test_command_line_switches_override_every_slo():
    config = parse_playbook_config({"slos": {"fraud-precision": {"dry_run": False}}})
    forced = config.with_overrides(dry_run=True)
    assert forced.playbook(parse_alert(breach(model_id="m"))).mode == "dry_run"


@pytest.mark.parametrize("text, message", [
    ("slos:\n  fraud-precison: {dry_run: true}\n",
     "slos.fraud-precison: no SLO of that name in the SLO file (did you mean 'fraud-precision'?)"),
    ("defaults:\n  rollback: {cooldwn: 1h}\n", "defaults.rollback.cooldwn: unknown key (did you mean 'cooldown'?)"),
    ("defaults:\n  rollback: {cooldown: 90}\n", None),
    ("defaults:\n  rollback: {cooldown: soon}\n", "defaults.rollback.cooldown: bad duration 'soon'"),
    ("slos:\n  fraud-precision:\n    playbook: {critical: [rollbak]}\n",
     "unknown action 'rollbak': expected one of rollback, raise_review_sampling, diagnostic_report "
     "(did you mean 'rollback'?)"),
    ("defaults:\n  raise_review_sampling: {cap: 1.5}\n",
     "defaults.raise_review_sampling.cap: input should be less than or equal to 1 (got 1.5)"),
    ("defaults:\n  raise_review_sampling: {baseline: 0.3, cap: 0.2}\n",
     "defaults.raise_review_sampling: cap 0.2 is below the baseline 0.3: raising would lower the rate"),
    ("models:\n  fraud-detecter: {registered_model: x}\n",
     "models.fraud-detecter: no SLO of the SLO file watches a model of that name (did you mean 'fraud-detector'?)"),
    ("- just a list\n", "expected a mapping at the top level, not list"),
    ("defaults: {dry_run: [\n", "invalid YAML"),
    # plain YAML keeps the last of two equal keys: here rollbacks would run for real
    ("defaults:\n  dry_run: true\n  dry_run: false\n", ":3: defaults.dry_run: duplicate key (first given at line 2)"),
    ("slos:\n  fraud-precision: {dry_run: true}\n  fraud-precision: {}\n",
     ":3: slos.fraud-precision: duplicate key (first given at line 2)"),
])
def test_errors_name_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    if message is None:
        assert load_playbook_config(path, SLOS).playbook(
            parse_alert(breach(model_id="m"))).options_for("rollback").cooldown == 90
        return
    with pytest.raises(PlaybookConfigError) as error:
        load_playbook_config(path, SLOS)
    assert str(error.value).startswith(f"{path}:")
    assert message in str(error.value)


def test_missing_file_and_no_file(tmp_path):
    with pytest.raises(PlaybookConfigError, match="cannot read"):
        load_playbook_config(tmp_path / "nope.yaml")
    assert load_playbook_config(None).playbook(parse_alert(breach(model_id="m"))).max_actions_per_day == 4


def test_a_null_daily_limit_means_no_limit_as_documented():
    alert = parse_alert(breach(model_id="m"))
    assert parse_playbook_config({"defaults": {"max_actions_per_day": None}}).playbook(alert).max_actions_per_day is None
    per_slo = {"defaults": {"max_actions_per_day": 2}, "slos": {"fraud-precision": {"max_actions_per_day": None}}}
    assert parse_playbook_config(per_slo).playbook(alert).max_actions_per_day is None
    assert parse_playbook_config({"defaults": {"max_actions_per_day": 2}}).playbook(alert).max_actions_per_day == 2
    assert "no daily action limit" in parse_playbook_config({"defaults": {"max_actions_per_day": None}}).describe()
