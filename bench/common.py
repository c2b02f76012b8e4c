"""Shared helpers of the benchmarks: machine details, machine load, topics, traffic, tables.

The benchmarks run on a small shared machine (2 cores, a Kafka broker, other people's tests),
so every figure is printed with the machine it came from and how busy that machine was while
it was measured (`LoadWatch`): the load average and the share of all cores that was busy,
whoever used it.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
sys.path.insert(0, str(REPO))

START = 1_736_121_600.0  # 2025-01-06T00:00:00Z, the simulator's replay start
HOUR = 3600.0
DAY = 24 * HOUR

# Ten segment values (the simulator's own population has eight countries).
TEN_COUNTRIES = {"US": 0.30, "GB": 0.12, "DE": 0.10, "FR": 0.09, "IN": 0.09, "BR": 0.08,
                 "CA": 0.07, "JP": 0.06, "MX": 0.05, "AU": 0.04}
PACKAGES = ("bytewax", "confluent-kafka", "orjson", "pydantic", "numpy", "scipy", "river")


def python() -> str:
    """The project's interpreter (.venv), whichever one runs the benchmark."""
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092"


# --- the machine -----------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    try:
        import confluent_kafka

        out["librdkafka"] = confluent_kafka.libversion()[0]
    except ImportError:
        pass
    return out


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine_lines() -> list[str]:
    load = os.getloadavg()
    versions = ", ".join(f"{k} {v}" for k, v in package_versions().items())
    return [
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores, {memory_total()} memory, {platform.system()} "
        f"{platform.release()}",
        f"- Python {platform.python_version()} ({sys.executable}); {versions}",
        f"- slo-monitor commit {git_commit()}; Kafka at {bootstrap()}",
        f"- load average when printed: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min) on "
        f"{os.cpu_count()} cores",
    ]


def print_machine(title: str) -> None:
    print(f"## {title}\n")
    print("\n".join(machine_lines()))
    print()


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])       # guest time is already counted in user
    return total - idle, total


class LoadWatch:
    """How busy the machine was between `start()` and `stop()` (all processes, all cores).

    >>> w = LoadWatch().start(); _ = sum(range(1000)); w.stop().busy >= 0
    True
    """

    def __init__(self) -> None:
        self.busy = 0.0
        self.load_before = self.load_after = (0.0, 0.0, 0.0)
        self.seconds = 0.0

    def start(self) -> LoadWatch:
        self.load_before = os.getloadavg()
        self._ticks = _cpu_ticks()
        self._t0 = time.monotonic()
        return self

    def stop(self) -> LoadWatch:
        busy0, total0 = self._ticks
        busy1, total1 = _cpu_ticks()
        self.busy = (busy1 - busy0) / max(1, total1 - total0)
        self.load_after = os.getloadavg()
        self.seconds = time.monotonic() - self._t0
        return self

    def short(self) -> str:
        """E.g. 'cores 78% busy, load 1.9': for a table cell."""
        return f"cores {self.busy:.0%} busy, load {self.load_after[0]:.1f}"

    def describe(self, own_cores: float | None = None) -> str:
        """One sentence; `own_cores`: how many cores the measured processes used on average."""
        cores = os.cpu_count() or 1
        text = (f"during these {self.seconds:.0f} s the {cores} cores were {self.busy:.0%} busy "
                f"(all processes), load average {self.load_before[0]:.2f} -> {self.load_after[0]:.2f}")
        if own_cores is not None:
            others = max(0.0, self.busy * cores - own_cores)
            text += (f"; the benchmark's own processes used {own_cores:.2f} cores, everything else "
                     f"(broker, other people's work) {others:.2f}")
            if others > 0.3:
                text += " -- the machine was LOADED, figures are pessimistic"
        elif self.load_after[0] > cores:
            text += " -- the machine was LOADED"
        return text


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (and its reaped children), from /proc/<pid>/stat."""
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in parts[11:15]) / ticks


def children_cpu() -> float:
    """CPU seconds of the child processes waited for so far (diff it around a subprocess run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rss_kib(pid: int | str = "self") -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:   # the process has just exited
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (`run --processes N` starts N of them).

    >>> tree_rss_kib(os.getpid()) >= rss_kib()
    True
    """
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return rss_kib(pid) + sum(tree_rss_kib(int(child)) for child in children)


# --- topics ------------------------------------------------------------------------------------

def unique_stem(name: str) -> str:
    return f"bench-{name}-{uuid.uuid4().hex[:8]}"


def create_topics(names: list[str], partitions: int) -> None:
    from flows.topics import ensure_topics

    ensure_topics({"bootstrap.servers": bootstrap()}, names, partitions)


def delete_topics_containing(stem: str) -> list[str]:
    """Delete every topic whose name contains `stem` (inputs, outputs, .dlq, internal ones)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap()})
    names = [t for t in admin.list_topics(timeout=15).topics if stem in t]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            try:
                future.result(60)
            except Exception as error:  # noqa: BLE001 - cleanup goes on
                print(f"(could not delete a topic: {error})", file=sys.stderr)
    return names


def end_offsets(topics: list[str]) -> dict[tuple[str, int], int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap(), "group.id": f"bench-{uuid.uuid4().hex}"})
    out = {}
    for topic in topics:
        for partition in consumer.list_topics(topic, timeout=15).topics[topic].partitions:
            out[(topic, partition)] = consumer.get_watermark_offsets(TopicPartition(topic, partition), 15)[1]
    consumer.close()
    return out


# --- SLO files and traffic ---------------------------------------------------------------------

# The CONTRACT's example SLO (fraud precision, per country), the one the engine and detection
# benchmarks measure; callers may append SLO keys (indented four spaces) to it.
FRAUD_SLO = """\
slos:
  - name: fraud-precision
    model_id: fraud-detector
    metric: precision
    positive_label: 1
    objective: 0.95
    window: 1h
    min_labels: 30
    segments: [country]
"""


def model_ids(count: int) -> list[str]:
    return [f"model-{i:03d}" for i in range(count)]


def slo_yaml(models: list[str], segments: bool = True) -> str:
    """One precision SLO per model (CONTRACT keys, engine defaults for everything else)."""
    lines = ["slos:"]
    for model in models:
        lines += [f"  - name: {model}-precision", f"    model_id: {model}", "    metric: precision",
                  "    positive_label: 1", "    objective: 0.95", "    window: 1h", "    min_labels: 30"]
        if segments:
            lines.append("    segments: [country]")
    return "\n".join(lines) + "\n"


@dataclass
class Traffic:
    """Several models' simulated traffic (one TrafficGenerator each), merged in event-time order."""

    models: list[str]
    rate_per_model: float            # predictions per hour per model
    hours: float
    seed: int = 1
    label_share: float = 0.2         # share of predictions that get a label
    flagged_rate: float = 0.1
    start: float = START
    timestamp_format: str = "rfc3339"
    scenarios: dict[str, object] = field(default_factory=dict)   # model -> Scenario (default stable)

    def behaviour(self):
        from simulator.model import Behaviour

        unflagged = (self.label_share - self.flagged_rate) / (1.0 - self.flagged_rate)
        return Behaviour(flagged_rate=self.flagged_rate, review_probability_flagged=1.0,
                         review_probability_unflagged=unflagged, label_delay_median=60.0,
                         label_delay_sigma=0.8, label_delay_max=900.0)

    def generators(self):
        from simulator.model import Population
        from simulator.scenarios import stable
        from simulator.streams import TrafficGenerator

        population = Population(segments={"country": TEN_COUNTRIES})
        base = stable(self.behaviour())
        return [TrafficGenerator(self.scenarios.get(model, base), start=self.start, duration=self.hours * HOUR,
                                 rate_per_hour=self.rate_per_model, seed=self.seed + i, model_id=model,
                                 population=population, timestamp_format=self.timestamp_format)
                for i, model in enumerate(self.models)]

    def events(self):
        from simulator.streams import merge_events

        return merge_events(*(g.events() for g in self.generators()))


def preload(traffic: Traffic, predictions_topic: str, labels_topic: str, partitions: int) -> dict[str, int]:
    """Write the traffic to Kafka as fast as possible (KafkaWriter: keyed by prediction_id)."""
    from simulator.kafka_writer import KafkaWriter

    writer = KafkaWriter(bootstrap(), predictions_topic, labels_topic, partitions=partitions)
    try:
        for kind, t, record in traffic.events():
            writer.send(kind, t, record)
    finally:
        writer.close(180)
    return dict(writer.counts)


# --- output ------------------------------------------------------------------------------------

def md_table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")
