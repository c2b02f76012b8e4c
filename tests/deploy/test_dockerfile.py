"""The Dockerfile builds the slo-monitor image from python:3.11-slim with `pip install .`, copying
every package pyproject.toml installs and nothing .dockerignore keeps out of the build context."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        current += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            keyword, _, rest = current.strip().partition(" ")
            lines.append((keyword.upper(), rest.strip()))
            current = ""
    return lines


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions((REPO / "Dockerfile").read_text())


def packages() -> list[str]:
    """Top-level package directories that pyproject.toml's setuptools find includes."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["packages"]["find"]["include"]
    return sorted(d.name for d in REPO.iterdir()
                  if (d / "__init__.py").is_file() and any(fnmatch.fnmatch(d.name, p) for p in patterns))


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context: the last matching rule wins, a
    rule matching a directory covers its contents, `**/` matches at any depth."""
    parts = path.split("/")
    verdict = False
    for rule in (REPO / ".dockerignore").read_text().splitlines():
        rule = rule.strip()
        if not rule or rule.startswith("#"):
            continue
        negate, pattern = rule.startswith("!"), rule.lstrip("!").rstrip("/")
        if pattern.startswith("**/"):
            pattern = pattern[3:]
            candidates = ["/".join(parts[start:end])
                          for start in range(len(parts)) for end in range(start + 1, len(parts) + 1)]
        else:
            candidates = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates):
            verdict = not negate
    return verdict


def test_base_image_is_python_311_slim(dockerfile):
    assert [args for keyword, args in dockerfile if keyword == "FROM"] == ["python:3.11-slim"]


def test_every_installed_package_and_the_metadata_are_copied(dockerfile):
    copied = {args.split()[0] for keyword, args in dockerfile if keyword == "COPY"} | {
        source for keyword, args in dockerfile if keyword == "COPY" for source in args.split()[:-1]}
    assert {"pyproject.toml", "README.md", *packages()} <= copied
    assert "schemas" in packages() and "slo_monitor" in packages()


def test_dockerignore_keeps_the_sources_and_drops_the_rest():
    for package in packages():
        assert not ignored(f"{package}/__init__.py"), package
    assert not ignored("pyproject.toml") and not ignored("README.md")
    assert not ignored("schemas/prediction.schema.json")
    for path in (".venv/bin/python", ".git/config", "deploy/kafka/lib/kafka.jar", "tests/conftest.py",
                 "flows/__pycache__/metrics.cpython-311.pyc", "slo/drift/__pycache__/psi.txt",
                 ".run/kafka-9092/server.log"):
        assert ignored(path), path


def test_the_image_installs_with_pip_and_runs_slo_monitor_as_a_non_root_user(dockerfile):
    runs = " ".join(args for keyword, args in dockerfile if keyword == "RUN")
    assert "pip install ." in runs
    user = [args for keyword, args in dockerfile if keyword == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0")
    assert json.loads(next(args for keyword, args in dockerfile if keyword == "ENTRYPOINT")) == ["slo-monitor"]


def test_the_image_prepares_the_directories_the_deployments_mount(dockerfile):
    runs = " ".join(args for keyword, args in dockerfile if keyword == "RUN")
    compose = (REPO / "docker-compose.yml").read_text()
    for volume, directory in (("monitor-recovery", "/var/lib/slo-monitor/recovery"),
                              ("monitor-reports", "/var/lib/slo-monitor/reports")):
        assert directory in runs and "chown -R 10001:10001 /var/lib/slo-monitor" in runs
        assert f"{volume}:{directory}" in compose


def test_exposed_ports_are_the_metrics_status_page_and_cluster_ports(dockerfile):
    import argparse

    from slo_monitor.run import FIRST_CLUSTER_PORT, add_run_arguments

    exposed = {int(port) for keyword, args in dockerfile if keyword == "EXPOSE" for port in args.split()}
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, "127.0.0.1:9092")
    status_port = parser.parse_args(["--config", "x.yaml"]).status_port
    assert exposed == {9464, status_port, FIRST_CLUSTER_PORT}
