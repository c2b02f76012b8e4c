"""CPU per event of the monitor flow without Kafka: repeatable A/B figures for the hot path.

    .venv/bin/python bench/flow_cpu.py [--predictions 100000] [--profile] [--repeat 3]

The throughput benchmark's wall-clock figures move by 2x with the load of a shared machine.
This one runs the real monitor dataflow (`build_monitor_flow`: decode, partition clock, join
shards, routing, SLO engine, output encoding) in this process with Bytewax's `run_main`, fed
from memory instead of Kafka (the same contract JSON the simulator writes, as
`MessageBatch`es of 4 partitions per topic, as `flows.kafka_source` fetches them), and writing into a counting sink instead of
a producer. It reports CPU seconds of this process per event (`time.process_time`, which other
people's work on the machine hardly changes), and a digest of every output record (status,
alerts, joined, dead letters) so two versions of the code can be checked to produce exactly the
same output. What it leaves out is what no code of ours controls: librdkafka fetch and
produce, and bytewax's Kafka wrapper (~15% of the flow in the throughput benchmark's profile).

For instruction counts (steadier still), run it under callgrind with a small size:
`valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out .venv/bin/python bench/flow_cpu.py
--predictions 20000 --repeat 1`.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

from common import Traffic, model_ids, print_machine, slo_yaml  # noqa: E402

PARTITIONS = 4
PREDICTIONS_TOPIC, LABELS_TOPIC = "p", "l"


def messages(models: int, predictions: int, rate_per_model: float = 36_000.0, fetch: int = 1000) -> dict[str, list]:
    """Contract JSON records per topic, in event-time order, partitioned by crc32 of the key, as the
    flow's source delivers them: `MessageBatch`es of up to `fetch` records of one partition."""
    from flows.kafka_source import MessageBatch

    hours = predictions / (rate_per_model * models)
    records: dict[str, list[list]] = {PREDICTIONS_TOPIC: [], LABELS_TOPIC: []}
    offsets: dict[tuple[str, int], int] = {}
    for kind, _, record in Traffic(model_ids(models), rate_per_model, hours).events():
        topic = PREDICTIONS_TOPIC if kind == "prediction" else LABELS_TOPIC
        key = record["prediction_id"].encode()
        partition = zlib.crc32(key) % PARTITIONS
        offset = offsets[(topic, partition)] = offsets.get((topic, partition), -1) + 1
        records[topic].append((partition, key, orjson.dumps(record), offset))
    out: dict[str, list] = {}
    for topic, in_order in records.items():
        out[topic] = []
        for start in range(0, len(in_order), fetch * PARTITIONS):   # the partitions fetched in turn
            chunk = in_order[start:start + fetch * PARTITIONS]
            for partition in range(PARTITIONS):
                batch = [(key, value, offset) for part, key, value, offset in chunk if part == partition]
                if batch:
                    out[topic].append(MessageBatch(topic, partition, batch, []))
    return out


def build(inputs: dict[str, list], slo_text: str, sink_records: list):
    """The monitor flow, with Kafka input and output swapped for memory."""
    from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
    from bytewax.testing import TestingSource

    import flows.join_flow as join_flow
    import flows.monitor_flow as monitor_flow
    from flows.join_state import LABELS, PREDICTIONS, JoinSettings
    from flows.settings import FlowSettings, Topics
    from slo.spec import parse_slo_yaml

    class _Part(StatefulSinkPartition):
        def write_batch(self, items):
            sink_records.extend((record.topic, record.key, record.value) for batch in items for record in batch)

        def snapshot(self):
            return None

    class MemorySink(FixedPartitionedSink):   # ProducerSink's interface, in memory
        def __init__(self, config=None, process_id=0, processes=1) -> None:
            pass

        def list_parts(self):
            return ["memory"]

        def part_fn(self, item_key):
            return 0

        def build_part(self, step_id, for_part, resume_state):
            return _Part()

    def memory_source(brokers, topics, **_):
        return TestingSource(inputs[topics[0]], batch_size=1)

    join_flow.MonitorKafkaSource = memory_source
    join_flow.ProducerSink = MemorySink
    monitor_flow.ProducerSink = MemorySink
    settings = FlowSettings(
        bootstrap_servers="127.0.0.1:1", tail=False,
        topics=Topics(predictions=PREDICTIONS_TOPIC, labels=LABELS_TOPIC),
        join=JoinSettings(input_partitions=((PREDICTIONS, PARTITIONS), (LABELS, PARTITIONS))),
    )
    return monitor_flow.build_monitor_flow(settings, parse_slo_yaml(slo_text))


def digest(records: list) -> str:
    """Order-free digest of the output records (a worker may interleave outputs differently)."""
    lines = sorted(f"{topic}|{key!r}|{value!r}" for topic, key, value in records)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def run_once(inputs: dict[str, list], slo_text: str, profile: bool = False) -> dict:
    from bytewax.testing import run_main

    records: list = []
    flow = build(inputs, slo_text, records)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    c0, t0 = time.process_time(), time.perf_counter()
    run_main(flow)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    if profiler is not None:
        profiler.disable()
    by_topic: dict[str, int] = {}
    for topic, _, _ in records:
        by_topic[topic] = by_topic.get(topic, 0) + 1
    return {"cpu": cpu, "wall": wall, "digest": digest(records), "outputs": by_topic, "profiler": profiler}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--predictions", type=int, default=100_000)
    parser.add_argument("--rate-per-model", type=float, default=36_000.0,
                        help="predictions per hour of event time per model (36000: the throughput benchmark's "
                             "1000/s; lower spreads the same events over more evaluation steps)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one more run, print the top")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--default-gc", action="store_true",
                        help="keep CPython's default collector settings (the monitor tunes them: slo_monitor.gc_tuning)")
    args = parser.parse_args()

    print_machine("Flow CPU per event, no Kafka (issue 6.1, A/B figures)")
    inputs = messages(args.models, args.predictions, args.rate_per_model)
    slo_text = slo_yaml(model_ids(args.models), segments=True)
    minutes = args.predictions / (args.rate_per_model * args.models) * 60
    counts = {topic: sum(len(batch.records) for batch in batches) for topic, batches in inputs.items()}
    events = sum(counts.values())
    print(f"{counts[PREDICTIONS_TOPIC]:,} predictions, {counts[LABELS_TOPIC]:,} labels, "
          f"{args.models} models x 11 keys, {minutes:.1f} min of event time", flush=True)
    if not args.default_gc:
        from slo_monitor.gc_tuning import tune_for_streaming

        tune_for_streaming()   # as `slo-monitor run` does before its flow starts
    runs = []
    for i in range(args.repeat):
        run = run_once(inputs, slo_text)
        runs.append(run)
        print(f"run {i + 1}: {run['cpu']:.2f} CPU-s ({run['wall']:.2f} s wall): "
              f"{run['cpu'] / events * 1e6:.1f} us CPU per event, {events / run['cpu']:,.0f} events per CPU-second; "
              f"outputs {run['outputs']} digest {run['digest']}", flush=True)
    best = min(runs, key=lambda r: r["cpu"])
    if len({r["digest"] for r in runs}) != 1:
        print("WARNING: output differs between runs of the same code")
    print(f"\nbest of {len(runs)}: **{best['cpu'] / events * 1e6:.1f} us** CPU per event = "
          f"{events / best['cpu']:,.0f} events per CPU-second (output digest {best['digest']})")
    if args.profile:
        import io
        import pstats

        run = run_once(inputs, slo_text, profile=True)
        out = io.StringIO()
        pstats.Stats(run["profiler"], stream=out).sort_stats("tottime").print_stats(args.top)
        print("\n```\n" + out.getvalue().strip() + "\n```")


if __name__ == "__main__":
    main()
