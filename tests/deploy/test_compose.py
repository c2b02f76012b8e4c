"""docker-compose.yml follows the Compose Specification and its parts fit together: services,
volumes, files, ports, environment, topics, and the commands the slo-monitor CLI really accepts."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.compose_checks import (
    command_list,
    env,
    load,
    reference_problems,
    schema_problems,
    slo_monitor_command,
    volume_mounts,
)

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"


@pytest.fixture
def compose() -> dict:
    return load(COMPOSE)


def parse_cli(argv: list[str]):
    """The arguments as `slo-monitor` parses them (argparse exits on an unknown flag)."""
    from slo_monitor.cli import build_parser

    return build_parser().parse_args(argv)


def service_running(compose: dict, subcommand: str) -> tuple[str, dict]:
    return next((name, s) for name, s in compose["services"].items() if slo_monitor_command(s)[:1] == [subcommand])


# ---- the schema --------------------------------------------------------------------------------

def test_compose_file_matches_the_compose_specification(compose):
    assert schema_problems(compose) == []


def test_a_misspelled_service_key_breaks_the_schema(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["monitor"]["enviroment"] = broken["services"]["monitor"].pop("environment")
    assert any("'enviroment' was unexpected" in p for p in schema_problems(broken))


def test_a_misspelled_healthcheck_key_breaks_the_schema(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["kafka"]["healthcheck"]["intervall"] = "5s"
    assert any("services/kafka/healthcheck" in p and "intervall" in p for p in schema_problems(broken))


def test_a_wrongly_typed_value_breaks_the_schema(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["monitor"]["depends_on"] = "kafka-init"  # must be a list or a mapping
    assert any(p.startswith("services/monitor/depends_on") for p in schema_problems(broken))


# ---- cross-references --------------------------------------------------------------------------

def test_references_between_services_volumes_files_and_ports_hold(compose):
    assert reference_problems(compose, REPO) == []


def test_depends_on_a_missing_service_is_reported(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["monitor"]["depends_on"]["kafka_init"] = {"condition": "service_completed_successfully"}
    assert "monitor: depends_on 'kafka_init', which is not a service" in reference_problems(broken, REPO)


def test_waiting_for_health_of_a_service_without_healthcheck_is_reported(compose):
    broken = copy.deepcopy(compose)
    del broken["services"]["kafka"]["healthcheck"]
    assert any("kafka has no healthcheck" in p for p in reference_problems(broken, REPO))


def test_an_undeclared_named_volume_is_reported(compose):
    broken = copy.deepcopy(compose)
    del broken["volumes"]["monitor-recovery"]
    assert "monitor: volume 'monitor-recovery' is not declared under top-level volumes" in reference_problems(broken, REPO)


def test_a_missing_bind_mount_source_is_reported(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["prometheus"]["volumes"][0]["source"] = "./deploy/prometheus/prometheus.yaml"
    assert any("prometheus.yaml does not exist" in p for p in reference_problems(broken, REPO))


def test_a_host_port_published_twice_is_reported(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["mlflow"]["ports"].append("3000:5000")
    problems = reference_problems(broken, REPO)
    assert len(problems) == 1 and "host port 3000/tcp is already published" in problems[0]


def test_a_missing_environment_variable_is_reported(compose):
    broken = copy.deepcopy(compose)
    del broken["services"]["monitor"]["environment"]["MLFLOW_TRACKING_URI"]
    assert "monitor: `slo-monitor run` needs MLFLOW_TRACKING_URI, which is not set" in reference_problems(broken, REPO)


def test_an_address_naming_no_service_is_reported(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["monitor"]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] = "broker:9092"
    assert "monitor: KAFKA_BOOTSTRAP_SERVERS names 'broker', which is not a service" in reference_problems(broken, REPO)


# ---- the slo-monitor services ------------------------------------------------------------------

def test_monitor_and_responder_commands_parse_with_the_real_cli(compose):
    _, monitor = service_running(compose, "run")
    _, responder = service_running(compose, "respond")
    run = parse_cli(slo_monitor_command(monitor))
    assert run.no_responder, "the monitor must leave paging to the responder service"
    assert run.metrics_host not in ("127.0.0.1", "localhost"), "Prometheus scrapes from another container"
    assert run.recovery_dir is not None
    named = {m["target"] for m in volume_mounts(monitor) if m["type"] == "volume"}
    assert {str(run.recovery_dir), str(run.reports_dir)} <= named, "state and reports must outlive the container"
    respond = parse_cli(slo_monitor_command(responder))
    assert respond.config == run.config


def test_every_slo_monitor_service_command_parses(compose):
    for name, service in compose["services"].items():
        if slo_monitor_command(service):
            parse_cli(slo_monitor_command(service))  # SystemExit(2) names the bad flag


def test_the_mounted_slo_file_is_valid_and_its_routing_key_variable_is_set(compose):
    from slo.spec import load_slo_file

    for subcommand in ("run", "respond"):
        name, service = service_running(compose, subcommand)
        config = parse_cli(slo_monitor_command(service)).config
        mount = next(m for m in volume_mounts(service) if m["target"] == config)
        slo_file = load_slo_file(REPO / mount["source"])
        if subcommand == "respond":
            assert slo_file.pagerduty.routing_key_env in env(service), f"{name} lacks the routing key variable"


def test_services_reach_kafka_on_an_advertised_listener(compose):
    advertised = env(compose["services"]["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    addresses = {listener.split("://", 1)[1] for listener in advertised.split(",")}
    for name, service in compose["services"].items():
        if "KAFKA_BOOTSTRAP_SERVERS" in env(service):
            assert env(service)["KAFKA_BOOTSTRAP_SERVERS"] in addresses, name


def test_kafka_is_a_single_kraft_node_configured_like_the_local_broker(compose):
    kafka_env = env(compose["services"]["kafka"])
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", kafka_env["CLUSTER_ID"])
    # deploy/kafka/server.properties.in's settings (except listeners, which differ by design).
    template = (REPO / "deploy" / "kafka" / "server.properties.in").read_text()
    for line in template.splitlines():
        if "=" not in line or line.startswith("#") or "@" in line or "listener" in line:
            continue
        key, value = line.split("=", 1)
        variable = "KAFKA_" + key.replace(".", "_").upper()
        assert kafka_env.get(variable) == value, f"{variable} should be {value} like {key} in server.properties.in"


def test_topic_init_creates_every_topic_the_monitor_and_responder_use(compose):
    from flows.settings import Topics
    from remediation.responder import ResponderSettings

    script = "\n".join(command_list(compose["services"]["kafka-init"]))
    loop = re.search(r"for topic in (.*?); do", script, re.S)
    created = set(loop.group(1).replace("\\\n", " ").split()) | set(re.findall(r"^\s*create ([\w.-]+)", script, re.M))
    topics = Topics()
    defaults = {f.name: f.default for f in dataclasses.fields(ResponderSettings) if f.name.endswith("_topic")}
    needed = {*topics.inputs(), *topics.monitor_outputs(), *defaults.values(), "review-sampling", "model-control"}
    assert needed <= created, f"not created: {sorted(needed - created)}"
    assert re.search(r"create review-sampling .*cleanup\.policy=compact", script), "compacted, says CONTRACT.md"
    run = parse_cli(slo_monitor_command(service_running(compose, "run")[1]))
    assert f"--partitions {run.partitions}" in script


def test_prometheus_scrapes_the_monitor_metrics_port(compose):
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for s in job.get("static_configs", []) for t in s["targets"]}
    name, monitor = service_running(compose, "run")
    run = parse_cli(slo_monitor_command(monitor))
    served = {f"{name}:{run.metrics_port + process}" for process in range(run.processes)}
    assert served <= targets
    mounted = {m["target"]: m["source"] for m in volume_mounts(compose["services"]["prometheus"])}
    assert mounted["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.yml"


def test_grafana_provisioning_is_mounted_and_points_at_prometheus(compose):
    grafana = compose["services"]["grafana"]
    mounts = {m["target"]: REPO / m["source"] for m in volume_mounts(grafana) if m["type"] == "bind"}
    provisioning = mounts["/etc/grafana/provisioning"]
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090" and "prometheus" in compose["services"]
    provider = yaml.safe_load((provisioning / "dashboards" / "slo-monitor.yaml").read_text())["providers"][0]
    dashboards_dir = mounts[provider["options"]["path"]]
    assert (dashboards_dir / "slo-monitor.json").is_file()
    home = env(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (dashboards_dir / Path(home).relative_to(provider["options"]["path"])).is_file()


def test_mlflow_keeps_its_sqlite_store_on_a_volume_and_accepts_the_executors_host(compose):
    """The monitor's process runs the remediation executor, which rolls models back in MLflow."""
    mlflow = compose["services"]["mlflow"]
    command = command_list(mlflow)
    store = command[command.index("--backend-store-uri") + 1]
    assert store.startswith("sqlite:////")
    volume_targets = [m["target"] for m in volume_mounts(mlflow) if m["type"] == "volume"]
    assert any(store.removeprefix("sqlite:///").startswith(target + "/") for target in volume_targets)
    name, monitor = service_running(compose, "run")
    assert not parse_cli(slo_monitor_command(monitor)).no_remediation
    assert compose["services"][name]["depends_on"]["mlflow"] == {"condition": "service_started"}
    uri = env(monitor)["MLFLOW_TRACKING_URI"]
    host_port = uri.split("://", 1)[1]
    assert host_port == f"mlflow:{command[command.index('--port') + 1]}"
    assert host_port in command[command.index("--allowed-hosts") + 1].split(",")


def test_the_demo_profile_closes_the_loop_of_make_demo(compose):
    """The demo traffic's bad release is the registry's champion, the monitor's playbooks roll it
    back on the topics the simulator follows, and everything starts in that order."""
    from remediation.executor import ExecutorSettings
    from slo.spec import load_slo_file
    from slo_monitor.local_mlflow import DEMO_CHAMPION, DEMO_VERSIONS

    services = compose["services"]
    _, registry_job = service_running(compose, "demo-model")
    _, traffic = service_running(compose, "simulate")
    monitor_name, monitor = service_running(compose, "run")
    assert registry_job["profiles"] == traffic["profiles"] == ["demo"]

    registered = parse_cli(slo_monitor_command(registry_job))
    simulate = parse_cli(slo_monitor_command(traffic))
    assert simulate.scenario == "bad_version" and simulate.rollout_share == 1, "the whole traffic on the bad release"
    assert simulate.model_id == registered.model_id
    assert (simulate.model_version, simulate.new_version) == ("1", DEMO_CHAMPION) and len(DEMO_VERSIONS) == 2
    assert env(registry_job)["MLFLOW_TRACKING_URI"] == env(monitor)["MLFLOW_TRACKING_URI"]

    config = parse_cli(slo_monitor_command(monitor)).config
    slo_file = load_slo_file(REPO / next(m["source"] for m in volume_mounts(monitor) if m["target"] == config))
    playbooks = [slo.remediation for slo in slo_file.slos if slo.model_id == simulate.model_id]
    assert any("rollback" in steps for playbook in playbooks for steps in playbook.values()), \
        "no SLO of the demo's model rolls back"
    executor = ExecutorSettings(bootstrap_servers="kafka:9092")
    assert (simulate.follow_model_control, simulate.follow_review_sampling) == (
        executor.model_control_topic, executor.review_sampling_topic)

    assert registry_job["depends_on"]["mlflow"] == {"condition": "service_healthy"}
    assert traffic["depends_on"]["demo-model"] == {"condition": "service_completed_successfully"}
    assert traffic["depends_on"][monitor_name] == {"condition": "service_healthy"}
    assert "healthcheck" in services[monitor_name]
