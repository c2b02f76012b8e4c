"""Diagnostic report (issue 7 part 4): triage accuracy per injected cause, sketch memory and cost.

    .venv/bin/python bench/diagnosis.py [--seeds 20] [--million 1000000]

Triage: each scenario of tests/diagnosis/scenario_cases.py (one per cause, three kinds of
upstream breakage, and a healthy run) is simulated with `--seeds` seeds: 3,000 predictions/h,
10% flagged, change at +3h; events go straight from the simulator through the real SLO tracker
(which raises the alert) into a DiagnosticSketch; its summary's verdict is counted. For the
healthy run, whose tracker raises nothing, the summary is asked for at the end of 7 h.

Memory: the pickled size of one sketch fed stable traffic (labels and statuses included)
until `--million` predictions, every 100,000. Cost: seconds per observe_prediction /
observe_joined on already validated events, and per summary.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import LoadWatch, md_table, print_machine  # noqa: E402

from simulator import scenarios as sc  # noqa: E402
from slo.diagnosis import DiagnosticSketch  # noqa: E402
from tests.diagnosis.diagnosis_support import BASE, SPEC, START, run, synthetic_alert  # noqa: E402
from tests.diagnosis.scenario_cases import CASES  # noqa: E402


def triage_accuracy(seeds: int) -> None:
    rows = []
    summary_seconds = []
    for case, build in CASES.items():
        verdicts: Counter[str] = Counter()
        for seed in range(1, seeds + 1):
            sketch, alert, t = run(build(), seed=seed)
            began = time.perf_counter()
            summary = sketch.summary(alert or synthetic_alert(t))
            summary_seconds.append(time.perf_counter() - began)
            verdicts[summary["triage"]["verdict"]] += 1
        expected = case.split("/")[0]
        rows.append([case, f"{verdicts[expected]}/{seeds}",
                     ", ".join(f"{k} {v}" for k, v in verdicts.most_common() if k != expected) or "-"])
        print(f"  {case}: {dict(verdicts)}", file=sys.stderr, flush=True)
    print("### Triage verdict per injected cause\n")
    print(md_table(["scenario", "right verdict", "other verdicts"], rows))
    summary_seconds.sort()
    print(f"\nsummary(): median {1000 * summary_seconds[len(summary_seconds) // 2]:.0f} ms, "
          f"max {1000 * summary_seconds[-1]:.0f} ms over {len(summary_seconds)} summaries\n")


def memory(million: int) -> None:
    sketch = DiagnosticSketch(SPEC)
    rate, hours = 20000.0, 10.0
    rows, part, seen = [], 0, 0
    while seen < million:
        began = time.perf_counter()
        run(sc.stable(BASE), hours=hours, rate=rate, seed=100 + part, stop_at_alert=False,
            sketch=sketch, start=START + part * hours * 3600)
        elapsed = time.perf_counter() - began
        seen += int(rate * hours)     # about: the simulator's arrivals are random
        part += 1
        rows.append([f"{seen:,}", f"{sketch.state_bytes() / 1024:.0f}", len(sketch.slices),
                     f"{elapsed:.1f}"])
        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    print("### Sketch state (pickled) under stable traffic, 20,000 predictions/h\n")
    print(md_table(["predictions (about)", "state KiB", "slices", "seconds for the last 200,000 "
                    "(simulate, validate, track, sketch)"], rows))
    print()


def cost() -> None:
    from schemas.events import Label, Prediction
    from schemas.joined import JoinedRecord
    from simulator import TrafficGenerator

    generator = TrafficGenerator(sc.stable(BASE), start=START, duration=3 * 3600, rate_per_hour=20000,
                                 seed=5, timestamp_format="epoch")
    predictions, labels, by_id = [], [], {}
    for kind, _, record in generator.events():
        if kind == "prediction":
            p = Prediction.model_validate(record)
            predictions.append(p)
            by_id[p.prediction_id] = p
        else:
            label = Label.model_validate(record)
            p = by_id[label.prediction_id]
            labels.append(JoinedRecord(p.prediction_id, p.model_id, p.model_version, p.timestamp,
                                       label.timestamp, p.predicted_label, label.label,
                                       p.review_probability, p.score, dict(p.segment), label.reviewer))
    sketch = DiagnosticSketch(SPEC)
    began = time.perf_counter()
    for p in predictions:
        sketch.observe_prediction(p)
    per_prediction = (time.perf_counter() - began) / len(predictions)
    began = time.perf_counter()
    for j in labels:
        sketch.observe_joined(j)
    per_label = (time.perf_counter() - began) / len(labels)
    print(f"### Cost\n\nobserve_prediction {1e6 * per_prediction:.1f} us ({len(predictions):,} "
          f"predictions), observe_joined {1e6 * per_label:.1f} us ({len(labels):,} labels)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--million", type=int, default=1_000_000)
    args = parser.parse_args()
    print_machine("Diagnosis (issue 7 part 4, bench/diagnosis.py)")
    watch = LoadWatch().start()
    cost()
    triage_accuracy(args.seeds)
    memory(args.million)
    watch.stop()
    print(f"machine load while measuring: {watch.describe()}")


if __name__ == "__main__":
    main()
