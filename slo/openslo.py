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

``budgetingMethod`` (required) ``Occurrences`` maps to ``objective = target`` over the rolling
``timeWindow``; ``Timeslices`` maps to ``objective = timeSliceTarget`` over ``window =
timeSliceWindow``, with ``compliance: {period: timeWindow, target: target, timeslice:
timeSliceWindow}``. What we cannot represent is refused with a message, never given another
meaning: calendar windows, durations in months, quarters or years (OpenSLO's ``M``, ``Q``, ``Y``:
no fixed length; its units are case-sensitive, ``m`` is minutes), ``RatioTimeslices`` (a mean of
the slices' ratios), several objectives per SLO, raw vendor queries, and either-or pairs given
both ways (``target``/``targetPercent``, ``good``/``bad``, ``indicator``/``indicatorRef``). The
other v1 kinds (Service, DataSource, AlertPolicy, ...) are skipped, so an SLO gets this project's
alerting, not its ``alertPolicies``; ``kind: SLI`` documents serve ``indicatorRef``; an unknown
kind is an error (a misspelt ``kind: Slo`` would otherwise vanish).

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
_KINDS = ("SLO", "SLI", "Service", "DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget")
_DURATION = re.compile(r"\d+[smhdw]")            # OpenSLO's shorthand, case-sensitive
_UNFIXED_UNITS = {"M": "months", "Q": "quarters", "Y": "years"}


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


def _duration(doc: _Doc, path: tuple[PathPart, ...]) -> str:
    """An OpenSLO duration as ours. A bare number of ``timeSliceWindow`` is minutes (OpenSLO's rule).

    >>> doc = _Doc({"w": "60M"}, LineMap(), "x.yaml")
    >>> _duration(doc, ("w",))
    Traceback (most recent call last):
    ...
    slo.spec_errors.SloSpecError: x.yaml: w: '60M' is in months, which have no fixed length: use days or weeks (30d, 4w)
    """
    value = doc.get(path)
    if path[-1] == "timeSliceWindow" and type(value) is int and value > 0:
        return f"{value}m"
    text = str(value).strip()
    if text[-1:] in _UNFIXED_UNITS and text[:-1].isdigit():
        raise SloSpecError([doc.problem(path, f"{text!r} is in {_UNFIXED_UNITS[text[-1]]}, which have no fixed "
                                              "length: use days or weeks (30d, 4w)")])
    if not _DURATION.fullmatch(text):
        raise SloSpecError([doc.problem(path, f"bad duration {value!r}: a whole number and one unit of s, m, h, d "
                                              "or w (case matters: M is months)")])
    return text


def _one_of(doc: _Doc, path: tuple[PathPart, ...], mapping: Any, first: str, second: str) -> None:
    """OpenSLO's either-or pairs: both given is refused, not settled by a silent preference."""
    if isinstance(mapping, dict) and first in mapping and second in mapping:
        raise SloSpecError([doc.problem(path + (second,), f"give {first} or {second}, not both")])


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
    if not isinstance(annotations, dict):
        raise SloSpecError([doc.problem(("metadata", "annotations"), "expected a mapping of names to strings")])
    ours: dict[str, Any] = {}
    for key, value in annotations.items():
        if isinstance(key, str) and key.startswith(_ANNOTATION):
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise SloSpecError([doc.problem(("metadata", "annotations", key), "expected a string "
                                                "(segments: comma-separated, like \"country, device\")")])
            ours[key[len(_ANNOTATION):]] = value

    def annotation_line(name: str) -> tuple[PathPart, ...]:
        return ("metadata", "annotations", _ANNOTATION + name)

    if "model-id" in ours:
        model_id = ours.pop("model-id")
        keep(("model_id",), annotation_line("model-id"))
    else:
        model_id = doc.get(("spec", "service"))
        keep(("model_id",), ("spec", "service"))

    # indicator: inline or by reference
    sli_doc, sli_path = doc, ("spec", "indicator")
    _one_of(doc, ("spec",), doc.get(("spec",)), "indicator", "indicatorRef")
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
    _one_of(sli_doc, ratio_path, ratio, "good", "bad")
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
    window = windows[0]
    if not isinstance(window, dict):
        raise SloSpecError([doc.problem(("spec", "timeWindow", 0), "expected a mapping")])
    if "calendar" in window or window.get("isRolling") is False:   # a calendar means isRolling: false
        raise SloSpecError([doc.problem(("spec", "timeWindow", 0, "calendar" if "calendar" in window else "isRolling"),
                                        "calendar windows are not supported: use a rolling window "
                                        "(isRolling: true, no calendar)")])
    period = _duration(doc, ("spec", "timeWindow", 0, "duration"))
    objectives = doc.get(("spec", "objectives"))
    if not isinstance(objectives, list) or len(objectives) != 1:
        raise SloSpecError([doc.problem(("spec", "objectives"),
                                        "exactly one objective per SLO (split the others into "
                                        "their own SLO documents)")])
    _one_of(doc, ("spec", "objectives", 0), objectives[0], "target", "targetPercent")
    target = doc.get(("spec", "objectives", 0, "target"), required=False)
    if target is None:
        percent = doc.get(("spec", "objectives", 0, "targetPercent"))
        target = round(percent / 100.0, 12) if isinstance(percent, (int, float)) else percent
    method = doc.get(("spec", "budgetingMethod"), required=False)
    if method is None:
        raise SloSpecError([doc.problem(("spec", "budgetingMethod"),
                                        "missing required key: Occurrences or Timeslices")])
    slo: dict[str, Any] = {"name": name, "model_id": model_id, "metric": metric}
    slo["positive_label"] = label_a if label_a is not None else label_b
    if method == "Occurrences":
        slo["objective"], slo["window"] = target, period
        keep(("objective",), ("spec", "objectives", 0,
                              "target" if "target" in objectives[0] else "targetPercent"))
        keep(("window",), ("spec", "timeWindow", 0, "duration"))
    elif method == "Timeslices":
        slo["objective"] = doc.get(("spec", "objectives", 0, "timeSliceTarget"))
        slice_window = _duration(doc, ("spec", "objectives", 0, "timeSliceWindow"))
        slo["window"] = slice_window
        slo["compliance"] = {"period": period, "target": target, "timeslice": slice_window}
        keep(("objective",), ("spec", "objectives", 0, "timeSliceTarget"))
        keep(("window",), ("spec", "objectives", 0, "timeSliceWindow"))
        keep(("compliance",), ("spec", "timeWindow", 0, "duration"))
    elif method == "RatioTimeslices":
        raise SloSpecError([doc.problem(("spec", "budgetingMethod"),
                                        "RatioTimeslices (the mean of the slices' ratios) is not supported: "
                                        "use Timeslices (the share of good slices) or Occurrences")])
    else:
        raise SloSpecError([doc.problem(("spec", "budgetingMethod"),
                                        f"unknown budgeting method {method!r}: expected "
                                        "Occurrences or Timeslices"
                                        + did_you_mean(str(method), ["Occurrences", "Timeslices"]))])
    description = doc.get(("spec", "description"), required=False)
    if description is not None:
        slo["description"] = description
    if "min-labels" in ours:
        raw = ours.pop("min-labels")
        slo["min_labels"] = int(raw) if str(raw).isdigit() else raw
        keep(("min_labels",), annotation_line("min-labels"))
    if "segments" in ours:
        slo["segments"] = [s.strip() for s in str(ours.pop("segments")).split(",") if s.strip()]
        keep(("segments",), annotation_line("segments"))
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
        kind = data.get("kind")
        if kind not in _KINDS:
            same_letters = next((k for k in _KINDS if k.lower() == str(kind).lower()), None)   # "Slo"
            hint = f" (did you mean '{same_letters}'?)" if same_letters else did_you_mean(str(kind), _KINDS)
            raise SloSpecError([doc.problem(("kind",), f"unknown kind {kind!r}: expected one of {', '.join(_KINDS)}"
                                                       + hint)])
        docs.append(doc)
    slis: dict[Any, _Doc] = {}
    for d in (d for d in docs if d.data.get("kind") == "SLI"):
        name = d.get(("metadata", "name"))
        if name in slis:
            first = slis[name].lines.line_of(("metadata", "name"))
            raise SloSpecError([d.problem(("metadata", "name"),
                                          f"a second kind: SLI named {name!r} (the first is at line {first})")])
        slis[name] = d
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
