"""The Kubernetes manifests (deploy/k8s/) are valid API objects that fit together, and the
StatefulSet's start script gives each pod its own process of one monitor cluster."""

from __future__ import annotations

import json
import os
import runpy
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.compose_checks import required_env
from tests.deploy.k8s_checks import OLDEST_KUBERNETES, help_flags, load, schema_problems, structure_problems

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
RECOVERY_MOUNT = "/var/lib/slo-monitor/recovery"


@pytest.fixture(scope="module")
def run_flags() -> set[str]:
    """The flags `slo-monitor run --help` prints."""
    result = subprocess.run([sys.executable, "-m", "slo_monitor", "run", "--help"], capture_output=True,
                            text=True, check=True, cwd=REPO)
    return help_flags(result.stdout)


@pytest.fixture
def objects() -> list[dict]:
    return load(K8S)


def find(objects: list[dict], kind: str, name: str | None = None) -> dict:
    return next(o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"]))


def container(workload: dict, name: str) -> dict:
    return next(c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == name)


# ---- schemas -------------------------------------------------------------------------------------

def newest_kubernetes() -> str:
    from kubernetes_validate.utils import latest_version

    return latest_version()


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, newest_kubernetes()])
def test_manifests_match_the_kubernetes_openapi_schemas(objects, version):
    assert schema_problems(objects, version) == []


def test_a_misspelled_field_breaks_the_schema(objects):
    monitor = container(find(objects, "StatefulSet"), "monitor")
    monitor["volumeMount"] = monitor.pop("volumeMounts")
    assert any("'volumeMount' was unexpected" in p for p in schema_problems(objects))


def test_a_wrongly_typed_field_breaks_the_schema(objects):
    find(objects, "StatefulSet")["spec"]["replicas"] = "two"
    assert any("spec/replicas" in p for p in schema_problems(objects))


def test_an_unknown_api_version_is_reported(objects, run_flags):
    find(objects, "StatefulSet")["apiVersion"] = "apps/v1beta1"
    assert any("no schema for apps/v1beta1 StatefulSet" in p for p in schema_problems(objects))
    assert any("unexpected apiVersion/kind apps/v1beta1 StatefulSet" in p for p in structure_problems(objects, run_flags))


# ---- how the objects fit together ---------------------------------------------------------------

def test_manifests_fit_together(objects, run_flags):
    assert structure_problems(objects, run_flags) == []


def test_replicas_that_differ_from_the_addresses_are_reported(objects, run_flags):
    find(objects, "StatefulSet")["spec"]["replicas"] = 3
    assert "StatefulSet/slo-monitor: container monitor: replicas is 3 but --addresses lists 2 processes" in (
        structure_problems(objects, run_flags))


def test_an_address_that_is_not_the_pods_dns_name_is_reported(objects, run_flags):
    args = container(find(objects, "StatefulSet"), "monitor")["args"]
    index = args.index("--addresses") + 1
    args[index] = args[index].replace("slo-monitor-1.", "slo-monitor-2.")
    problems = structure_problems(objects, run_flags)
    assert any("--addresses entry 1 is 'slo-monitor-2.slo-monitor-headless'" in p for p in problems)


def test_a_selector_that_misses_the_pod_labels_is_reported(objects, run_flags):
    find(objects, "Deployment")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "pager"
    problems = structure_problems(objects, run_flags)
    assert any(p.startswith("Deployment/slo-monitor-responder: selector") for p in problems)


def test_a_probe_on_a_port_the_container_lacks_is_reported(objects, run_flags):
    container(find(objects, "StatefulSet"), "monitor")["livenessProbe"]["httpGet"]["port"] = "metric"
    assert "StatefulSet/slo-monitor: container monitor: livenessProbe port 'metric' is not one of its container ports" in (
        structure_problems(objects, run_flags))


def test_a_flag_that_slo_monitor_run_lacks_is_reported(objects, run_flags):
    container(find(objects, "StatefulSet"), "monitor")["args"].append("--metrics-address")
    assert "StatefulSet/slo-monitor: container monitor: `slo-monitor run` has no flag --metrics-address" in (
        structure_problems(objects, run_flags))


def test_a_service_port_no_pod_serves_is_reported(objects, run_flags):
    find(objects, "Service", "slo-monitor-headless")["spec"]["ports"][0]["targetPort"] = "peers"
    assert any("targetPort 'peers' is no container port" in p for p in structure_problems(objects, run_flags))


def test_a_reference_to_a_missing_configmap_key_is_reported(objects, run_flags):
    del find(objects, "ConfigMap", "slo-monitor-env")["data"]["MLFLOW_TRACKING_URI"]
    assert any("missing ConfigMap key slo-monitor-env/MLFLOW_TRACKING_URI" in p for p in structure_problems(objects, run_flags))


def test_playbooks_without_the_registry_or_a_writable_reports_dir_are_reported(objects, run_flags):
    monitor = container(find(objects, "StatefulSet"), "monitor")
    monitor["env"] = [v for v in monitor["env"] if v["name"] != "MLFLOW_TRACKING_URI"]
    reports = monitor["args"].index("--reports-dir")
    del monitor["args"][reports:reports + 2]
    problems = structure_problems(objects, run_flags)
    assert ("StatefulSet/slo-monitor: container monitor: runs the remediation playbooks without MLFLOW_TRACKING_URI: "
            "rollbacks would be skipped") in problems
    assert any("--reports-dir (default .run/reports) is not on a writable mount" in p for p in problems), problems


def test_reports_on_a_volume_that_dies_with_the_pod_are_reported(objects, run_flags):
    statefulset = find(objects, "StatefulSet")
    assert structure_problems(objects, run_flags) == []
    statefulset["spec"]["volumeClaimTemplates"] = [
        claim for claim in statefulset["spec"]["volumeClaimTemplates"] if claim["metadata"]["name"] != "reports"]
    statefulset["spec"]["template"]["spec"]["volumes"].append({"name": "reports", "emptyDir": {"sizeLimit": "256Mi"}})
    problems = structure_problems(objects, run_flags)
    assert ("StatefulSet/slo-monitor: container monitor: --reports-dir /var/lib/slo-monitor/reports is not the mount "
            "path of a volumeClaimTemplate: the reports the status page links to would be lost with the pod") in problems


def test_a_container_without_resource_limits_is_reported(objects, run_flags):
    del container(find(objects, "Deployment"), "responder")["resources"]["limits"]["memory"]
    assert "Deployment/slo-monitor-responder: container responder: no memory limits" in structure_problems(objects, run_flags)


def test_the_monitor_has_startup_readiness_and_liveness_probes_on_metrics(objects):
    monitor = container(find(objects, "StatefulSet"), "monitor")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert monitor[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}


def test_the_slo_configmap_holds_a_valid_slo_file(objects):
    from slo.spec import parse_slo_yaml

    slo_file = parse_slo_yaml(find(objects, "ConfigMap", "slo-monitor-slos")["data"]["slos.yaml"], "slos.yaml")
    assert slo_file.slos
    responder = container(find(objects, "Deployment"), "responder")
    key = next(v for v in responder["env"] if v["name"] == slo_file.pagerduty.routing_key_env)
    assert "secretKeyRef" in key["valueFrom"], "the routing key comes from a Secret, never a plain value"


def test_the_responder_has_every_variable_it_needs_and_valid_arguments(objects):
    from slo_monitor.cli import build_parser

    responder = container(find(objects, "Deployment"), "responder")
    assert required_env(responder["args"]) <= {v["name"] for v in responder["env"]}
    args = build_parser().parse_args(responder["args"])
    assert args.config == "/etc/slo-monitor/slos.yaml"
    assert find(objects, "Deployment")["spec"]["replicas"] == 1


def test_topics_have_at_least_one_partition_per_process(objects):
    statefulset = find(objects, "StatefulSet")
    init = next(c for c in statefulset["spec"]["template"]["spec"]["initContainers"] if c["name"] == "create-topics")
    partitions = next(int(v["value"]) for v in init["env"] if v["name"] == "TOPIC_PARTITIONS")
    assert partitions >= statefulset["spec"]["replicas"]


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


# ---- the pods' start script, run for real --------------------------------------------------------

STUB = """#!{python}
# Stands in for the `slo-monitor` entry point: parses the arguments exactly as `slo-monitor run`
# does (including its own scaling checks) and prints them instead of starting Bytewax.
import json, sys
from slo_monitor.cli import build_parser
args = build_parser().parse_args(sys.argv[1:])
try:
    from slo_monitor.run import _check_scaling  # what `run` checks before it starts: ids, addresses
except ImportError:
    _check_scaling = None
if _check_scaling is not None:
    _check_scaling(args)
print(json.dumps({{k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
                  for k, v in vars(args).items() if not callable(v)}}))
"""


def start_pod(objects: list[dict], tmp_path: Path, ordinal: int, **env_overrides: str) -> subprocess.CompletedProcess:
    """Run the StatefulSet's start script as pod `ordinal` would: the container's arguments and
    environment, its own recovery volume under tmp_path, `slo-monitor` replaced by STUB."""
    statefulset = find(objects, "StatefulSet")
    monitor = container(statefulset, "monitor")
    scripts = find(objects, "ConfigMap", "slo-monitor-scripts")["data"]
    script = tmp_path / "start-monitor-pod.sh"
    script.write_text(scripts[Path(monitor["command"][-1]).name])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "slo-monitor"
    stub.write_text(STUB.format(python=sys.executable))
    stub.chmod(0o755)
    volume = tmp_path / f"{statefulset['metadata']['name']}-{ordinal}" / "recovery"
    args = [arg.replace(RECOVERY_MOUNT, str(volume)) for arg in monitor["args"]]
    env = {v["name"]: v["value"] for v in monitor["env"] if "value" in v}
    env.update(POD_INDEX=str(ordinal), HOSTNAME=f"{statefulset['metadata']['name']}-{ordinal}", DNS_WAIT_SECONDS="0",
               PATH=f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
               PYTHONPATH=str(REPO), HOME=str(tmp_path))
    env.update(env_overrides)
    assert monitor["command"][0] == "/bin/sh"
    return subprocess.run(["/bin/sh", str(script), *args], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)


def started(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_each_pod_runs_its_own_process_of_one_cluster(objects, tmp_path):
    statefulset = find(objects, "StatefulSet")
    monitor = container(statefulset, "monitor")
    metrics_port = next(p["containerPort"] for p in monitor["ports"] if p["name"] == "metrics")
    pods = [started(start_pod(objects, tmp_path, i)) for i in range(statefulset["spec"]["replicas"])]
    for ordinal, args in enumerate(pods):
        assert args["process_id"] == ordinal
        assert args["addresses"] == pods[0]["addresses"]  # one cluster
        # Process I serves on --metrics-port + I: every pod ends up on the probed port.
        assert args["metrics_port"] + args["process_id"] == metrics_port
        assert args["no_responder"] and args["metrics_host"] == "0.0.0.0"
        assert args["recovery_dir"].endswith(f"-{ordinal}/recovery")


def test_pod_0_creates_the_whole_set_of_recovery_partitions_and_the_other_pods_none(objects, tmp_path):
    statefulset = find(objects, "StatefulSet")
    env = {v["name"]: v.get("value") for v in container(statefulset, "monitor")["env"]}
    partitions = int(env["RECOVERY_PARTITIONS"])
    for ordinal in range(statefulset["spec"]["replicas"]):
        started(start_pod(objects, tmp_path, ordinal))
    files = sorted((tmp_path / "slo-monitor-0" / "recovery").iterdir())
    assert [f.name for f in files] == sorted(f"part-{k}.sqlite3" for k in range(partitions))  # no staging left over
    for file in files:  # each is a real Bytewax partition of the one set of `partitions`
        index, count = sqlite3.connect(file).execute("SELECT part_index, part_count FROM parts").fetchone()
        assert (f"part-{index}.sqlite3", count) == (file.name, partitions)
    for ordinal in range(1, statefulset["spec"]["replicas"]):
        volume = tmp_path / f"slo-monitor-{ordinal}" / "recovery"
        assert volume.is_dir(), "every process needs its recovery directory, even empty (Bytewax aborts without)"
        assert not list(volume.iterdir()), "only pod 0 holds partitions"


def test_a_restarted_pod_0_keeps_its_recovery_partitions(objects, tmp_path):
    first = start_pod(objects, tmp_path, 0)
    assert "created" in first.stderr
    volume = tmp_path / "slo-monitor-0" / "recovery"
    before = {f.name: f.stat().st_ino for f in volume.iterdir()}
    second = start_pod(objects, tmp_path, 0)
    assert started(second)["process_id"] == 0 and "created" not in second.stderr
    assert {f.name: f.stat().st_ino for f in volume.iterdir()} == before


def test_a_pod_missing_from_the_addresses_refuses_to_start(objects, tmp_path):
    result = start_pod(objects, tmp_path, 2)
    assert result.returncode == 2 and "--addresses lists 2 processes" in result.stderr
    assert not (tmp_path / "slo-monitor-2").exists(), "no recovery partitions made for a pod outside the cluster"


def test_without_the_pod_index_label_the_hostname_gives_the_ordinal(objects, tmp_path):
    assert started(start_pod(objects, tmp_path, 1, POD_INDEX=""))["process_id"] == 1
    result = start_pod(objects, tmp_path, 1, POD_INDEX="", HOSTNAME="monitor")
    assert result.returncode == 2 and "cannot tell this pod's ordinal" in result.stderr


def test_the_topic_init_container_creates_the_monitors_topics(objects, monkeypatch, tmp_path):
    import flows.topics
    from flows.settings import Topics

    calls = []
    monkeypatch.setattr(flows.topics, "ensure_topics",
                        lambda config, names, partitions: calls.append((config, names, partitions)) or names)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9092")
    monkeypatch.setenv("TOPIC_PARTITIONS", "4")
    script = tmp_path / "create-topics.py"
    script.write_text(find(objects, "ConfigMap", "slo-monitor-scripts")["data"]["create-topics.py"])
    runpy.run_path(str(script), run_name="__main__")
    topics = Topics()
    assert calls == [({"bootstrap.servers": "kafka.example:9092"}, [*topics.inputs(), *topics.monitor_outputs()], 4)]
