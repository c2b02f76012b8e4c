"""Throughput of the whole monitor on the real broker, against a bare consumer and Quix Streams.

    .venv/bin/python bench/throughput.py [--predictions 300000] [--no-quix] [--no-two]

What is measured, all on the same preloaded topics (4 partitions each; 100 models, one
`country` segment with 10 values, 20% of predictions labeled, written by the simulator):

1. ceiling: one plain confluent-kafka consumer in this process that polls every message of
   both topics and decodes it with orjson, nothing else (events / seconds from first poll to
   the last message);
2. slo-monitor, 1 process: `slo-monitor run --until-end` (decode and schema check, DLQ check,
   join, SLO engine with 100 SLOs x 11 keys, writes joined-labels, slo-status, slo-alerts) as a
   subprocess; events / (wall time to exit - start-up time), start-up being the wall time of
   the same command on empty topics (best of 2). Cross-check: events / the span between the
   first and the last output record's Kafka timestamp;
3. Quix Streams peer (bench/quix_peer.py in bench/.venv-quix): the same join and a rolling
   1-hour precision per model; events / (last - first message processed), as it reports;
4. slo-monitor, `--processes 2`: as 2, with two cluster processes on this 2-core machine.

CPU seconds are reported too (rusage of the subprocess and its children): on a machine shared
with other work they are steadier than wall time. Targets (issue 6): 1 process at least 0.5 of
the ceiling and at least 1.5 times the peer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    children_cpu,
    BENCH,
    LoadWatch,
    Traffic,
    bootstrap,
    create_topics,
    delete_topics_containing,
    end_offsets,
    md_table,
    model_ids,
    preload,
    print_machine,
    python,
    slo_yaml,
    unique_stem,
    verdict,
)

QUIX_VENV = BENCH / ".venv-quix"
QUIX_SPEC = "quixstreams==3.28.*"


def ceiling(topics: list[str]) -> dict:
    """Poll and orjson-decode every message of `topics`; nothing else. Timed from the first message."""
    import orjson
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    ends = {tp: end for tp, end in end_offsets(topics).items() if end > 0}
    consumer = Consumer({"bootstrap.servers": bootstrap(), "group.id": f"bench-ceiling-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in ends])
    remaining = set(ends)
    count = 0
    watch = LoadWatch().start()
    t0 = c0 = None
    while remaining:
        for message in consumer.consume(1000, 1.0):
            if message.error():
                continue
            if t0 is None:  # start at the first message: connecting is start-up, not throughput
                t0, c0 = time.perf_counter(), time.process_time()
            orjson.loads(message.value())
            count += 1
            tp = (message.topic(), message.partition())
            if message.offset() + 1 >= ends[tp]:
                remaining.discard(tp)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    watch.stop()
    consumer.close()
    return {"events": count, "seconds": seconds, "cpu": cpu, "load": watch}


def monitor_command(config: Path, inputs: tuple[str, str], stem: str, *extra: str) -> list[str]:
    return [python(), "-m", "slo_monitor", "run", "--config", str(config), "--bootstrap-servers", bootstrap(),
            "--until-end", "--no-responder", "--metrics-port", "0",
            "--predictions-topic", inputs[0], "--labels-topic", inputs[1], "--joined-topic", f"{stem}-joined",
            "--status-topic", f"{stem}-status", "--alerts-topic", f"{stem}-alerts", *extra]


def run_timed(command: list[str], log: Path, env: dict | None = None) -> dict:
    """Run a command to its end; wall seconds, CPU seconds (it and its children), stdout."""
    watch = LoadWatch().start()
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    with log.open("w") as err:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, text=True,
                              env={**os.environ, **(env or {})}, timeout=1800)
    wall = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    watch.stop()
    if done.returncode != 0:
        raise RuntimeError(f"{command[:4]} exited {done.returncode}; see {log}:\n{log.read_text()[-2000:]}")
    return {"seconds": wall, "cpu": cpu, "load": watch, "stdout": done.stdout}


def output_span(topics: list[str]) -> tuple[int, float]:
    """(records, seconds between the first and last record's Kafka timestamp) over `topics`."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    ends = {tp: end for tp, end in end_offsets(topics).items() if end > 0}
    consumer = Consumer({"bootstrap.servers": bootstrap(), "group.id": f"bench-span-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in ends])
    remaining, first, last, count = set(ends), float("inf"), 0.0, 0
    deadline = time.monotonic() + 120
    while remaining and time.monotonic() < deadline:
        for message in consumer.consume(5000, 1.0):
            if message.error():
                continue
            stamp = message.timestamp()[1] / 1000.0
            first, last, count = min(first, stamp), max(last, stamp), count + 1
            if message.offset() + 1 >= ends[(message.topic(), message.partition())]:
                remaining.discard((message.topic(), message.partition()))
    consumer.close()
    return count, (last - first if count else 0.0)


def ensure_quix_venv() -> Path:
    """bench/.venv-quix with Quix Streams (created once, then reused)."""
    py = QUIX_VENV / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import quixstreams"], capture_output=True).returncode == 0:
        return py
    base = next((p for p in ("python3.11", "python3.12", "python3") if _which(p)), sys.executable)
    print(f"(creating {QUIX_VENV} with {base} and pip install {QUIX_SPEC}; once)", file=sys.stderr)
    subprocess.run([base, "-m", "venv", str(QUIX_VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", QUIX_SPEC, "orjson"], check=True)
    return py


def _which(name: str) -> bool:
    from shutil import which

    return which(name) is not None


def quix_version(py: Path) -> str:
    code = "from importlib.metadata import version as v; print(v('quixstreams'), v('confluent-kafka'))"
    return subprocess.run([str(py), "-c", code], capture_output=True, text=True).stdout.strip()


def profile_in_process(config: Path, inputs: tuple[str, str], stem: str, top: int = 25) -> str:
    """cProfile of the monitor flow run in this process (bytewax run_main) over the same topics."""
    import cProfile
    import io
    import pstats

    from bytewax.testing import run_main

    from flows.monitor_flow import build_monitor_flow
    from flows.settings import FlowSettings, Topics
    from slo.spec import load_slo_file

    topics = Topics(predictions=inputs[0], labels=inputs[1], joined=f"{stem}-prof-joined",
                    status=f"{stem}-prof-status", alerts=f"{stem}-prof-alerts")
    create_topics([*topics.monitor_outputs()], 4)
    flow = build_monitor_flow(FlowSettings(bootstrap_servers=bootstrap(), topics=topics, tail=False),
                              load_slo_file(config))
    profiler = cProfile.Profile()
    profiler.enable()
    run_main(flow)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    total = next(ct for (_, _, name), (_, _, _, ct, _) in stats.stats.items() if "run_main" in name)
    out.write(f"time per stage, inclusive (profiled run: {total:.1f} s; profiling inflates small Python calls):\n")
    accounted = 0.0
    for area, needles in PROFILE_STAGES:
        seconds = sum(ct for (filename, _, name), (_, _, _, ct, _) in stats.stats.items()
                      if any(filename.endswith(f) and name == fn for f, fn in needles))
        accounted += seconds
        out.write(f"  {seconds / total:6.1%}  {seconds:6.1f} s  {area}\n")
    out.write(f"  {1 - accounted / total:6.1%}  {total - accounted:6.1f} s  bytewax runtime, operator shims, "
              "small steps (filters, maps)\n\n")
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# Entry points of the flow's stages (file suffix, function): none calls another, so the inclusive
# times add up.
PROFILE_STAGES = (
    ("Kafka consume (flows/kafka_source.py next_batch)", [("flows/kafka_source.py", "next_batch")]),
    ("decode: JSON, validation (hand checks, pydantic for the rest), timestamps, dead-letter records, input metric",
     [("flows/join_flow.py", "_counted_decode")]),
    ("partition clock and shard routing", [("flows/partition_clock.py", "on_batch")]),
    ("join shards (incl. prediction-count signals)", [("flows/join_operator.py", "on_batch")]),
    ("outcome metrics", [("flows/join_flow.py", "_counted_outcomes")]),
    ("route outcomes to SLOs (SloFile.slos_for_model)", [("flows/monitor_flow.py", "route")]),
    ("SLO engine (EngineLogic.on_batch)", [("flows/engine_operator.py", "on_batch")]),
    ("state snapshots at each epoch", [("flows/engine_operator.py", "snapshot"),
                                       ("flows/join_operator.py", "snapshot"),
                                       ("flows/partition_clock.py", "snapshot")]),
    ("encode outputs (joined, status, alerts, rejected labels)", [("flows/monitor_flow.py", "encode_engine_output"),
                                                                  ("flows/join_flow.py", "_joined_records"),
                                                                  ("flows/join_flow.py", "_rejected_dead_letters")]),
    ("Kafka produce (ProducerSink.write_batch)", [("flows/kafka_sink.py", "write_batch")]),
)


def measure_monitor(config: Path, inputs: tuple[str, str], outputs: str, startup: dict, events: int,
                    log: Path, *extra: str) -> dict:
    """One `slo-monitor run --until-end` over the preloaded topics, start-up subtracted."""
    run = run_timed(monitor_command(config, inputs, outputs, *extra), log)
    busy = run["seconds"] - startup["seconds"]
    processes = 2 if "--processes" in extra else 1
    cpu = max(1e-9, run["cpu"] - processes * startup["cpu"])
    joined = sum(end_offsets([f"{outputs}-joined"]).values())
    _, span = output_span([f"{outputs}-joined", f"{outputs}-status", f"{outputs}-alerts"])
    return {**run, "busy": busy, "rate": events / busy, "per_cpu": events / cpu, "joined": joined, "span": span}


def measure_quix(py: Path, inputs: tuple[str, str], outputs: str, counts: dict, log: Path) -> dict:
    """One run of bench/quix_peer.py; timed by the peer from its first to its last message."""
    run = run_timed([str(py), str(BENCH / "quix_peer.py"), "--bootstrap-servers", bootstrap(),
                     "--predictions", inputs[0], "--labels", inputs[1], "--joined-topic", f"{outputs}-joined",
                     "--status-topic", f"{outputs}-status", "--group", outputs,
                     "--predictions-count", str(counts["prediction"]), "--labels-count", str(counts["label"])], log)
    report = json.loads(run["stdout"].strip().splitlines()[-1])
    busy = report["last"] - report["first"]
    events = counts["prediction"] + counts["label"]
    return {**run, "busy": busy, "rate": events / busy,
            "per_cpu": events / (report["cpu_last"] - report["cpu_first"]),
            "joined": sum(end_offsets([f"{outputs}-joined"]).values())}


def report(runs: dict[str, list[dict]], counts: dict, startup: dict, repeat: int, keys: int, quix: str) -> None:
    events = counts["prediction"] + counts["label"]
    best = {name: max(rs, key=lambda r: r["rate"]) for name, rs in runs.items() if rs}
    names = {
        "ceiling": "ceiling: confluent-kafka poll + orjson.loads, 1 process",
        "one": "slo-monitor run --until-end, 1 process",
        "quix": f"Quix Streams peer ({quix}), 1 process",
        "two": "slo-monitor run --until-end --processes 2 (total of both)",
    }
    rows = []
    for name, r in best.items():
        seconds = (f"{r['seconds']:.1f}" if name == "ceiling" else f"{r['busy']:.1f} of {r['seconds']:.1f} wall"
                   if name == "quix" else f"{r['seconds']:.1f} - {startup['seconds']:.1f} start-up")
        every = ", ".join(f"{x['rate']:,.0f}" for x in runs[name])
        rows.append([names[name], seconds, f"**{r['rate']:,.0f}**", every, f"{r['per_cpu']:,.0f}", r["load"].short()])
    print(f"\n{events:,} events ({counts['prediction']:,} predictions, {counts['label']:,} labels), best of "
          f"{repeat} run(s) each:\n")
    print(md_table(["run", "seconds", "events/s", "all runs", "events per CPU-second", "machine (best run)"], rows))
    print()
    one = best["one"]["rate"]
    ratio = one / best["ceiling"]["rate"]
    lines = [f"- slo-monitor / ceiling: **{ratio:.2f}** (target >= 0.5: {verdict(ratio >= 0.5)})"]
    if "quix" in best:
        ratio = one / best["quix"]["rate"]
        per_cpu = best["one"]["per_cpu"] / best["quix"]["per_cpu"]
        lines.append(f"- slo-monitor / Quix Streams peer: **{ratio:.2f}** (target >= 1.5: {verdict(ratio >= 1.5)}); "
                     f"per CPU-second: {per_cpu:.2f}")
    if "two" in best:
        lines.append(f"- 2 processes / 1 process: **{best['two']['rate'] / one:.2f}** (2 cores, shared with the "
                     "broker and other work: a second process has no core of its own here)")
    lines.append(f"- start-up on empty topics: {startup['seconds']:.1f} s wall, {startup['cpu']:.1f} CPU-s "
                 f"(subtracted); {keys:,} tracked keys (100 SLOs x (model + 10 countries)); joined records: "
                 f"{best['one']['joined']:,} of {counts['label']:,} labels"
                 + (f" (Quix: {best['quix']['joined']:,})" if "quix" in best else ""))
    lines.append(f"- cross-check: first to last output record of the best 1-process run: "
                 f"{best['one']['span']:.1f} s = {events / best['one']['span']:,.0f} events/s")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--predictions", type=int, default=300_000,
                        help="predictions to preload, about (diurnal traffic); labels: 20%% of them")
    parser.add_argument("--rate-per-model", type=float, default=36_000.0,
                        help="predictions per hour of event time per model (default 36000: 1000/s overall)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement; the best is used")
    parser.add_argument("--no-quix", action="store_true", help="skip the Quix Streams peer")
    parser.add_argument("--no-two", action="store_true", help="skip the 2-process run")
    parser.add_argument("--profile", action="store_true", help="also cProfile an in-process run of the flow")
    args = parser.parse_args()

    print_machine("Throughput (issue 6.1)")
    stem = unique_stem("tp")
    inputs, empty = (f"{stem}-p", f"{stem}-l"), (f"{stem}-ep", f"{stem}-el")
    workdir = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    config = workdir / "slos.yaml"
    models = model_ids(args.models)
    config.write_text(slo_yaml(models, segments=True))
    hours = args.predictions / (args.rate_per_model * args.models)
    runs: dict[str, list[dict]] = {"ceiling": [], "one": [], "quix": [], "two": []}
    profile = ""
    try:
        create_topics([*inputs, *empty], args.partitions)
        t0 = time.perf_counter()
        counts = preload(Traffic(models, args.rate_per_model, hours), *inputs, partitions=args.partitions)
        events = counts["prediction"] + counts["label"]
        print(f"preloaded {counts['prediction']:,} predictions and {counts['label']:,} labels "
              f"({counts['label'] / counts['prediction']:.1%} labeled) of {args.models} models, 10 countries, "
              f"{hours * 60:.1f} min of event time, {args.partitions} partitions each, "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
        startups = [run_timed(monitor_command(config, empty, f"{stem}-empty{i}"), workdir / f"empty{i}.log")
                    for i in range(2)]
        startup = min(startups, key=lambda r: r["seconds"])
        walls = ", ".join(f"{r['seconds']:.1f}" for r in startups)
        print(f"slo-monitor start-up on empty topics: {walls} s", flush=True)
        py = None if args.no_quix else ensure_quix_venv()
        for i in range(args.repeat):   # interleaved, so that a burst of other work hits all alike
            top = ceiling(list(inputs))
            runs["ceiling"].append({**top, "rate": top["events"] / top["seconds"],
                                    "per_cpu": top["events"] / top["cpu"]})
            runs["one"].append(measure_monitor(config, inputs, f"{stem}-one{i}", startup, events,
                                               workdir / f"one{i}.log"))
            if runs["one"][-1]["joined"] != counts["label"]:
                print(f"WARNING: {runs['one'][-1]['joined']:,} joined records for {counts['label']:,} labels")
            if py is not None:
                runs["quix"].append(measure_quix(py, inputs, f"{stem}-quix{i}", counts, workdir / f"quix{i}.log"))
            if not args.no_two:
                runs["two"].append(measure_monitor(config, inputs, f"{stem}-two{i}", startup, events,
                                                   workdir / f"two{i}.log", "--processes", "2"))
            done = ", ".join(f"{name} {rs[-1]['rate']:,.0f}/s" for name, rs in runs.items() if rs)
            print(f"run {i + 1}: {done}", flush=True)
        if args.profile:
            profile = profile_in_process(config, inputs, stem)
    finally:
        delete_topics_containing(stem)

    report(runs, counts, startup, args.repeat, len(models) * 11, quix_version(py) if py else "")
    if profile:
        print("\ncProfile of an in-process run of the same flow (bytewax.testing.run_main):\n")
        print("```\n" + profile.strip() + "\n```")
    print(f"\n(logs in {workdir})")


if __name__ == "__main__":
    main()
