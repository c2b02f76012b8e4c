"""Checks of a docker-compose file: the Compose Specification's JSON schema, and the cross-references
the schema cannot see. Each check returns a list of problems (strings); an empty list means clean.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml

SCHEMA = Path(__file__).with_name("compose-spec.json")  # vendored: see compose-spec.README.md

# What each slo-monitor command reads from its environment (CONTRACT.md, docs/paging.md); the
# compose file must set every one, even if to an empty value taken from the host.
PAGING_ENV = {"PAGERDUTY_ROUTING_KEY", "PAGERDUTY_EVENTS_URL"}
# The playbooks roll models back in this registry, and announce each rollback as a PagerDuty
# change event.
REMEDIATION_ENV = {"MLFLOW_TRACKING_URI", *PAGING_ENV}


def required_env(command: list[str]) -> set[str]:
    """What `slo-monitor <command>` reads from its environment to do its whole job: `run` also
    pages and runs the remediation playbooks (rollback in MLflow) unless told not to.

    >>> sorted(required_env(["run", "--no-responder", "--no-remediation"]))
    ['KAFKA_BOOTSTRAP_SERVERS']
    >>> sorted(required_env(["demo-model"]))     # the registry only, unless given --tracking-uri
    ['MLFLOW_TRACKING_URI']
    """
    if command[:1] == ["demo-model"]:
        return set() if "--tracking-uri" in command else {"MLFLOW_TRACKING_URI"}
    needs = {"KAFKA_BOOTSTRAP_SERVERS"} if command else set()
    if command[:1] == ["run"]:
        needs |= (set() if "--no-responder" in command else PAGING_ENV)
        needs |= (set() if "--no-remediation" in command else REMEDIATION_ENV)
    elif command[:1] == ["respond"]:
        needs |= PAGING_ENV
    elif command[:1] == ["remediate"]:
        needs |= REMEDIATION_ENV
    return needs
# Variables whose value names another service of the file (host[:port] or a URL).
SERVICE_ADDRESS_ENV = ("KAFKA_BOOTSTRAP_SERVERS", "MLFLOW_TRACKING_URI", "PAGERDUTY_EVENTS_URL")


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_problems(compose: Mapping[str, Any]) -> list[str]:
    """Every place the file breaks the Compose Specification (misspelled keys, wrong types...)."""
    return [f"{'/'.join(map(str, error.absolute_path)) or '<top>'}: {error.message}"
            for error in sorted(_validator().iter_errors(compose), key=lambda e: list(map(str, e.absolute_path)))]


def reference_problems(compose: Mapping[str, Any], project_dir: Path) -> list[str]:
    """What the schema cannot know: references between services, volumes, files and ports."""
    services: Mapping[str, Any] = compose.get("services") or {}
    declared_volumes = set(compose.get("volumes") or {})
    problems: list[str] = []
    published: list[tuple[str, int, str, str]] = []  # (host ip, port, protocol, service)
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            if dependency not in services:
                problems.append(f"{name}: depends_on {dependency!r}, which is not a service")
            elif condition == "service_healthy" and "healthcheck" not in services[dependency]:
                problems.append(f"{name}: waits for {dependency} to be healthy, but {dependency} has no healthcheck")
            elif condition == "service_completed_successfully" and services[dependency].get("restart", "no") != "no":
                problems.append(f"{name}: waits for {dependency} to complete, but {dependency} restarts")
        for mount in volume_mounts(service):
            if mount["type"] == "volume" and mount.get("source") and mount["source"] not in declared_volumes:
                problems.append(f"{name}: volume {mount['source']!r} is not declared under top-level volumes")
            if mount["type"] == "bind" and not (project_dir / mount["source"]).exists():
                problems.append(f"{name}: bind mount source {mount['source']} does not exist")
        for host_ip, port, protocol in host_ports(service):
            for other_ip, other_port, other_protocol, other in published:
                same_address = host_ip == other_ip or "0.0.0.0" in (host_ip, other_ip)
                if (port, protocol) == (other_port, other_protocol) and same_address:
                    problems.append(f"{name}: host port {port}/{protocol} is already published by {other}")
            published.append((host_ip, port, protocol, name))
        environment = env(service)
        command = slo_monitor_command(service)
        if command:
            missing = required_env(command) - set(environment)
            problems += [f"{name}: `slo-monitor {command[0]}` needs {var}, which is not set" for var in sorted(missing)]
        for var in SERVICE_ADDRESS_ENV:
            for host in _hosts(environment.get(var)):
                if host not in services and host not in ("localhost", "127.0.0.1") and "." not in host:
                    problems.append(f"{name}: {var} names {host!r}, which is not a service")
    return problems


def depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    """Dependency -> condition (the short list form means service_started)."""
    value = service.get("depends_on") or {}
    if isinstance(value, list):
        return {dependency: "service_started" for dependency in value}
    return {dependency: (spec or {}).get("condition", "service_started") for dependency, spec in value.items()}


def volume_mounts(service: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Mounts in the long form: {type: volume|bind|tmpfs, source, target}."""
    mounts = []
    for item in service.get("volumes") or []:
        if isinstance(item, Mapping):
            mounts.append(dict(item))
            continue
        parts = item.split(":")
        if len(parts) == 1:  # anonymous volume
            mounts.append({"type": "volume", "source": None, "target": parts[0]})
            continue
        source, target = parts[0], parts[1]
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        mounts.append({"type": kind, "source": source, "target": target})
    return mounts


def host_ports(service: Mapping[str, Any]) -> list[tuple[str, int, str]]:
    """(host ip, host port, protocol) for every port published on the host."""
    out = []
    for item in service.get("ports") or []:
        if isinstance(item, Mapping):
            if item.get("published") is None:
                continue
            host_ip, protocol = item.get("host_ip", "0.0.0.0"), item.get("protocol", "tcp")
            published = str(item["published"])
        else:
            spec, _, protocol = str(item).partition("/")
            protocol = protocol or "tcp"
            parts = spec.rsplit(":", 2)
            if len(parts) == 1:
                continue  # container port only: Docker picks an ephemeral host port
            host_ip = parts[0] if len(parts) == 3 else "0.0.0.0"
            published = parts[-2]
        first, _, last = published.partition("-")
        out += [(host_ip, port, protocol) for port in range(int(first), int(last or first) + 1)]
    return out


def env(service: Mapping[str, Any]) -> dict[str, str]:
    value = service.get("environment") or {}
    if isinstance(value, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in value)
    return {key: "" if val is None else str(val) for key, val in value.items()}


def command_list(service: Mapping[str, Any]) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def slo_monitor_command(service: Mapping[str, Any]) -> list[str]:
    """The slo-monitor arguments of a service built from this repository's Dockerfile (whose
    entrypoint is `slo-monitor`), else []."""
    build = service.get("build")
    if build is None:
        return []
    dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, Mapping) else "Dockerfile"
    return command_list(service) if Path(dockerfile).name == "Dockerfile" else []


def _hosts(value: str | None) -> list[str]:
    if not value or "${" in value:
        return []
    hosts = []
    for item in value.split(","):
        item = item.strip()
        if "://" in item:
            hosts.append(urlsplit(item).hostname or "")
        elif re.fullmatch(r"[\w.-]+:\d+", item):
            hosts.append(item.rsplit(":", 1)[0])
    return [host for host in hosts if host]
