"""docs/contract.md: the public contract as users of this repository read it.

Its copy of CONTRACT.md must be the original (checked when the original is beside the repository,
at ../shared/CONTRACT.md) and must describe this code: the topics, commands, environment
variables and SLO file it names are the code's. The extensions it lists must exist too.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from flows.settings import Topics
from remediation.executor import ExecutorSettings
from remediation.service_settings import AlertServiceSettings
from slo.spec import parse_slo_yaml
from slo_monitor.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "contract.md"
ORIGINAL = REPO.parent / "shared" / "CONTRACT.md"
SOURCES = ("slo_monitor", "flows", "remediation", "simulator", "schemas", "slo")


def _copy() -> str:
    text = DOC.read_text()
    match = re.search(r"<!-- contract:begin -->\n(.*)<!-- contract:end -->", text, re.S)
    assert match, "docs/contract.md lost its contract:begin/end markers"
    return match.group(1)


def _extensions() -> str:
    return DOC.read_text().split("<!-- contract:end -->", 1)[1]


def _section(title: str) -> str:
    return _copy().split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _table_column(section: str, column: int = 0) -> list[str]:
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    return [row.split("|")[column + 1].strip().strip("`") for row in rows[1:]]


def _source_text() -> str:
    return "\n".join(path.read_text() for package in SOURCES for path in (REPO / package).rglob("*.py"))


def test_the_copy_is_the_original():
    if not ORIGINAL.exists():
        pytest.skip(f"the original is not beside this checkout ({ORIGINAL})")
    assert _copy() == ORIGINAL.read_text(), "docs/contract.md's copy differs from CONTRACT.md: copy it again"


def test_every_topic_of_the_contract_is_a_default_of_the_code():
    topics = Topics()
    defaults = {topics.predictions, topics.labels, topics.status, topics.alerts, Topics.dead_letter("<input topic>")}
    defaults |= {field.default for settings in (AlertServiceSettings, ExecutorSettings)
                 for field in dataclasses.fields(settings) if field.name.endswith("_topic")}
    named = [name.split("`")[0].strip() for name in _table_column(_section("Kafka topics (defaults; each name is configurable)"))]
    assert len(named) == 8
    assert set(named) <= defaults, f"not a default topic of the code: {sorted(set(named) - defaults)}"


def test_every_command_of_the_contract_and_of_the_extensions_exists():
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)   # argparse's own registry
    contract = {row.split()[1] for row in _table_column(_section("Command line"))}
    assert contract == {"run", "validate", "simulate", "demo"}
    extensions = set(re.findall(r"`slo-monitor ([a-z-]+)", _extensions()))
    assert {"respond", "remediate", "demo-model"} <= extensions
    assert contract | extensions <= subcommands, f"no such command: {sorted((contract | extensions) - subcommands)}"


def test_every_environment_variable_named_is_read_by_the_code():
    source = _source_text()
    contract = _table_column(_section("Environment"))
    assert contract == ["KAFKA_BOOTSTRAP_SERVERS", "PAGERDUTY_ROUTING_KEY", "PAGERDUTY_EVENTS_URL", "MLFLOW_TRACKING_URI"]
    extensions = re.findall(r"`((?:SLO_MONITOR|KAFKA|PAGERDUTY)_[A-Z_]+)(?:\[_FILE\])?`", _extensions())
    assert len(extensions) >= 10
    for name in contract + extensions:
        # X_FILE variables are read as f"{X}_FILE" (flows/secret_files.py): X must be named.
        stem = name.removesuffix("_FILE") if name not in source and '_FILE"' in source else name
        assert stem in source, f"{name} is named in docs/contract.md but read nowhere"


def test_the_contracts_slo_file_is_valid():
    yaml_text = re.search(r"```yaml\n(.*?)```", _section("SLO file (YAML)"), re.S).group(1)
    slo = parse_slo_yaml(yaml_text).slos[0]
    assert (slo.name, slo.metric, slo.objective, slo.window) == ("fraud-precision", "precision", 0.95, 3600)
