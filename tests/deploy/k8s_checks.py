"""Checks of the Kubernetes manifests in deploy/k8s/: each returns a list of problems, empty if clean.

`schema_problems` validates every object against the Kubernetes OpenAPI schemas (strict: unknown
fields are errors) shipped offline by the `kubernetes-validate` package. `structure_problems` checks
what the schemas cannot: labels and selectors, names that refer to other objects, probe and
service ports, mounts, and the monitor's command line against `slo-monitor run --help`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.compose_checks import REMEDIATION_ENV

OLDEST_KUBERNETES = "1.28"  # the oldest version the manifests target (the pod-index label)
KNOWN_KINDS = {("v1", "ConfigMap"), ("v1", "Service"), ("v1", "Secret"), ("apps/v1", "StatefulSet"),
               ("apps/v1", "Deployment")}
WORKLOADS = ("StatefulSet", "Deployment")


def load(directory: Path) -> list[dict[str, Any]]:
    """Every object of every manifest (kustomization.yaml is kustomize's, not an API object)."""
    objects = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return objects


def name_of(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def schema_problems(objects: Iterable[Mapping[str, Any]], version: str = OLDEST_KUBERNETES) -> list[str]:
    import kubernetes_validate

    problems = []
    for obj in objects:
        try:
            kubernetes_validate.validate(dict(obj), version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(map(str, error.absolute_path)) or "<top>"  # a jsonschema.ValidationError
            problems.append(f"{name_of(obj)}: {where}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{name_of(obj)}: no schema for {obj.get('apiVersion')} {obj.get('kind')} "
                            f"in Kubernetes {version}")
    return problems


def structure_problems(objects: list[Mapping[str, Any]], run_flags: set[str]) -> list[str]:
    problems: list[str] = []
    by_kind: dict[str, dict[str, Mapping[str, Any]]] = {}
    for obj in objects:
        if (obj.get("apiVersion"), obj.get("kind")) not in KNOWN_KINDS:
            problems.append(f"{name_of(obj)}: unexpected apiVersion/kind {obj.get('apiVersion')} {obj.get('kind')}")
        by_kind.setdefault(obj.get("kind"), {})[obj["metadata"]["name"]] = obj
    config_maps = by_kind.get("ConfigMap", {})
    services = by_kind.get("Service", {})
    workloads = [obj for kind in WORKLOADS for obj in by_kind.get(kind, {}).values()]

    for workload in workloads:
        problems += [f"{name_of(workload)}: {p}" for p in _workload_problems(workload, config_maps, services, run_flags)]
    for service in services.values():
        selector = service["spec"].get("selector") or {}
        pods = [w for w in workloads if _matches(selector, w["spec"]["template"]["metadata"].get("labels", {}))]
        if not pods:
            problems.append(f"{name_of(service)}: its selector {selector} matches no workload's pods")
        for port in service["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            for pod in pods:
                if not _container_port(pod["spec"]["template"]["spec"], target):
                    problems.append(f"{name_of(service)}: targetPort {target!r} is no container port of {name_of(pod)}")
    return problems


def _workload_problems(workload: Mapping[str, Any], config_maps: Mapping[str, Any], services: Mapping[str, Any],
                       run_flags: set[str]) -> list[str]:
    problems = []
    spec = workload["spec"]
    template_labels = spec["template"]["metadata"].get("labels", {})
    selector = spec["selector"].get("matchLabels", {})
    if not selector or not _matches(selector, template_labels):
        problems.append(f"selector {selector} does not match the pod template's labels {template_labels}")
    pod = spec["template"]["spec"]
    claims = {claim["metadata"]["name"] for claim in spec.get("volumeClaimTemplates", [])}
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}

    for volume in volumes.values():
        if "configMap" in volume:
            config_map = config_maps.get(volume["configMap"]["name"])
            if config_map is None:
                problems.append(f"volume {volume['name']}: ConfigMap {volume['configMap']['name']!r} "
                                "is not in the manifests")
                continue
            for item in volume["configMap"].get("items", []):
                if item["key"] not in config_map.get("data", {}):
                    problems.append(f"volume {volume['name']}: ConfigMap {config_map['metadata']['name']} "
                                    f"has no key {item['key']!r}")

    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        where = f"container {container['name']}"
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes and mount["name"] not in claims:
                problems.append(f"{where}: mounts {mount['name']!r}, which is neither a volume nor a volumeClaimTemplate")
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in container.get("resources", {}).get(kind, {}):
                    problems.append(f"{where}: no {resource} {kind}")
        for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = container.get(probe_name)
            if probe:
                port = (probe.get("httpGet") or probe.get("tcpSocket") or {}).get("port")
                if port is not None and not _container_port({"containers": [container]}, port):
                    problems.append(f"{where}: {probe_name} port {port!r} is not one of its container ports")
        for variable in container.get("env", []):
            ref = (variable.get("valueFrom") or {}).get("configMapKeyRef")
            if ref and not ref.get("optional"):
                if ref["name"] not in config_maps or ref["key"] not in config_maps[ref["name"]].get("data", {}):
                    problems.append(f"{where}: env {variable['name']} refers to missing ConfigMap key "
                                    f"{ref['name']}/{ref['key']}")
        arguments = [*container.get("command", []), *container.get("args", [])]
        if "run" in container.get("args", []) and any(arg.endswith("start-monitor-pod.sh") for arg in arguments):
            problems += [f"{where}: {p}" for p in _monitor_problems(workload, container, services, run_flags)]
    return problems


def _monitor_problems(workload: Mapping[str, Any], container: Mapping[str, Any], services: Mapping[str, Any],
                      run_flags: set[str]) -> list[str]:
    """The monitor's cluster wiring: flags, addresses, metrics port, recovery volume, config mount."""
    problems = []
    args = container["args"]
    problems += [f"`slo-monitor run` has no flag {arg}" for arg in args
                 if arg.startswith("--") and arg.split("=", 1)[0] not in run_flags]
    values = {flag: value for flag, value in zip(args, args[1:]) if flag.startswith("--")}
    env = {variable["name"]: variable.get("value") for variable in container.get("env", [])}
    if workload["kind"] != "StatefulSet":
        return problems + ["a multi-process monitor must be a StatefulSet (stable pod names and volumes)"]
    spec = workload["spec"]
    replicas = spec.get("replicas", 1)
    addresses = values.get("--addresses", "").split(";") if "--addresses" in values else []
    if len(addresses) != replicas:
        problems.append(f"replicas is {replicas} but --addresses lists {len(addresses)} processes")
    service = services.get(spec.get("serviceName"))
    if service is None:
        problems.append(f"serviceName {spec.get('serviceName')!r} is not a Service of the manifests")
    else:
        if service["spec"].get("clusterIP") != "None":
            problems.append(f"{name_of(service)} must be headless (clusterIP: None) to give each pod a DNS name")
        if not service["spec"].get("publishNotReadyAddresses"):
            problems.append(f"{name_of(service)} must publish not-ready addresses: "
                            "the processes meet before they are ready")
    for index, address in enumerate(addresses):
        host, _, port = address.rpartition(":")
        expected = f"{workload['metadata']['name']}-{index}.{spec.get('serviceName')}"
        if host != expected:
            problems.append(f"--addresses entry {index} is {host!r}, not pod {index}'s name {expected!r}")
        if not port.isdigit() or not _container_port({"containers": [container]}, int(port)):
            problems.append(f"--addresses entry {index} uses port {port!r}, which is not a container port")
        elif service is not None and int(port) not in {p["port"] for p in service["spec"].get("ports", [])}:
            problems.append(f"--addresses port {port} is not a port of {name_of(service)}")
    metrics = _container_port({"containers": [container]}, "metrics")
    if metrics is None:
        problems.append("no container port named 'metrics'")
    elif env.get("METRICS_PORT") != str(metrics):
        problems.append(f"METRICS_PORT is {env.get('METRICS_PORT')!r}, not the metrics container port {metrics}")
    if values.get("--metrics-host", "127.0.0.1") in ("127.0.0.1", "localhost", "::1"):
        problems.append("--metrics-host is loopback: the kubelet's probes and Prometheus cannot reach it")
    for name in ("RECOVERY_PARTITIONS",):
        if not env.get(name, "").isdigit() or int(env[name]) < replicas:
            problems.append(f"{name} must be at least the {replicas} replicas (got {env.get(name)!r})")
    mounts = {mount["mountPath"].rstrip("/"): mount["name"] for mount in container.get("volumeMounts", [])}
    claims = {claim["metadata"]["name"] for claim in spec.get("volumeClaimTemplates", [])}
    if mounts.get(values.get("--recovery-dir", "").rstrip("/")) not in claims:
        problems.append("--recovery-dir is not the mount path of a volumeClaimTemplate (each pod's own volume)")
    config_dir = str(Path(values.get("--config", "/")).parent)
    if config_dir not in mounts:
        problems.append(f"--config {values.get('--config')} is not in a mounted directory")
    if "--no-remediation" not in args:   # pod 0 runs the playbooks: rollbacks and diagnostic reports
        names = {variable["name"] for variable in container.get("env", [])}
        problems += [f"runs the remediation playbooks without {name}" + (": rollbacks would be skipped"
                                                                         if name == "MLFLOW_TRACKING_URI" else "")
                     for name in sorted(REMEDIATION_ENV - names)]
        reports = values.get("--reports-dir")
        writable = [path for path, mount in _mounts(container).items() if not mount.get("readOnly")]
        read_only_root = (container.get("securityContext") or {}).get("readOnlyRootFilesystem")
        if read_only_root and not (reports and any(reports.rstrip("/").startswith(path + "/") or
                                                   reports.rstrip("/") == path for path in writable)):
            problems.append(f"--reports-dir {reports or '(default .run/reports)'} is not on a writable mount "
                            "(the root filesystem is read-only): diagnostic reports would fail")
        elif reports and mounts.get(reports.rstrip("/")) not in claims:
            problems.append(f"--reports-dir {reports} is not the mount path of a volumeClaimTemplate: the reports "
                            "the status page links to would be lost with the pod")
    return problems


def _mounts(container: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {mount["mountPath"].rstrip("/"): mount for mount in container.get("volumeMounts", [])}


def _matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _container_port(pod_spec: Mapping[str, Any], port: int | str) -> int | None:
    """The container port number that `port` (a number or a port name) refers to, if any."""
    for container in pod_spec.get("containers", []):
        for declared in container.get("ports", []):
            if port in (declared.get("name"), declared["containerPort"]):
                return declared["containerPort"]
    return None


def help_flags(help_text: str) -> set[str]:
    """Every --flag that `slo-monitor ... --help` prints."""
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", help_text))

