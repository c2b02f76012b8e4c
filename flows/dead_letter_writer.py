"""Dead letters written by a helper process, so that a flood of junk costs the flow little.

Wording why a record was rejected, encoding its dead letter and producing it cost several
microseconds of Python per record, on the thread that also runs the join and the SLO engine: a
million junk records interleaved with a day of valid traffic halved the valid stream's speed
(bench/junk_burst.py). The flow now only tells junk from valid and hands the rejected records, as
fetched, with the reasons it has (most junk shows its reason on the way to the verdict), to this
sink. Its partition starts a helper process at the first of them, which words the reasons the flow
left unworded (`UNWORDED`: the same decoders, so the same words), encodes each dead letter and
produces it, on another core if the machine has one.

A process that may use less than one and a half CPUs (`has_spare_cpu`) writes its dead letters in
the flow's own thread instead, as before, where a helper would only compete with the flow.

Delivery is what `ProducerSink` promises: at the end of each epoch (`snapshot`) the sink waits
until the helper has had every record handed to it so far acknowledged by Kafka, so the epoch's
recovery snapshot never covers a dead letter that could still be lost. A failed delivery, or a
helper that died, fails the step loudly.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import pickle
import signal
from multiprocessing.connection import Connection
from multiprocessing.util import Finalize
from pathlib import Path
from typing import NamedTuple

from bytewax.outputs import StatefulSinkPartition
from confluent_kafka import KafkaException

from flows.decode_stage import RejectedRecord
from flows.kafka_clients import quiet_logs
from flows.kafka_sink import OutRecord, ProducerSink, _ProducerPartition
from flows.settings import Topics
from schemas.dead_letter import dead_letter_json
from schemas.decode import UNWORDED, label_or_reason, prediction_or_reason

log = logging.getLogger(__name__)

# Requests to the helper, pickled; anything else it receives is a list of RejectedRecords.
_FLUSH, _STOP = "flush", "stop"
_FLUSH_REQUEST, _STOP_REQUEST = pickle.dumps(_FLUSH), pickle.dumps(_STOP)


class RejectedRecords(NamedTuple):
    """Records of one input partition the flow rejected, as fetched, with their reasons."""

    topic: str                  # the input topic
    partition: int
    records: list[RejectedRecord]


def dead_letter_records(rejected: RejectedRecords, labels_topic: str) -> list[OutRecord]:
    """The `<topic>.dlq` record of each rejected record, keyed as it was, with its reason; an
    `UNWORDED` reason is worded here, by the decoder that gave the verdict.

    >>> wrong = b'{"prediction_id": 7}'
    >>> out = dead_letter_records(RejectedRecords("preds", 2, [(b"k", b"oops", 11, "not JSON"),
    ...                                                       (None, wrong, 12, UNWORDED)]), "labels")
    >>> [(record.topic, record.key) for record in out]
    [('preds.dlq', b'k'), ('preds.dlq', None)]
    >>> import orjson
    >>> orjson.loads(out[1].value)["error"]
    'prediction_id: has the wrong type int (got 7); model_id: is required; timestamp: is required (and 1 more)'
    """
    topic, partition = rejected.topic, rejected.partition
    to_topic = Topics.dead_letter(topic)
    is_label = topic == labels_topic
    out = []
    new = tuple.__new__   # an OutRecord without its Python-level __new__ (half the cost; one per junk record)
    for key, value, offset, reason in rejected.records:
        if reason == UNWORDED:
            reason = label_or_reason(value) if is_label else prediction_or_reason(value)
            if type(reason) is not str:
                raise ValueError(f"{topic} partition {partition} offset {offset} was rejected by the flow, "
                                 "but it decodes: a bug in the decoders' fast verdict")
        out.append(new(OutRecord, (to_topic, key, dead_letter_json(topic, partition, offset, reason, value))))
    return out


def serve(connection: Connection, config: dict[str, str], labels_topic: str, log_level: int) -> None:
    """The helper process: dead letters for every `RejectedRecords` received, delivery confirmed on
    each flush request. It stops when asked or when the flow's end of the pipe closes (after
    delivering what it has); signals are for the flow, which stops it in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})   # blocked by `_start`
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    producer = _ProducerPartition(quiet_logs(config))
    failure: str | None = None
    while True:
        try:
            request = pickle.loads(connection.recv_bytes())
        except EOFError:
            request = _STOP
        if request == _FLUSH or request == _STOP:
            if failure is None:
                try:
                    producer.snapshot()   # waits until every record is acknowledged
                except KafkaException as error:
                    failure = str(error)
            if request == _STOP:
                return
            connection.send(failure)
        elif failure is None:
            try:
                producer.write_batch([dead_letter_records(rejected, labels_topic) for rejected in request])
            except Exception as error:   # noqa: BLE001 - reported to the flow at its next flush
                failure = f"dead-letter writer: {error}"


class _WriterPartition(StatefulSinkPartition[RejectedRecords, None]):
    def __init__(self, config: dict[str, object], labels_topic: str) -> None:
        # The helper adds its own librdkafka logger (a logger does not cross processes).
        self._config = {name: value for name, value in config.items() if name != "logger"}
        self._labels_topic = labels_topic
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None

    def _start(self) -> Connection:
        context = multiprocessing.get_context("spawn")   # a fork would copy the engine's threads' locks
        ours, theirs = context.Pipe()
        self._process = context.Process(
            target=serve, args=(theirs, self._config, self._labels_topic, logging.getLogger().getEffectiveLevel()),
            name="slo-monitor-dead-letters", daemon=True)
        # The helper ignores the signals meant for the flow; blocked until it does (it inherits the
        # mask), so that a Ctrl-C while it imports cannot kill it either.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self._process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        theirs.close()
        self._connection = ours
        # Run by multiprocessing's exit handler before it waits for every child (an `atexit` hook is
        # not sure to run first).
        self._at_exit = Finalize(self, self._abandon, exitpriority=10)
        log.info("dead-letter writer started (pid %d)", self._process.pid)
        return ours

    def _abandon(self) -> None:
        """At exit without `close` (the flow failed): close the pipe, so that the helper delivers what
        it has and ends. multiprocessing's exit handler would otherwise wait forever for a helper
        still reading an open pipe."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
            self._process.join(60)
            if self._process.is_alive():
                self._process.kill()

    def write_batch(self, items: list[RejectedRecords]) -> None:
        connection = self._connection or self._start()
        try:
            # blocks while the helper is a pipe's buffer behind: memory stays bounded. Pickled here,
            # not by `send`: multiprocessing's pickler costs ten times as much per record.
            connection.send_bytes(pickle.dumps(items, pickle.HIGHEST_PROTOCOL))
        except OSError:
            self._raise_exited()

    def snapshot(self) -> None:
        """The end of an epoch: every dead letter handed over so far is delivered before it is committed."""
        if self._connection is None:
            return
        try:
            self._connection.send_bytes(_FLUSH_REQUEST)
            failure = self._connection.recv()
        except (OSError, EOFError):
            self._raise_exited()
        if failure is not None:
            raise KafkaException(failure)

    def close(self) -> None:
        """Deliver what is left (raising if that fails, as `snapshot`), then stop the helper."""
        if self._connection is None:
            return
        try:
            self.snapshot()
        finally:
            self._stop()

    def _stop(self) -> None:
        try:
            self._connection.send_bytes(_STOP_REQUEST)
        except OSError:
            pass   # it is gone already
        self._process.join(60)
        if self._process.is_alive():
            self._process.kill()
        self._connection.close()
        self._connection = None
        self._at_exit.cancel()

    def _raise_exited(self) -> None:
        self._process.join(5)
        raise RuntimeError(f"the dead-letter writer process exited (code {self._process.exitcode}); "
                           "dead letters since the last epoch are undelivered")


class _InProcessPartition(StatefulSinkPartition[RejectedRecords, None]):
    """Without a spare CPU a helper would only compete with the flow, and cost more in all (it decodes
    what the flow left unworded again, and every record crosses a pipe): the flow's own thread makes
    and produces the dead letters."""

    def __init__(self, config: dict[str, object], labels_topic: str) -> None:
        self._producer = _ProducerPartition(config)
        self._labels_topic = labels_topic

    def write_batch(self, items: list[RejectedRecords]) -> None:
        self._producer.write_batch([dead_letter_records(rejected, self._labels_topic) for rejected in items])

    def snapshot(self) -> None:
        self._producer.snapshot()

    def close(self) -> None:
        self._producer.close()


class DeadLetterSink(ProducerSink):
    """Writes `RejectedRecords` to `<topic>.dlq`, through a helper process when `helper` (see
    `has_spare_cpu`), partitioned as `ProducerSink` (every item keyed `local_key(process_id)`,
    written by the process that made it)."""

    def __init__(self, config: dict[str, str], labels_topic: str, process_id: int = 0, processes: int = 1,
                 helper: bool = True) -> None:
        super().__init__(config, process_id, processes)
        self._labels_topic = labels_topic
        self._helper = helper

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> StatefulSinkPartition:
        writer = _WriterPartition if self._helper else _InProcessPartition
        return writer(self._config, self._labels_topic)


def has_spare_cpu(cgroup: Path = Path("/sys/fs/cgroup"), own: str | None = None) -> bool:
    """Whether this process may use at least one and a half CPUs: its CPU affinity, capped by the CPU
    quota of its cgroup or any parent (cgroup v2 `cpu.max`; v1 `cpu.cfs_quota_us` at `cgroup/cpu`).
    `own` is the process's cgroup v2 path (read from /proc/self/cgroup when None).

    Pinned to one core, the helper made a million junk records cost the valid stream more than
    writing them in the flow's thread (40% of its speed against 52%); with two, less (55-62%).
    Several processes of one cluster on one machine each count all of its CPUs.
    """
    quota = _cgroup_cpu_quota(cgroup, _own_cgroup() if own is None else own)
    return min(float(len(os.sched_getaffinity(0))), quota or math.inf) >= 1.5


def _own_cgroup() -> str:
    """This process's cgroup v2 path ("/" inside a container with its own cgroup namespace)."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return line[3:] or "/"
    except OSError:
        pass
    return "/"


def _cgroup_cpu_quota(root: Path, own: str = "/") -> float | None:
    r"""CPUs allowed by the smallest quota on the way from cgroup `own` up to the root; None without one.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "pod" / "app").mkdir(parents=True)
    >>> _ = (root / "pod" / "cpu.max").write_text("150000 100000\n")
    >>> _ = (root / "pod" / "app" / "cpu.max").write_text("max 100000\n")
    >>> _cgroup_cpu_quota(root, "/pod/app"), _cgroup_cpu_quota(root, "/")
    (1.5, None)
    """
    quotas = []
    directory = root / own.strip("/")
    for level in [directory, *directory.parents]:
        try:
            quota, period = (level / "cpu.max").read_text().split()[:2]
            if quota != "max":
                quotas.append(int(quota) / int(period))
        except (OSError, ValueError):
            pass
        if level == root:
            break
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        if quota_us > 0 and period_us > 0:
            quotas.append(quota_us / period_us)
    except (OSError, ValueError):
        pass
    return min(quotas, default=None)
