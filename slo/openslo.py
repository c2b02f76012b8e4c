"""Import OpenSLO v1 ``kind: SLO`` documents whose indicator is a ratio metric.

OpenSLO describes *what* is counted through vendor-specific metric sources; ours is
``type: slo-monitor`` with ``spec.counter`` naming a confusion-matrix count:

=====================  ==================================================
counter                counts
=====================  ==================================================
``true_positives``     flagged predictions whose label is positive
``false_positives``    flagged predictions whose label is negative
``false_negatives``    unflagged predictions whose label is positive
``flagged``            flagged predictions (precision's denominator)
``actual_positives``   predictions whose label is positive (recall's)
=====================  ==================================================

so ``good: true_positives / total: flagged`` (or ``bad: false_positives / total: flagged``) is
precision and ``good: true_positives / total: actual_positives`` (or ``bad: false_negatives``)
is recall. ``spec.positive_label`` of the metric source gives the positive class. The model is
``spec.service`` unless the annotation ``slo-monitor/model-id`` says otherwise; annotations
``slo-monitor/min-labels`` and ``slo-monitor/segments`` (comma-separated) set those keys.

``budgetingMethod: Occurrences`` maps to ``objective = target`` over the rolling ``timeWindow``;
``Timeslices`` maps to ``objective = timeSliceTarget`` over ``window = timeSliceWindow``, with
``compliance: {period: timeWindow, target: target, timeslice: timeSliceWindow}``. Calendar
windows, several objectives per SLO, and raw vendor queries are refused with a message. Other
kinds (Service, AlertPolicy, ...) are ignored; ``kind: SLI`` documents serve ``indicatorRef``.

>>> text = '''
... apiVersion: openslo/v1
... kind: SLO
... metadata: {name: fraud-precision}
... spec:
...   service: fraud-detector
...   budgetingMethod: Occurrences
...   timeWindow: [{duration: 1h, isRolling: true}]
...   objectives: [{target: 0.95}]
...   indicator:
...     metadata: {name: fraud-precision-sli}
...     spec:
...       ratioMetric:
...         counter: true
...         good: {metricSource: {type: slo-monitor, spec: {counter: true_positives, positive_label: 1}}}
...         total: {metricSource: {type: slo-monitor, spec: {counter: flagged, positive_label: 1}}}
... '''
>>> spec = parse_openslo_yaml(text, "openslo.yaml").slos[0]
>>> spec.name, spec.model_id, spec.metric, spec.objective, spec.window, spec.positive_label
('fraud-precision', 'fraud-detector', 'precision', 0.95, 3600, 1)
"""

from __future__ import annotations

import re
from typing import Any

from slo.spec import SloFile, validate_slo_data
from slo.spec_errors import PathPart, SloSpecError, SpecProblem, did_you_mean
from slo.yaml_source import LineMap, compose_documents

_RATIOS = {
    ("good", "true_positives", "flagged"): "precision",
    ("bad", "false_positives", "flagged"): "precision",
    ("good", "true_positives", "actual_positives"): "recall",
    ("bad", "false_negatives", "actual_positives"): "recall",
}
_COUNTERS = ("true_positives", "false_positives", "false_negatives", "flagged", "actual_positives")
_ANNOTATION = "slo-monitor/"


def looks_like_openslo(text: str) -> bool:
    """True if the text declares an OpenSLO apiVersion (cheap sniffing before parsing)."""
    return re.search(r"^\s*apiVersion:\s*['\"]?openslo/", text, re.MULTILINE) is not None


class _Doc:
    """One document with its line map, for lookups that fail with a located problem."""

    def __init__(self, data: dict, lines: LineMap, source: str):
        self.data, self.lines, self.source = data, lines, source

    def problem(self, path: tuple[PathPart, ...], message: str) -> SpecProblem:
        return SpecProblem(self.source, self.lines.line_of(path), path, message)

    def get(self, path: tuple[PathPart, ...], required: bool = True) -> Any:
        node: Any = self.data
        for i, part in enumerate(path):
            container_ok = (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and part < len(node))
            if not container_ok:
                if not required:
                    return None
                if isinstance(node, dict) or isinstance(node, list) or node is None:
                    raise SloSpecError([self.problem(path[: i + 1], "missing required key")])
                raise SloSpecError([self.problem(path[:i], "expected a mapping")])
            node = node[part]
        return node


def _metric_source(doc: _Doc, path: tuple[PathPart, ...]) -> tuple[str, Any]:
    source_type = doc.get(path + ("metricSource", "type"))
    if str(source_type).lower() != "slo-monitor":
        raise SloSpecError([doc.problem(path + ("metricSource", "type"),
                                        f"unsupported metric source {source_type!r}: use "
                                        "type: slo-monitor with a confusion-matrix counter")])
    counter = doc.get(path + ("metricSource", "spec", "counter"))
    if counter not in _COUNTERS:
        raise SloSpecError([doc.problem(path + ("metricSource", "spec", "counter"),
                                        f"unknown counter {counter!r}: expected one of "
                                        f"{', '.join(_COUNTERS)}" + did_you_mean(str(counter), _COUNTERS))])
    label = doc.get(path + ("metricSource", "spec", "positive_label"), required=False)
    return counter, label


def _convert(doc: _Doc, slis: dict[str, _Doc], index: int,
             line_pairs: list[tuple[tuple[PathPart, ...], int | None]]) -> dict[str, Any]:
    def keep(our: tuple[PathPart, ...], theirs: tuple[PathPart, ...], d: _Doc = doc) -> None:
        line_pairs.append((("slos", index) + our, d.lines.line_of(theirs)))

    name = doc.get(("metadata", "name"))
    keep((), ("metadata",))
    keep(("name",), ("metadata", "name"))
    annotations = doc.get(("metadata", "annotations"), required=False) or {}
    ours = {k[len(_ANNOTATION):]: v for k, v in annotations.items()
            if isinstance(k, str) and k.startswith(_ANNOTATION)}
    model_id = ours.pop("model-id", None) or doc.get(("spec", "service"))
    keep(("model_id",), ("spec", "service"))

    # indicator: inline or by reference
    sli_doc, sli_path = doc, ("spec", "indicator")
    if doc.get(("spec", "indicator"), required=False) is None:
        ref = doc.get(("spec", "indicatorRef"))
        if ref not in slis:
            raise SloSpecError([doc.problem(("spec", "indicatorRef"),
                                            f"no kind: SLI document named {ref!r}"
                                            + did_you_mean(str(ref), slis))])
        sli_doc, sli_path = slis[ref], ()
    ratio_path = sli_path + ("spec", "ratioMetric")
    if sli_doc.get(ratio_path, required=False) is None:
        raise SloSpecError([sli_doc.problem(sli_path + ("spec",),
                                            "only ratioMetric indicators can be imported")])
    ratio = sli_doc.get(ratio_path)
    side = "good" if "good" in ratio else "bad" if "bad" in ratio else None
    if side is None:
        raise SloSpecError([sli_doc.problem(ratio_path, "ratioMetric needs good or bad, and total")])
    numerator, label_a = _metric_source(sli_doc, ratio_path + (side,))
    denominator, label_b = _metric_source(sli_doc, ratio_path + ("total",))
    metric = _RATIOS.get((side, numerator, denominator))
    if metric is None:
        raise SloSpecError([sli_doc.problem(ratio_path, f"{side} {numerator} over total "
                                            f"{denominator} is neither precision nor recall")])
    if label_a is None and label_b is None:
        raise SloSpecError([sli_doc.problem(ratio_path + ("total", "metricSource", "spec"),
                                            "missing positive_label")])
    if label_a is not None and label_b is not None and label_a != label_b:
        raise SloSpecError([sli_doc.problem(ratio_path + ("total", "metricSource", "spec",
                                                          "positive_label"),
                                            f"positive_label differs from {side}'s ({label_a!r})")])
    keep(("metric",), ratio_path, sli_doc)
    keep(("positive_label",), ratio_path + (side, "metricSource", "spec"), sli_doc)

    # window, objective, budgeting
    windows = doc.get(("spec", "timeWindow"))
    if not isinstance(windows, list) or len(windows) != 1:
        raise SloSpecError([doc.problem(("spec", "timeWindow"), "expected exactly one time window")])
    if doc.get(("spec", "timeWindow", 0, "isRolling"), required=False) is False:
        raise SloSpecError([doc.problem(("spec", "timeWindow", 0, "isRolling"),
                                        "calendar windows are not supported: use isRolling: true")])
    period = doc.get(("spec", "timeWindow", 0, "duration"))
    objectives = doc.get(("spec", "objectives"))
    if not isinstance(objectives, list) or len(objectives) != 1:
        raise SloSpecError([doc.problem(("spec", "objectives"),
                                        "exactly one objective per SLO (split the others into "
                                        "their own SLO documents)")])
    target = doc.get(("spec", "objectives", 0, "target"), required=False)
    if target is None:
        percent = doc.get(("spec", "objectives", 0, "targetPercent"))
        target = percent / 100.0 if isinstance(percent, (int, float)) else percent
    method = doc.get(("spec", "budgetingMethod"), required=False) or "Occurrences"
    slo: dict[str, Any] = {"name": name, "model_id": model_id, "metric": metric}
    slo["positive_label"] = label_a if label_a is not None else label_b
    if method == "Occurrences":
        slo["objective"], slo["window"] = target, period
        keep(("objective",), ("spec", "objectives", 0,
                              "target" if "target" in objectives[0] else "targetPercent"))
        keep(("window",), ("spec", "timeWindow", 0, "duration"))
    elif method in ("Timeslices", "RatioTimeslices"):
        slo["objective"] = doc.get(("spec", "objectives", 0, "timeSliceTarget"))
        slice_window = doc.get(("spec", "objectives", 0, "timeSliceWindow"))
        slo["window"] = slice_window
        slo["compliance"] = {"period": period, "target": target, "timeslice": slice_window}
        keep(("objective",), ("spec", "objectives", 0, "timeSliceTarget"))
        keep(("window",), ("spec", "objectives", 0, "timeSliceWindow"))
        keep(("compliance",), ("spec", "timeWindow", 0, "duration"))
    else:
        raise SloSpecError([doc.problem(("spec", "budgetingMethod"),
                                        f"unknown budgeting method {method!r}: expected "
                                        "Occurrences or Timeslices")])
    description = doc.get(("spec", "description"), required=False)
    if description is not None:
        slo["description"] = description
    if "min-labels" in ours:
        raw = ours.pop("min-labels")
        slo["min_labels"] = int(raw) if str(raw).isdigit() else raw
        keep(("min_labels",), ("metadata", "annotations"))
    if "segments" in ours:
        slo["segments"] = [s.strip() for s in str(ours.pop("segments")).split(",") if s.strip()]
        keep(("segments",), ("metadata", "annotations"))
    if ours:
        unknown = sorted(ours)[0]
        raise SloSpecError([doc.problem(("metadata", "annotations"),
                                        f"unknown annotation {_ANNOTATION}{unknown}"
                                        + did_you_mean(unknown, ["model-id", "min-labels",
                                                                 "segments"]))])
    return slo


def parse_openslo_yaml(text: str, source: str = "<string>") -> SloFile:
    """SLO file from OpenSLO v1 documents (multi-document YAML)."""
    docs = []
    for data, lines in compose_documents(text, source):
        if not isinstance(data, dict):
            continue
        doc = _Doc(data, lines, source)
        api = data.get("apiVersion")
        if api != "openslo/v1":
            raise SloSpecError([doc.problem(("apiVersion",),
                                            f"unsupported apiVersion {api!r}: expected openslo/v1")])
        docs.append(doc)
    slis = {d.get(("metadata", "name")): d for d in docs if d.data.get("kind") == "SLI"}
    slos: list[dict[str, Any]] = []
    line_pairs: list[tuple[tuple[PathPart, ...], int | None]] = []
    for doc in (d for d in docs if d.data.get("kind") == "SLO"):
        slos.append(_convert(doc, slis, len(slos), line_pairs))
    if not slos:
        raise SloSpecError([SpecProblem(source, None, (), "no OpenSLO document of kind: SLO")])
    lines = LineMap()
    for path, line in line_pairs:
        if line is not None:
            lines.set(path, line)
    return validate_slo_data({"slos": slos}, source, lines)
