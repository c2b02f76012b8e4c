"""What `PredictionLogger.log` costs a model service's request, and how fast predictions reach Kafka.

Measures, on the real broker (KAFKA_BOOTSTRAP_SERVERS): the wall time of each `log()` call
(validation + serialisation + queueing; p50/p99/max), sustained calls per second from one thread,
and the time until every queued prediction is delivered. Then the same calls with the broker
unreachable: each call still returns at once (queued, then dropped once the bounded queue is full).

    .venv/bin/python bench/instrument.py [--count 20000]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time

from common import LoadWatch, bootstrap, create_topics, delete_topics_containing, print_machine, unique_stem

from slo_monitor.instrument import PredictionLogger

FEATURES = {"amount": 123.4, "account_age_days": 12, "channel": "web", "merchant_risk": 0.3}


def measure(logger: PredictionLogger, count: int) -> tuple[list[float], float]:
    latencies = []
    started = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        logger.log(prediction_id=f"b{i}", predicted_label=i % 2, score=0.42, segment={"country": "US"},
                   features=FEATURES)
        latencies.append(time.perf_counter() - t0)
    return latencies, time.perf_counter() - started


def describe(name: str, latencies: list[float], seconds: float) -> None:
    ordered = sorted(latencies)
    micro = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6   # noqa: E731
    print(f"| {name} | {len(latencies)} | {micro(0.5):.0f} | {micro(0.99):.0f} | {ordered[-1] * 1e6:.0f} | "
          f"{len(latencies) / seconds:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    print_machine("PredictionLogger.log: cost per request")
    stem = unique_stem("instrument")
    topic = f"{stem}-predictions"
    create_topics([topic], 4)
    print("| broker | calls | p50 µs | p99 µs | max µs | calls/s (one thread) |\n|---|---|---|---|---|---|")
    watch = LoadWatch().start()
    logger = PredictionLogger(bootstrap(), topic, model_id="fraud-detector", model_version="1")
    latencies, seconds = measure(logger, args.count)
    describe("up", latencies, seconds)
    t0 = time.perf_counter()
    left = logger.close(60)
    delivered_after = time.perf_counter() - t0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    down = PredictionLogger(dead, topic, model_id="fraud-detector", max_queue=args.count // 2,
                            kafka_config={"message.timeout.ms": 1000})
    latencies_down, seconds_down = measure(down, args.count)
    describe("unreachable", latencies_down, seconds_down)
    down.close(5)
    watch.stop()
    print(f"\nbroker up: {dict(logger.counts)}; all delivered {delivered_after:.2f} s after the last call "
          f"(left unsent: {left}); mean call {statistics.fmean(latencies) * 1e6:.0f} µs")
    print(f"broker unreachable: {dict(down.counts)} (queue bound {args.count // 2}: the rest dropped, counted)")
    print(watch.describe())
    delete_topics_containing(stem)


if __name__ == "__main__":
    main()
