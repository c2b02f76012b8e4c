"""Junk burst: does a flood of bad records slow the valid stream, or grow memory without bound?

The same valid traffic (the simulator's, a day at 6,000 predictions an hour) is written twice to
the real broker: once alone, once with JUNK (default one million) bad records interleaved with
it, into both input topics. The monitor replays each (`run --until-end`) and we print the valid
stream's throughput (valid records / wall second) with and without the burst, the junk that
reached the dead-letter topics, and the monitor's peak resident memory. Target (issue 10): the
valid stream not slowed by more than half.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/python bench/junk_burst.py [--junk N] [--hours H]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from common import HOUR, REPO, START, LoadWatch, bootstrap, end_offsets, print_machine, python

JUNK_KINDS = [
    ("not JSON", lambda rng: b"garbage " + rng.randbytes(24).hex().encode()),
    ("invalid UTF-8", lambda rng: b'{"prediction_id": "\xff\xfe' + rng.randbytes(8) + b'"}'),
    ("wrong types", lambda rng: b'{"prediction_id": 12, "model_id": [], "timestamp": {}, "predicted_label": null}'),
    ("NaN score", lambda rng: b'{"prediction_id": "n", "model_id": "fraud-detector", "timestamp": 1736121600, '
                              b'"predicted_label": 1, "score": NaN}'),
    ("deep nesting", lambda rng: b"[" * 2000 + b"]" * 2000),
    ("huge string", lambda rng: b'{"prediction_id": "' + b"x" * 200_000 + b'"}'),
    ("over the size limit", lambda rng: b'{"pad": "' + b"y" * 300_000 + b'"}'),
    ("far future", lambda rng: b'{"prediction_id": "f", "model_id": "fraud-detector", '
                               b'"timestamp": "9999-12-31T23:59:59Z", "predicted_label": 1}'),
    ("empty", lambda rng: b""),
]
# Mostly small junk (a flood is many small records); the big ones one in ten thousand.
WEIGHTS = [300, 200, 200, 150, 2, 0.1, 0.1, 147.7, 0.1]
SLO_FILE = REPO / "examples" / "slos.yaml"  # the contract's fraud-precision SLO


class JunkInterleaver:
    """A simulator sink that writes each valid record, then its share of the junk after it."""

    def __init__(self, writer, junk: int, valid_expected: int, seed: int = 7) -> None:
        from confluent_kafka import Producer

        self.writer, self.counts = writer, writer.counts
        self._producer = Producer({"bootstrap.servers": bootstrap(), "linger.ms": 50, "compression.type": "lz4",
                                   "queue.buffering.max.messages": 1_000_000, "message.max.bytes": 2_000_000})
        self._per_record = junk / max(valid_expected, 1)
        self._owed, self.junk_sent, self._rng = 0.0, 0, random.Random(seed)
        self._kinds = [make for _, make in JUNK_KINDS]
        self._total = junk

    def send(self, kind: str, event_time: float, record: dict) -> None:
        self.writer.send(kind, event_time, record)
        self._owed += self._per_record
        while self._owed >= 1 and self.junk_sent < self._total:
            self._owed -= 1
            self._junk(self.writer.topics[kind])

    def _junk(self, topic: str) -> None:
        value = self._rng.choices(self._kinds, WEIGHTS)[0](self._rng)
        key = f"junk-{self.junk_sent}".encode()
        while True:
            try:
                self._producer.produce(topic, value, key)
                break
            except BufferError:
                self._producer.poll(0.05)
        self.junk_sent += 1
        if self.junk_sent % 5000 == 0:
            self._producer.poll(0)

    def tick(self) -> None:
        self.writer.tick()

    def close(self) -> None:
        while self.junk_sent < self._total:  # whatever rounding left over
            self._junk(self.writer.topics["prediction"])
        self.writer.close()
        assert self._producer.flush(300) == 0, "junk left unsent"

    def describe(self) -> str:
        return f"{self.writer.describe()} + {self.junk_sent} junk"


def write(stem: str, hours: float, junk: int) -> int:
    from simulator.kafka_writer import KafkaWriter
    from simulator.runner import run_simulation
    from simulator.scenarios import stable
    from simulator.streams import TrafficGenerator

    generator = TrafficGenerator(stable(), start=START, duration=hours * HOUR, rate_per_hour=6000,
                                 seed=3)
    writer = KafkaWriter(bootstrap(), f"{stem}-p", f"{stem}-l", partitions=4)
    sink = JunkInterleaver(writer, junk, int(hours * 6000 * 1.1)) if junk else writer
    run_simulation(generator, sink)
    assert writer.failed == 0, writer.first_error
    return writer.counts["prediction"] + writer.counts["label"]


def replay(stem: str, config: Path, log: Path) -> dict:
    """Run the monitor over the topics to their end; wall seconds and peak RSS (sampled)."""
    command = [python(), "-m", "slo_monitor", "run", "--config", str(config), "--bootstrap-servers", bootstrap(),
               "--until-end", "--no-responder", "--no-remediation", "--metrics-port", "0",
               "--predictions-topic", f"{stem}-p", "--labels-topic", f"{stem}-l", "--joined-topic", f"{stem}-j",
               "--status-topic", f"{stem}-status", "--alerts-topic", f"{stem}-alerts"]
    watch = LoadWatch().start()
    t0 = time.perf_counter()
    peak = 0
    with log.open("w") as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        while process.poll() is None:
            peak = max(peak, _rss_kib(process.pid))
            time.sleep(0.2)
    seconds = time.perf_counter() - t0
    watch.stop()
    if process.returncode != 0:
        raise RuntimeError(f"monitor exited {process.returncode}; see {log}")
    return {"seconds": seconds, "peak_rss_mib": peak / 1024, "load": watch}


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--junk", type=int, default=1_000_000, help="junk records in the burst (default 1,000,000)")
    parser.add_argument("--hours", type=float, default=24.0, help="hours of valid traffic (default 24)")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="junk-burst-"))  # the monitors' logs
    config = SLO_FILE
    clean, burst = f"junk-clean-{uuid.uuid4().hex[:8]}", f"junk-burst-{uuid.uuid4().hex[:8]}"

    t0 = time.perf_counter()
    valid = write(clean, args.hours, 0)
    assert write(burst, args.hours, args.junk) == valid, "the two runs must carry the same valid traffic"
    written = time.perf_counter() - t0
    runs = {"without burst": replay(clean, config, out / "clean.log"),
            "with burst": replay(burst, config, out / "burst.log")}
    dead = sum(end for (topic, _), end in end_offsets([f"{burst}-p.dlq", f"{burst}-l.dlq"]).items())

    print_machine("Junk burst: valid-stream throughput with and without a flood of bad records")
    print(f"Valid records: {valid:,} ({args.hours:g} h of traffic); junk interleaved: {args.junk:,} "
          f"(kinds: {', '.join(name for name, _ in JUNK_KINDS)}); writing both took {written:.0f} s.\n")
    print("| run | wall s | valid records / s | all records / s | peak RSS MiB | machine busy |")
    print("|---|---|---|---|---|---|")
    for name, run in runs.items():
        total = valid + (args.junk if name == "with burst" else 0)
        print(f"| {name} | {run['seconds']:.1f} | {valid / run['seconds']:,.0f} | {total / run['seconds']:,.0f} | "
              f"{run['peak_rss_mib']:.0f} | {run['load'].busy:.0%} |")
    ratio = runs["without burst"]["seconds"] / runs["with burst"]["seconds"]
    print(f"\nValid-stream throughput with the burst: {ratio:.0%} of without "
          f"(target: at least 50%: {'met' if ratio >= 0.5 else 'NOT met'}).")
    print(f"Dead letters written: {dead:,} of {args.junk:,} junk records "
          f"({'all' if dead == args.junk else 'MISMATCH'}).")


if __name__ == "__main__":
    main()
