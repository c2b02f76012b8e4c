"""Routing keys: per SLO, per tier, default; from env or files; never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from remediation.paging_config import PagingConfigError, load_paging_config
from remediation.responder_cli import settings_from_slo_file
from remediation.routing_keys import (
    KeySource,
    RedactingFilter,
    RoutingConfig,
    RoutingConfigError,
    RoutingKeys,
    redact,
)
from tests.remediation.support import KEY, OTHER_KEY

THIRD_KEY = "a" * 32


def test_lookup_order_is_slo_then_tier_then_default(tmp_path: Path) -> None:
    secret = tmp_path / "fraud-key"
    secret.write_text(THIRD_KEY + "\n")
    env = {"PAGERDUTY_ROUTING_KEY": KEY, "PAGERDUTY_ROUTING_KEY_CRITICAL": OTHER_KEY}
    keys = RoutingKeys(RoutingConfig.from_environment(env, slos={"fraud-recall": KeySource(file=str(secret))}), env)
    assert keys.target_for("fraud-precision", "warning") == "default"
    assert keys.target_for("fraud-precision", "critical") == "tier:critical"
    assert keys.target_for("fraud-recall", "critical") == "slo:fraud-recall"
    assert (keys.key("default"), keys.key("tier:critical"), keys.key("slo:fraud-recall")) == (KEY, OTHER_KEY, THIRD_KEY)


def test_file_variants_and_custom_base_variable(tmp_path: Path) -> None:
    (tmp_path / "k").write_text(KEY)
    env = {"PD_FRAUD_FILE": str(tmp_path / "k"), "PD_FRAUD_WARNING": OTHER_KEY}
    keys = RoutingKeys(RoutingConfig.from_environment(env, base="PD_FRAUD"), env)
    assert keys.key("default") == KEY and keys.target_for("s", "warning") == "tier:warning"


def test_without_any_key_paging_is_log_only() -> None:
    keys = RoutingKeys(RoutingConfig.from_environment({}), {})
    assert not keys.any_key and keys.key(keys.target_for("s", "critical")) is None
    assert "not set: log only" in keys.describe()["default"]


def test_an_unreadable_key_file_is_named_not_shown(tmp_path: Path) -> None:
    with pytest.raises(RoutingConfigError, match="file .*missing"):
        RoutingKeys(RoutingConfig(default=KeySource(file=str(tmp_path / "missing"))), {})


def test_descriptions_and_problems_never_contain_keys() -> None:
    env = {"PAGERDUTY_ROUTING_KEY": KEY, "PAGERDUTY_ROUTING_KEY_INFO": "short-key-31-characters-long-xx"}
    keys = RoutingKeys(RoutingConfig.from_environment(env), env)
    shown = repr(keys) + str(keys.describe()) + " ".join(keys.problems())
    assert KEY not in shown and "short-key-31" not in shown
    assert keys.problems() == ["routing key of tier:info (env PAGERDUTY_ROUTING_KEY_INFO) has 31 characters; "
                               "PagerDuty integration keys have 32"]


def test_a_key_with_other_characters_than_letters_and_digits_is_a_problem() -> None:
    pasted = KEY[:16] + "-" + KEY[17:]   # 32 characters, one of them refused by PagerDuty
    env = {"PAGERDUTY_ROUTING_KEY": pasted}
    keys = RoutingKeys(RoutingConfig.from_environment(env), env)
    assert keys.problems() == ["routing key of default (env PAGERDUTY_ROUTING_KEY) has characters other than "
                               "letters and digits; PagerDuty refuses it"]


def test_redacting_filter_scrubs_messages_args_and_tracebacks() -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect()
    handler.addFilter(RedactingFilter([KEY]))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("sending with %s", KEY)
        try:
            raise RuntimeError(f"bad key {KEY}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = "\n".join(records)
    assert KEY not in text and text.count("[REDACTED]") == 2
    assert redact(f"x{KEY}y", [KEY]) == "x[REDACTED]y"


def test_paging_config_file_routes_per_slo_and_tier(tmp_path: Path) -> None:
    (tmp_path / "fraud").write_text(THIRD_KEY)
    config = tmp_path / "paging.yaml"
    config.write_text(f"""
routing:
  tiers:
    critical: {{env: SRE_ONCALL_KEY}}
  slos:
    fraud-recall: {{file: {tmp_path / 'fraud'}}}
maintenance:
  - {{slo: fraud-precision, start: 2026-11-27T02:00:00Z, end: 2026-11-27T04:00:00Z, reason: retraining}}
links:
  dashboard: https://grafana.example/d/slo?var-slo={{slo}}
rate_limit_per_minute: 60
""")
    env = {"PAGERDUTY_ROUTING_KEY": KEY, "SRE_ONCALL_KEY": OTHER_KEY}
    settings = settings_from_slo_file(None, "127.0.0.1:9092", load_paging_config(config), env)
    keys = RoutingKeys(settings.routing, env)
    assert keys.target_for("fraud-recall", "critical") == "slo:fraud-recall"
    assert keys.key(keys.target_for("fraud-precision", "critical")) == OTHER_KEY
    assert keys.key(keys.target_for("fraud-precision", "error")) == KEY
    assert settings.rate_limit_per_minute == 60 and settings.maintenance[0].reason == "retraining"
    assert settings.links.dashboard == "https://grafana.example/d/slo?var-slo={slo}"


@pytest.mark.parametrize("text, problem", [
    ("routing: {tiers: {sev1: {env: X}}}", "unknown tier"),
    ("routing: {default: {env: X, file: /y}}", "exactly one of"),
    ("routing: {default: {value: abc}}", "Extra inputs are not permitted"),
    ("maintenance: [{slo: s, start: 2026-11-27T04:00:00Z, end: 2026-11-27T02:00:00Z}]", "start must be before end"),
    ("maintenance: [{slo: s, start: 2026-11-27 02:00:00, end: 2026-11-27T04:00:00Z}]", "time zone"),
    # plain YAML would keep the second: pages of one SLO to another team's key, without a word
    ("routing:\n  slos:\n    fraud-precision: {env: A}\n    fraud-precision: {env: B}\n",
     r"paging.yaml:4: routing.slos.fraud-precision: duplicate key \(first given at line 3\)"),
])
def test_paging_config_problems_are_named(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "paging.yaml"
    path.write_text(text)
    with pytest.raises(PagingConfigError, match=problem):
        load_paging_config(path)


@pytest.mark.parametrize("text, problem", [
    ("routing:\n  slos:\n    fraud-precison: {env: X}\n",
     "routing.slos.fraud-precison: no SLO named 'fraud-precison' in the SLO file (did you mean 'fraud-precision'?)"),
    ("maintenance: [{slo: fraud-precison, start: 2026-11-27T02:00:00Z, end: 2026-11-27T04:00:00Z}]",
     "maintenance[0].slo: no SLO named 'fraud-precison' in the SLO file (did you mean 'fraud-precision'?)"),
    ("slack: {severities: [warn]}", "slack.severities: unknown severity 'warn': expected info, warning, error, "
                                    "critical (did you mean 'warning'?)"),
])
def test_routes_that_could_never_match_are_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "paging.yaml"
    path.write_text(text)
    with pytest.raises(PagingConfigError) as info:
        load_paging_config(path, ["fraud-precision", "fraud-recall"])
    assert problem in str(info.value)


def test_a_maintenance_window_for_every_slo_needs_no_name(tmp_path: Path) -> None:
    path = tmp_path / "paging.yaml"
    path.write_text("maintenance: [{slo: '*', start: 2026-11-27T02:00:00Z, end: 2026-11-27T04:00:00Z}]")
    assert load_paging_config(path, ["fraud-precision"]).windows()[0].slo == "*"
