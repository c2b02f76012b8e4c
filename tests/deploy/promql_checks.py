"""Checks of the Grafana dashboard's PromQL against the metrics the monitor really exports.

`exported_series()` imports the monitor's flow (which registers flows/metrics.py and Bytewax's
Kafka lag gauge in prometheus_client's default registry, the one `slo-monitor run` serves) and
lists every series name it exposes with the label names that series can carry.
`dashboard_problems()` parses every query of a dashboard with a real PromQL parser and returns one
message per metric name or label that the monitor does not export. An empty list means clean.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import promql_parser

# Labels Prometheus itself attaches to every scraped series (the target's job and instance).
SCRAPE_LABELS = frozenset({"job", "instance"})

# Series each metric type exposes in the text format, and the extra label some of them carry.
_SUFFIXES: dict[str, tuple[tuple[str, frozenset[str]], ...]] = {
    "counter": (("_total", frozenset()), ("_created", frozenset())),
    "gauge": (("", frozenset()),),
    "histogram": (("_bucket", frozenset({"le"})), ("_sum", frozenset()), ("_count", frozenset()),
                  ("_created", frozenset())),
    "summary": (("", frozenset({"quantile"})), ("_sum", frozenset()), ("_count", frozenset()),
                ("_created", frozenset())),
    "info": (("_info", frozenset()),),
    "stateset": (("", frozenset()),),
    "gaugehistogram": (("_bucket", frozenset({"le"})), ("_gcount", frozenset()), ("_gsum", frozenset())),
    "unknown": (("", frozenset()),),
}

# Grafana's built-in interval variables, replaced by a duration so the query parses as PromQL.
_GRAFANA_INTERVALS = re.compile(r"\$__\w+|\$\{__\w+(?::\w+)?\}|\[\[__\w+\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.+?)\s*,\s*)?(?P<label>[A-Za-z_]\w*)\s*\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.*)\)\s*$", re.S)


def exported_series(registry: Any | None = None) -> dict[str, frozenset[str]]:
    """Series name -> label names, for every series the registry exposes on /metrics."""
    if registry is None:
        import flows.monitor_flow  # noqa: F401 - registers every metric a monitor process serves
        from prometheus_client import REGISTRY as registry
    collectors = registry._names_to_collectors  # name -> collector (prometheus_client keeps no public map)
    series: dict[str, frozenset[str]] = {}
    for family in registry.collect():
        collector = collectors.get(family.name)
        declared = set(getattr(collector, "_labelnames", ()))  # metrics declared with labels, maybe no child yet
        seen = {label for sample in family.samples for label in sample.labels}
        for suffix, extra in _SUFFIXES.get(family.type, _SUFFIXES["unknown"]):
            name = family.name + suffix
            own = {label for sample in family.samples if sample.name == name for label in sample.labels}
            series[name] = frozenset(declared | own | extra | (seen - {"le", "quantile"}))
    return series


def dashboard_queries(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every query: panel targets (also inside rows), annotations, and the
    expressions inside template variables (`label_values(...)`, `query_result(...)`)."""
    for where, expr in _exprs(dashboard, ""):
        yield where.removeprefix(" > "), expr
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, Mapping):
            query = query.get("query", "")
        yield f"variable ${variable.get('name')}", str(query)


def _exprs(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every `expr` string anywhere in the JSON, named by the titles (or names) leading to it."""
    if isinstance(node, Mapping):
        title = node.get("title") or node.get("name")
        here = f"{where} > {title}" if isinstance(title, str) else where
        if isinstance(node.get("expr"), str):
            yield f"{here} [{node.get('refId', 'expr')}]", node["expr"]
        for key, value in node.items():
            if key != "templating":  # variables are read by dashboard_queries
                yield from _exprs(value, here)
    elif isinstance(node, list):
        for item in node:
            yield from _exprs(item, where)


def dashboard_problems(dashboard: Mapping[str, Any], exported: Mapping[str, frozenset[str]],
                       target_labels: frozenset[str] = SCRAPE_LABELS) -> list[str]:
    """One message per query that does not parse, names a series the monitor does not export, or
    selects or groups by a label that series does not have. `target_labels` are the labels the
    scrape config adds to every series (job, instance, static labels)."""
    problems: list[str] = []
    for where, query in dashboard_queries(dashboard):
        problems += [f"{where}: {problem}" for problem in query_problems(query, exported, target_labels)]
    return problems


def query_problems(query: str, exported: Mapping[str, frozenset[str]],
                   target_labels: frozenset[str] = SCRAPE_LABELS) -> list[str]:
    """Problems of one query: PromQL, or a Grafana `label_values(...)`/`query_result(...)`."""
    if match := _LABEL_VALUES.match(query):
        label = match["label"]
        if match["selector"] is None:  # label_values(label): any exported series may carry it
            known = set(target_labels).union(*exported.values())
            return [] if label in known else [f"label_values: no exported series has the label {label!r}"]
        problems = expression_problems(match["selector"], exported, target_labels)
        for name in _selected_names(match["selector"]):
            if name in exported and label not in exported[name] | target_labels:
                problems.append(f"label_values: {name} has no label {label!r}")
        return problems
    if match := _QUERY_RESULT.match(query):
        return expression_problems(match["expr"], exported, target_labels)
    return expression_problems(query, exported, target_labels)


def expression_problems(expr: str, exported: Mapping[str, frozenset[str]],
                        target_labels: frozenset[str] = SCRAPE_LABELS) -> list[str]:
    try:
        tree = promql_parser.parse(_GRAFANA_INTERVALS.sub("5m", expr))
    except ValueError as error:
        return [f"does not parse as PromQL ({error}): {expr!r}"]
    problems: list[str] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            problems.extend(_selector_problems(node, exported, target_labels))
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            problems.extend(_grouping_problems(node, exported, target_labels))
        return True

    promql_parser.walk(tree, visit)
    return problems


def _selector_problems(node: Any, exported: Mapping[str, frozenset[str]], target_labels: frozenset[str]) -> list[str]:
    name = _name_of(node)
    if name is None:
        return [f"selector {node} does not name one metric"]
    if name not in exported:
        hint = _closest(name, exported)
        return [f"metric {name!r} is not exported by the monitor" + (f" (did you mean {hint!r}?)" if hint else "")]
    allowed = exported[name] | target_labels | {"__name__"}
    return [f"{name} has no label {matcher.name!r} (it has: {', '.join(sorted(exported[name])) or 'none'})"
            for matcher in node.matchers.matchers if matcher.name not in allowed]


def _grouping_problems(node: Any, exported: Mapping[str, frozenset[str]], target_labels: frozenset[str]) -> list[str]:
    """`sum by (x)` / `without (x)`: x must exist on some series aggregated below."""
    names: set[str] = set()

    def collect(child: Any) -> bool:
        if isinstance(child, promql_parser.VectorSelector) and (name := _name_of(child)) in exported:
            names.add(name)
        return True

    promql_parser.walk(node.expr, collect)
    if not names:
        return []  # nothing known below (e.g. vector(0)); the selectors report themselves
    available = set(target_labels).union(*(exported[name] for name in names))
    kind = str(node.modifier.type).rsplit(".", 1)[-1].lower()
    return [f"{kind} ({label}): no label {label!r} on {', '.join(sorted(names))}"
            for label in node.modifier.labels if label not in available]


def _name_of(node: Any) -> str | None:
    if node.name:
        return node.name
    for matcher in node.matchers.matchers:
        if matcher.name == "__name__" and str(matcher.op).endswith("Equal") and "Not" not in str(matcher.op):
            return matcher.value
    return None


def _selected_names(expr: str) -> list[str]:
    try:
        tree = promql_parser.parse(_GRAFANA_INTERVALS.sub("5m", expr))
    except ValueError:
        return []
    names: list[str] = []
    promql_parser.walk(tree, lambda node: names.append(_name_of(node))
                       if isinstance(node, promql_parser.VectorSelector) else None)
    return [name for name in names if name]


def _closest(name: str, exported: Mapping[str, Any]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(name, list(exported), n=1, cutoff=0.8)
    return matches[0] if matches else None


def equality_matchers(expr: str) -> list[tuple[str, str, str]]:
    """(metric, label, value) of every `label="value"` / `label!="value"` matcher in a query."""
    tree = promql_parser.parse(_GRAFANA_INTERVALS.sub("5m", expr))
    found: list[tuple[str, str, str]] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and (name := _name_of(node)):
            found.extend((name, m.name, m.value) for m in node.matchers.matchers
                         if str(m.op).rsplit(".", 1)[-1] in ("Equal", "NotEqual") and m.name != "__name__")
        return True

    promql_parser.walk(tree, visit)
    return found
