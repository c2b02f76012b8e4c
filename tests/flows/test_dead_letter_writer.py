"""The dead-letter writer against the real broker: its helper process words, encodes and delivers the
rejected records by the end of each epoch, and a failure there (a refused delivery, a verdict the
decoders do not share, a helper that died) stops the step instead of losing dead letters."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from flows.dead_letter_writer import DeadLetterSink, RejectedRecords, has_spare_cpu
from schemas.decode import UNWORDED
from tests.kafka_support import read_all, unique_topic

REPO = Path(__file__).resolve().parents[2]
VALID = b'{"prediction_id": "a", "model_id": "m", "timestamp": 1795690800, "predicted_label": 1}'


def _create(bootstrap: str, topic: str, config: dict[str, str] | None = None) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1, config=config or {})])[topic].result(30)


def _writer(bootstrap: str, labels_topic: str = "labels", linger_ms: int = 5, helper: bool = True):
    sink = DeadLetterSink({"bootstrap.servers": bootstrap, "enable.idempotence": "true", "acks": "all",
                           "linger.ms": str(linger_ms), "message.timeout.ms": "20000"}, labels_topic, helper=helper)
    return sink.build_part("write-dead-letters", sink.list_parts()[0], None)


@pytest.mark.parametrize("helper", [True, False], ids=["helper-process", "in-process"])
def test_rejected_records_arrive_worded_and_in_order_by_the_end_of_the_epoch(kafka_bootstrap: str, helper: bool) -> None:
    topic, labels = unique_topic("dlw-preds"), unique_topic("dlw-labels")
    _create(kafka_bootstrap, f"{topic}.dlq")
    _create(kafka_bootstrap, f"{labels}.dlq")
    writer = _writer(kafka_bootstrap, labels, linger_ms=15_000, helper=helper)   # only the epoch's end sends them
    writer.write_batch([
        RejectedRecords(topic, 3, [(b"k1", b"garbage", 40, UNWORDED), (None, None, 41, "message has no value (tombstone)")]),
        RejectedRecords(labels, 0, [(b"k2", b'{"prediction_id": 5, "timestamp": 1795690800}', 7, UNWORDED)]),
    ])
    writer.write_batch([RejectedRecords(topic, 3, [(b"k3", b"\xff", 42, "not valid JSON: the message is not valid UTF-8")])])
    writer.snapshot()

    predictions = [(key, orjson.loads(value)) for key, value in read_all(kafka_bootstrap, f"{topic}.dlq", timeout=10)]
    assert [(key, body["partition"], body["offset"]) for key, body in predictions] == [
        (b"k1", 3, 40), (None, 3, 41), (b"k3", 3, 42)]
    assert [body["error"] for _, body in predictions] == [
        "a Prediction must be a JSON object; the message starts with b'garbage'",   # worded by the helper
        "message has no value (tombstone)",
        "not valid JSON: the message is not valid UTF-8",
    ]
    assert predictions[2][1]["raw"] == "/w==" and predictions[2][1]["raw_encoding"] == "base64"
    ((key, label),) = [(key, orjson.loads(value)) for key, value in read_all(kafka_bootstrap, f"{labels}.dlq", timeout=10)]
    assert key == b"k2" and label["error"] == (
        "prediction_id: has the wrong type int (got 5); label: is required")   # the label decoder's words
    writer.close()
    assert not helper or writer._process.exitcode == 0


def test_a_cpu_quota_below_one_and_a_half_keeps_the_dead_letters_in_the_flow(tmp_path) -> None:
    (tmp_path / "cpu.max").write_text("100000 100000\n")   # a container limited to one CPU (cgroup v2)
    assert not has_spare_cpu(tmp_path, own="/")
    (tmp_path / "pod").mkdir()
    (tmp_path / "pod" / "cpu.max").write_text("120000 100000\n")   # a quota on the process's own cgroup
    assert not has_spare_cpu(tmp_path, own="/pod")
    (tmp_path / "cpu.max").write_text("max 100000\n")      # no quota: the affinity decides
    assert has_spare_cpu(tmp_path, own="/") == (len(os.sched_getaffinity(0)) >= 2)
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert not has_spare_cpu(v1, own="/")


def test_nothing_starts_a_helper_until_a_record_is_rejected(kafka_bootstrap: str) -> None:
    writer = _writer(kafka_bootstrap)
    writer.snapshot()
    writer.close()
    assert writer._process is None


def test_a_refused_dead_letter_fails_the_epoch(kafka_bootstrap: str) -> None:
    topic = unique_topic("dlw-refused")
    _create(kafka_bootstrap, f"{topic}.dlq", {"max.message.bytes": "2000"})
    writer = _writer(kafka_bootstrap)
    writer.write_batch([RejectedRecords(topic, 0, [(b"k", b"x" * 20_000, 1, "too big for the broker")])])
    with pytest.raises(KafkaException, match=f"delivery to {topic}.dlq failed"):
        writer.snapshot()
    with pytest.raises(KafkaException):   # closing says so too, and still stops the helper
        writer.close()
    assert writer._process.exitcode == 0


def test_a_record_the_decoders_accept_is_never_written_with_a_made_up_reason(kafka_bootstrap: str) -> None:
    topic = unique_topic("dlw-bug")
    _create(kafka_bootstrap, f"{topic}.dlq")
    writer = _writer(kafka_bootstrap)
    writer.write_batch([RejectedRecords(topic, 0, [(b"k", VALID, 9, UNWORDED)])])
    with pytest.raises(KafkaException, match=f"{topic} partition 0 offset 9 was rejected by the flow, but it decodes"):
        writer.snapshot()
    assert read_all(kafka_bootstrap, f"{topic}.dlq", timeout=2) == []
    with pytest.raises(KafkaException):
        writer.close()


def _writer_with_junk(bootstrap: str, name: str):
    """A writer whose helper has one junk record (offset 1) of a new topic."""
    topic = unique_topic(name)
    _create(bootstrap, f"{topic}.dlq")
    writer = _writer(bootstrap)
    writer.write_batch([RejectedRecords(topic, 0, [(b"k", b"junk", 1, UNWORDED)])])
    return topic, writer


def test_a_helper_that_died_fails_the_step(kafka_bootstrap: str) -> None:
    _, writer = _writer_with_junk(kafka_bootstrap, "dlw-killed")
    os.kill(writer._process.pid, signal.SIGKILL)
    writer._process.join(10)
    with pytest.raises(RuntimeError, match="dead-letter writer process exited .code -9.; dead letters since"):
        writer.snapshot()
    with pytest.raises(RuntimeError):
        writer.close()


def test_the_helper_ignores_signals_meant_for_the_flow(kafka_bootstrap: str) -> None:
    # Ctrl-C reaches every process of the terminal's group: the flow stops in order and tells the
    # helper when; the helper must not die first with the epoch's dead letters undelivered.
    topic, writer = _writer_with_junk(kafka_bootstrap, "dlw-signal")
    for _ in range(2):   # while it starts (imports), then once it has answered
        os.kill(writer._process.pid, signal.SIGINT)
        os.kill(writer._process.pid, signal.SIGTERM)
        writer.snapshot()
    writer.write_batch([RejectedRecords(topic, 0, [(b"k", b"more junk", 2, UNWORDED)])])
    writer.close()
    assert [orjson.loads(value)["offset"] for _, value in read_all(kafka_bootstrap, f"{topic}.dlq", timeout=10)] == [1, 2]


def test_a_flow_that_fails_still_exits_and_its_helper_delivers_what_it_has(kafka_bootstrap: str) -> None:
    # Without close(), multiprocessing's exit handler waits for every child: the helper must end
    # when the flow's process exits, not keep it waiting for a pipe nobody will close.
    topic = unique_topic("dlw-abandoned")
    _create(kafka_bootstrap, f"{topic}.dlq")
    script = textwrap.dedent(f"""
        from flows.dead_letter_writer import DeadLetterSink, RejectedRecords
        from schemas.decode import UNWORDED
        sink = DeadLetterSink({{"bootstrap.servers": "{kafka_bootstrap}"}}, "labels")
        writer = sink.build_part("write-dead-letters", sink.list_parts()[0], None)
        writer.write_batch([RejectedRecords("{topic}", 0, [(b"k", b"junk", 1, UNWORDED)])])
        raise SystemExit("the flow failed")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=90)
    assert done.returncode == 1 and "the flow failed" in done.stderr, done.stderr
    assert [orjson.loads(value)["offset"] for _, value in read_all(kafka_bootstrap, f"{topic}.dlq", timeout=10)] == [1]
