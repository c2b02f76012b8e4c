"""The triage verdict: which of five causes the evidence points to, and the evidence itself.

Pure: it reads the report's sections (already tested, with p-values adjusted for the number of
comparisons) and applies the rules below, first match wins (docs/remediation.md explains them):

1. upstream_change: a feature's missing share rose, it has categories the reference never had,
   or most of its values left the reference range (slo/diagnosis/inputs.py; BH across all
   those checks at `fdr`).
2. labelling_problem: one reviewer (or at most a quarter of them) agrees with the model
   significantly less than the other reviewers (BH across reviewers), and without that
   reviewer's labels the metric is healthy: not significantly below the reference, or its
   upper 95% bound still reaches the objective.
3. version_regression: several versions served in the window, one (not all) is significantly
   worse than the others (BH across versions), and the others are healthy (as in 2).
4. data_drift: at least one input feature of all predictions drifted (the drift monitor's test
   and rule: KS or chi-square, PSI, BH), with no sign of breakage.
5. concept_drift: the metric is significantly below the reference (two proportions on
   effective counts, p <= alpha) while no input feature drifted.

Otherwise "no_clear_cause" when the metric dropped, or "none" when it did not: no confident
verdict. Each verdict carries the evidence that made it and the numbers behind it.

>>> metric = {"current": {"estimate": 0.8}, "reference": {"estimate": 0.97}, "p_value": 1e-9,
...           "without_worse_reviewers": None, "without_worse_versions": None}
>>> triage(metric, {}, {}, [], [])["verdict"]
'concept_drift'
>>> triage({**metric, "p_value": 0.3}, {}, {}, [], [])["verdict"]
'none'
"""

from __future__ import annotations

from typing import Any

CAUSES = ("upstream_change", "labelling_problem", "version_regression", "data_drift",
          "concept_drift")


def _fmt(x: float | None) -> str:
    return "unknown" if x is None else f"{x:.3f}"


def dropped(metric: dict[str, Any], alpha: float) -> bool:
    """The current metric is significantly below the reference."""
    cur, ref = metric["current"]["estimate"], metric["reference"]["estimate"]
    return cur is not None and ref is not None and cur < ref and metric["p_value"] <= alpha


def healthy(rest: dict[str, Any] | None, objective: float | None, alpha: float) -> bool:
    """The metric without the suspect group is fine: no significant drop from the reference,
    or an upper bound that still reaches the objective."""
    if rest is None:
        return False
    upper = rest["current"].get("upper")
    return not dropped(rest, alpha) or (objective is not None and upper is not None
                                        and upper >= objective)


def triage(metric: dict[str, Any], upstream: dict[str, list[dict[str, Any]]],
           input_drift: dict[str, dict[str, Any]], versions: list[dict[str, Any]],
           reviewers: list[dict[str, Any]], *, alpha: float = 0.05) -> dict[str, Any]:
    """Verdict, confidence, human-readable evidence and the numbers per cause (see module)."""
    fell = dropped(metric, alpha)
    findings: dict[str, dict[str, Any]] = {}

    broken = [(name, c) for name, checks in upstream.items() for c in checks if c.get("found")]
    findings["upstream_change"] = {
        "holds": bool(broken),
        "evidence": [_upstream_sentence(name, c) for name, c in broken],
        "numbers": {name: c for name, c in broken}}

    bad_reviewers = [r for r in reviewers if r["worse"]]
    rest = metric.get("without_worse_reviewers")
    few = 0 < len(bad_reviewers) <= max(1, len(reviewers) // 4)
    findings["labelling_problem"] = {
        "holds": bool(few and healthy(rest, metric.get("objective"), alpha)),
        "evidence": [f"reviewer {r['value']!s} agrees with the model on {_fmt(r['current']['estimate'])} "
                     f"of {r['current']['labels']} labels against {_fmt(r['rest']['estimate'])} for "
                     f"the other reviewers (q = {r['q_value']:.2g})" for r in bad_reviewers]
                    + ([f"without them the metric is {_fmt(rest['current']['estimate'])} (95% bound "
                        f"{_fmt(rest['current'].get('lower'))} to {_fmt(rest['current'].get('upper'))}) against "
                        f"{_fmt(rest['reference']['estimate'])} in the reference (p = {rest['p_value']:.2g})"]
                       if rest and bad_reviewers else []),
        "numbers": {"reviewers": bad_reviewers, "without": rest}}

    bad_versions = [v for v in versions if v["worse"]]
    rest = metric.get("without_worse_versions")
    findings["version_regression"] = {
        "holds": bool(len(versions) > 1 and 0 < len(bad_versions) < len(versions)
                      and healthy(rest, metric.get("objective"), alpha)),
        "evidence": [f"version {v['value']!s} (first seen {v.get('first_seen')}) has {metric_name(metric)} {_fmt(v['current']['estimate'])} on "
                     f"{v['current']['labels']} labels against {_fmt(v['rest']['estimate'])} for the "
                     f"other versions (q = {v['q_value']:.2g})" for v in bad_versions]
                    + ([f"the other versions stay at {_fmt(rest['current']['estimate'])} (95% bound "
                        f"{_fmt(rest['current'].get('lower'))} to {_fmt(rest['current'].get('upper'))}) against "
                        f"{_fmt(rest['reference']['estimate'])} in the reference (p = {rest['p_value']:.2g})"]
                       if rest and bad_versions else []),
        "numbers": {"versions": bad_versions, "without": rest}}

    drifted = {k: v for k, v in input_drift.items() if v.get("drifted")}
    findings["data_drift"] = {
        "holds": bool(drifted),
        "evidence": [f"feature {k!s} drifted ({v['test']} p = {v['p_value']:.2g}, q = {v['q_value']:.2g}, "
                     f"PSI {v['psi']:.3f} against a threshold of {v['psi_threshold']:.3f} at these "
                     f"sample sizes)" for k, v in drifted.items()],
        "numbers": drifted}

    findings["concept_drift"] = {
        "holds": fell and not drifted,
        "evidence": ([f"{metric_name(metric)} fell from {_fmt(metric['reference']['estimate'])} to "
                      f"{_fmt(metric['current']['estimate'])} (p = {metric['p_value']:.2g}) while no "
                      f"input feature drifted"] if fell and not drifted else []),
        "numbers": {"metric": metric}}

    verdict = next((cause for cause in CAUSES if findings[cause]["holds"]), None)
    if verdict is None:
        verdict = "no_clear_cause" if fell else "none"
        evidence = ([f"{metric_name(metric)} fell from {_fmt(metric['reference']['estimate'])} to "
                     f"{_fmt(metric['current']['estimate'])} (p = {metric['p_value']:.2g}), but no rule's "
                     f"evidence is complete"] if fell else
                    [f"{metric_name(metric)} is {_fmt(metric['current']['estimate'])} against "
                     f"{_fmt(metric['reference']['estimate'])} in the reference (p = "
                     f"{metric['p_value']:.2g}): not a significant drop, and no cause stands out"])
    else:
        evidence = findings[verdict]["evidence"]
    return {"verdict": verdict, "confident": verdict in CAUSES, "metric_dropped": fell,
            "evidence": evidence, "causes": findings, "alpha": alpha}


def metric_name(metric: dict[str, Any]) -> str:
    return metric.get("name", "the metric")


def _upstream_sentence(name: str, check: dict[str, Any]) -> str:
    kind = check["check"]
    if kind == "missing_values":
        return (f"feature {name!s}: missing values rose from {_fmt(check['reference'])} to "
                f"{_fmt(check['current'])} (q = {check['q_value']:.2g})")
    if kind == "unseen_categories":
        return (f"feature {name!s}: {check['count']} sampled values of categories the reference never "
                f"had ({', '.join(check['values'])}), q = {check['q_value']:.2g}")
    return (f"feature {name!s}: {check['outside']:.0%} of values outside the reference range "
            f"{check['reference_range'][0]:.4g} to {check['reference_range'][1]:.4g} (median "
            f"{check['reference_median']:.4g} -> {check['current_median']:.4g}, q = {check['q_value']:.2g})")
