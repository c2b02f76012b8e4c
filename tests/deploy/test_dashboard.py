"""The Grafana dashboard queries only metrics and labels the monitor really exports, and Grafana's
provisioning finds it and its Prometheus data source."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from tests.deploy.promql_checks import (
    SCRAPE_LABELS,
    dashboard_problems,
    dashboard_queries,
    equality_matchers,
    exported_series,
)

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "slo-monitor.json"
PROVISIONING = REPO / "deploy" / "grafana" / "provisioning"
PROMETHEUS_CONFIGS = sorted((REPO / "deploy" / "prometheus").glob("*.yml"))


@pytest.fixture(scope="module")
def exported() -> dict[str, frozenset[str]]:
    return exported_series()


@pytest.fixture(scope="module")
def target_labels() -> frozenset[str]:
    """Labels Prometheus adds on scrape: job and instance, static labels and relabelled targets."""
    labels = set(SCRAPE_LABELS)
    for path in PROMETHEUS_CONFIGS:
        for job in yaml.safe_load(path.read_text())["scrape_configs"]:
            for static in job.get("static_configs", []):
                labels |= set(static.get("labels", {}))
            labels |= {rule["target_label"] for rule in job.get("relabel_configs", []) if "target_label" in rule}
    return frozenset(labels)


@pytest.fixture
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def with_query(dashboard: dict, expr: str) -> dict:
    """A copy of the dashboard whose first panel query is `expr`."""
    broken = copy.deepcopy(dashboard)
    panel = next(panel for panel in broken["panels"] if panel.get("targets"))
    panel["targets"][0]["expr"] = expr
    return broken


def test_the_monitor_exports_the_metrics_the_readme_lists(exported):
    # The registry walk sees flows/metrics.py and Bytewax's lag gauge, with counters as *_total.
    for name in ("slo_monitor_slo_estimate", "slo_monitor_slo_burn_rate", "slo_monitor_records_in_total",
                 "slo_monitor_label_delay_seconds_bucket", "bytewax_kafka_consumer_lag"):
        assert name in exported
    assert "window" in exported["slo_monitor_slo_burn_rate"]
    assert "le" in exported["slo_monitor_label_delay_seconds_bucket"]
    assert "slo_monitor_records_in" not in exported  # a counter is only exposed with its suffix


def test_every_dashboard_query_uses_only_exported_metrics_and_labels(dashboard, exported, target_labels):
    assert dashboard_problems(dashboard, exported, target_labels) == []


def test_dashboard_shows_what_issue_9_asks_for(dashboard):
    queries = " ".join(query for _, query in dashboard_queries(dashboard))
    wanted = {
        "SLO estimate with bounds": ["slo_monitor_slo_estimate", "slo_monitor_slo_lower_bound",
                                     "slo_monitor_slo_upper_bound", "slo_monitor_slo_objective"],
        "burn rates": ["slo_monitor_slo_burn_rate"],
        "label volume": ["slo_monitor_slo_labels_in_window"],
        "join lag": ["slo_monitor_evaluation_lag_seconds", "bytewax_kafka_consumer_lag",
                     "slo_monitor_label_delay_seconds_bucket"],
        "DLQ rate": ["slo_monitor_dead_lettered_total"],
        "alerts": ["slo_monitor_alert_events_total", "slo_monitor_slo_state"],
    }
    missing = {what: [m for m in metrics if m not in queries] for what, metrics in wanted.items()}
    assert {what: m for what, m in missing.items() if m} == {}


def known_label_values() -> dict[tuple[str, str], set[str]]:
    """Label values the code writes, for the labels whose values are a fixed set."""
    from flows.join_state import RECORD_OUTCOMES
    from flows.metrics import STATES

    return {("slo_monitor_slo_state", "state"): set(STATES),
            ("slo_monitor_join_outcomes_total", "outcome"): set(RECORD_OUTCOMES)}


def fixed_label_values(dashboard: dict) -> set[tuple[str, str, str]]:
    """(metric, label, value) of equality matchers on labels with a fixed set of values."""
    known = known_label_values()
    return {(metric, label, value) for _, query in dashboard_queries(dashboard) if not query.startswith("label_values")
            for metric, label, value in equality_matchers(query) if (metric, label) in known}


def test_fixed_label_values_in_queries_are_ones_the_monitor_writes(dashboard):
    known = known_label_values()
    used = fixed_label_values(dashboard)
    assert {value for metric, label, value in used if value not in known[metric, label]} == set()
    assert {value for _, label, value in used if label == "state"} == known["slo_monitor_slo_state", "state"]


def test_a_state_value_the_monitor_never_writes_is_noticed(dashboard):
    broken = with_query(dashboard, 'count(slo_monitor_slo_state{state="breach"} == 1)')
    known = known_label_values()
    assert {value for metric, label, value in fixed_label_values(broken) if value not in known[metric, label]} == {"breach"}


def test_a_query_of_a_metric_that_does_not_exist_is_reported(dashboard, exported, target_labels):
    broken = with_query(dashboard, 'slo_monitor_slo_precision{slo=~"$slo"}')
    problems = dashboard_problems(broken, exported, target_labels)
    assert len(problems) == 1 and "'slo_monitor_slo_precision' is not exported" in problems[0]


def test_a_counter_queried_without_its_total_suffix_is_reported(dashboard, exported, target_labels):
    broken = with_query(dashboard, "sum(rate(slo_monitor_dead_lettered[5m]))")
    assert any("did you mean 'slo_monitor_dead_lettered_total'" in p for p in dashboard_problems(broken, exported, target_labels))


def test_a_selector_on_a_label_the_metric_lacks_is_reported(dashboard, exported, target_labels):
    broken = with_query(dashboard, 'slo_monitor_evaluation_lag_seconds{model_id="fraud-detector"}')
    problems = dashboard_problems(broken, exported, target_labels)
    assert len(problems) == 1 and "slo_monitor_evaluation_lag_seconds has no label 'model_id'" in problems[0]


def test_grouping_by_a_label_no_aggregated_metric_has_is_reported(dashboard, exported, target_labels):
    broken = with_query(dashboard, "sum by (severty) (rate(slo_monitor_alert_events_total[5m]))")
    assert any("no label 'severty'" in p for p in dashboard_problems(broken, exported, target_labels))


def test_a_query_that_is_not_promql_is_reported(dashboard, exported, target_labels):
    broken = with_query(dashboard, "sum(rate(slo_monitor_records_in_total[$__rate_interval])")
    assert any("does not parse as PromQL" in p for p in dashboard_problems(broken, exported, target_labels))


def test_template_variable_and_annotation_queries_are_checked_too(dashboard, exported, target_labels):
    broken = copy.deepcopy(dashboard)
    variable = next(v for v in broken["templating"]["list"] if v["name"] == "model_id")
    variable["query"] = "label_values(slo_monitor_slo_objective, model)"
    broken["annotations"]["list"][1]["expr"] = "increase(slo_monitor_alerts_total[2m]) > 0"
    problems = dashboard_problems(broken, exported, target_labels)
    assert any("variable $model_id" in p and "no label 'model'" in p for p in problems)
    assert any("Alert events" in p and "'slo_monitor_alerts_total' is not exported" in p for p in problems)


def test_panels_use_the_dashboard_datasource_variable(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert all(p["datasource"] == {"type": "prometheus", "uid": "${datasource}"} for p in panels)
    assert all(t["datasource"]["uid"] == "${datasource}" for p in panels for t in p["targets"])


def test_panel_ids_are_unique_and_panels_fit_the_grid(dashboard):
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in dashboard["panels"])


def test_provisioned_datasource_is_the_dashboards_default(dashboard):
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yaml").read_text())["datasources"]
    prometheus = next(d for d in datasources if d["type"] == "prometheus")
    default = next(v for v in dashboard["templating"]["list"] if v["name"] == "datasource")["current"]["value"]
    assert prometheus["uid"] == default and prometheus["isDefault"] is True


def test_responder_dashboard_link_targets_this_dashboard(dashboard):
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    command = compose["services"]["responder"]["command"]
    url = command[command.index("--dashboard-url") + 1]
    assert f"/d/{dashboard['uid']}/" in url
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {part.split("=")[0].removeprefix("var-") for part in url.split("?")[1].split("&")} <= variables
