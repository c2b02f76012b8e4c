"""Configuration of every Kafka client the monitor makes, in one place.

Consumers start from the earliest offset when they have none (librdkafka's default is
`latest`, which would silently skip everything written before the first start); producers are
idempotent (librdkafka's default is not) so a retried send is not written twice.

The log lines of librdkafka's consumers and producers go through Python logging (`KAFKA_LOG`),
each distinct message at most once per `REPEAT_INTERVAL`. Left to itself, librdkafka writes straight to stderr from its
broker threads, and while a broker is down each consumer retries its bootstrap connection about
20 times a second, with a line each time (650 KB in a one-minute outage of one broker). When
stderr is a pipe that is read slowly or not at all, those threads block on the write and the
consumers stop fetching for good, with no error: the monitor never resumed after a broker
restart (tests/reliability/test_broker_restart.py). With a logger set, librdkafka queues its log
lines and hands them over when the client is polled, on the polling thread.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from flows.secret_files import read_secret_file
from flows.settings import FlowSettings

# Secrets that may come from the environment instead of a file or the command line (where
# `ps` would show them): variable -> librdkafka setting. `<variable>_FILE` names a file holding
# the value instead (a Docker or Kubernetes secret); it wins over the variable.
SECRET_ENVIRONMENT = {"KAFKA_SASL_PASSWORD": "sasl.password", "KAFKA_SSL_KEY_PASSWORD": "ssl.key.password"}


REPEAT_INTERVAL = 30.0  # seconds between two copies of the same librdkafka log line


class RepeatFilter(logging.Filter):
    """Lets each distinct message through at most once per `interval` seconds, saying how many
    were held back. Messages differing only in numbers (timings, counts) count as the same.

    >>> clock = iter([0.0, 1.0, 2.0, 31.0]).__next__
    >>> quiet = RepeatFilter(30.0, clock)
    >>> def record(text):
    ...     return logging.LogRecord("rdkafka", logging.ERROR, "", 0, "%s", (text,), None)
    >>> [quiet.filter(record(f"connect failed (after {ms}ms)")) for ms in (0, 3, 1)]
    [True, False, False]
    >>> last = record("connect failed (after 9ms)"); quiet.filter(last) and last.getMessage()
    'connect failed (after 9ms) (2 more like it in the last 30s)'
    """

    def __init__(self, interval: float = REPEAT_INTERVAL, clock=time.monotonic,
                 shape: Callable[[logging.LogRecord], str] | None = None) -> None:
        super().__init__()
        self._interval, self._clock = interval, clock
        self._shape = shape or _digits_blanked   # what makes two messages "the same"
        self._seen: dict[str, tuple[float, int]] = {}   # shape -> (last shown at, held back since)
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        shape = self._shape(record)
        now = self._clock()
        with self._lock:
            shown_at, held = self._seen.get(shape, (None, 0))
            if shown_at is not None and now - shown_at < self._interval:
                self._seen[shape] = (shown_at, held + 1)
                return False
            if len(self._seen) > 10_000:  # bounded: forget everything rather than grow
                self._seen.clear()
            self._seen[shape] = (now, 0)
        if held:
            record.msg = f"{record.getMessage()} ({held} more like it in the last {self._interval:.0f}s)"
            record.args = ()
        return True


def _digits_blanked(record: logging.LogRecord) -> str:
    return re.sub(r"\d+", "#", record.getMessage())


KAFKA_LOG = logging.getLogger("rdkafka")
KAFKA_LOG.addFilter(RepeatFilter())


def quiet_logs(config: Mapping[str, str]) -> dict:
    """`config` with librdkafka's log lines sent to `KAFKA_LOG` (for clients made elsewhere)."""
    return {**config, "logger": KAFKA_LOG}


def common_config(settings: FlowSettings) -> dict[str, str]:
    """Settings of short-lived admin clients (flows/topics.py adds the logger and polls it once
    after each request, so the reason a first contact failed, e.g. "SASL authentication error:
    Authentication failed", still reaches the log)."""
    return {"bootstrap.servers": settings.bootstrap_servers, **settings.kafka_config}


# Each input partition has its own consumer, and librdkafka prefetches up to 64 MiB and at least
# 100,000 messages for each by default: a burst of small junk records faster than the flow can
# decode filled that for every partition, and peak memory grew with the burst (595 MiB for a
# million junk records; 406 MiB with these limits, bench/junk_burst.py). 4 MiB is still ~12,000
# contract records, seconds of work, ahead of the flow.
# With limits this low, librdkafka's default wait of a second before it fetches again for a full
# queue starved the flow: a junk burst drains 10,000 records in a fraction of that, and the flow
# then sat idle on empty queues (~2 s of a 15 s replay). Its documentation says to lower it then.
PREFETCH = {"queued.max.messages.kbytes": str(4 * 1024), "queued.min.messages": "10000",
            "fetch.queue.backoff.ms": "10"}


def consumer_config(settings: FlowSettings) -> dict[str, str]:
    return {
        **PREFETCH,   # --kafka-config may change it
        **quiet_logs(common_config(settings)),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": "false",
    }


def producer_config(settings: FlowSettings) -> dict[str, str]:
    return {
        **quiet_logs(common_config(settings)),
        "enable.idempotence": "true",
        "acks": "all",
        "linger.ms": "20",
        "compression.type": "lz4",
    }


def client_settings(options: Mapping[str, str], file: Path | str | None = None,
                    environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Extra librdkafka settings (SASL, TLS) for every client, from three places, later wins:
    a properties file (`KEY=VALUE` lines, `#` comments; e.g. from a mounted secret), the
    `--kafka-config KEY=VALUE` options, then `KAFKA_SASL_PASSWORD`/`KAFKA_SSL_KEY_PASSWORD` or
    the file named by `KAFKA_SASL_PASSWORD_FILE`/`KAFKA_SSL_KEY_PASSWORD_FILE`.

    >>> client_settings({"sasl.username": "svc"}, environ={"KAFKA_SASL_PASSWORD": "s3cret"})
    {'sasl.username': 'svc', 'sasl.password': 's3cret'}
    >>> client_settings({}, environ={"KAFKA_SASL_PASSWORD_FILE": "/nonexistent/pw"})
    Traceback (most recent call last):
    ...
    flows.secret_files.SecretFileError: cannot read KAFKA_SASL_PASSWORD_FILE's secret from file /nonexistent/pw: No such file or directory
    """
    settings: dict[str, str] = {}
    if file is not None:
        settings.update(read_properties(Path(file)))
    settings.update(options)
    environ = environ or {}
    for variable, key in SECRET_ENVIRONMENT.items():
        if environ.get(f"{variable}_FILE"):
            settings[key] = read_secret_file(environ[f"{variable}_FILE"], f"{variable}_FILE's secret") or ""
        elif environ.get(variable):
            settings[key] = environ[variable]
    return settings


def read_properties(path: Path) -> dict[str, str]:
    """A Java-style client.properties file: `KEY=VALUE` lines; blank lines and `#` comments skipped.
    Errors name the file and line, never the value (it may be a password)."""
    settings = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{number}: expected KEY=VALUE")
        settings[key.strip()] = value.strip()
    return settings


# A partition without a leader yet (the topic was just created, or the broker just restarted),
# or a metadata request that timed out while it settles.
SETTLING = frozenset({KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                      KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TIMED_OUT})


def settled_watermarks(consumer: Consumer, partition: TopicPartition, deadline: float) -> tuple[int, int]:
    """Low and high offsets of `partition`, retrying until `deadline` (time.monotonic) while it
    is settling: a monitor started with --recovery-dir right after it created the topic, or right
    after a broker restart, failed with NOT_LEADER_FOR_PARTITION (tests/reliability/test_broker_restart.py)."""
    while True:
        try:
            return consumer.get_watermark_offsets(partition, timeout=10)
        except KafkaException as error:
            if error.args[0].code() not in SETTLING or time.monotonic() > deadline:
                raise
            time.sleep(0.2)

