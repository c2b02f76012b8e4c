"""Security: authenticated Kafka (SASL/SCRAM-SHA-512 over TLS), secrets that never leak,
endpoints on loopback by default.

One real SASL_SSL broker (deploy/kafka/kafka-sasl-up.sh) serves the module. `slo-monitor run`
gets its Kafka settings from a client.properties file and its SASL password from the
environment, creates its topics, reads the traffic, pages the local PagerDuty receiver and runs
a rollback against an MLflow that demands basic auth and fails; afterwards every log line, every
record of every topic, every file written and every audited error message is searched for the
routing key, the SASL password and the MLflow password.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from remediation.receiver import LocalEventsApi
from simulator.kafka_writer import KafkaWriter
from simulator.runner import run_simulation
from simulator.scenarios import precision_drop
from simulator.streams import TrafficGenerator
from tests.flows.cli_monitor import SLO_FILE, run_command, start, wait_for
from tests.flows.monitor_support import FAST_LABELS, HOUR, START, monitor_topics
from tests.reliability.sasl_support import (
    listening_addresses,
    read_topic,
    start_sasl_broker,
    stop_sasl_broker,
    topic_names,
)

pytestmark = pytest.mark.kafka

ROUTING_KEY = "SECRETR0UT1NGKEY" + uuid.uuid4().hex[:16]          # 32 characters
SASL_PASSWORD = "saslSECRET" + uuid.uuid4().hex[:16]
MLFLOW_PASSWORD = "mlflowSECRET" + uuid.uuid4().hex[:16]
WHOLE_MODEL = "fraud-precision/fraud-detector"


@pytest.fixture(scope="module")
def sasl_broker(kafka_bootstrap, tmp_path_factory):
    port = int(kafka_bootstrap.rpartition(":")[2]) + 100
    broker = start_sasl_broker(port, tmp_path_factory.mktemp("kafka-sasl"), SASL_PASSWORD)
    try:
        yield broker
    finally:
        stop_sasl_broker(broker)


class _AuthMlflow:
    """An MLflow stand-in on loopback that records the Authorization headers and answers 503."""

    def __init__(self) -> None:
        seen = self.authorizations = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                seen.append(self.headers.get("Authorization", ""))
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "down"}')

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_monitor_over_sasl_ssl_pages_and_no_secret_leaks(sasl_broker, tmp_path):
    inputs, outputs = monitor_topics(), monitor_topics()
    metrics_port = _free_port()
    mlflow = _AuthMlflow()
    with LocalEventsApi(services={ROUTING_KEY: "fraud-team"}) as pagerduty:
        env = {
            **pagerduty.env(),
            "PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
            "KAFKA_SASL_PASSWORD": SASL_PASSWORD,       # the only place the password is given
            "MLFLOW_TRACKING_URI": mlflow.url,
            "MLFLOW_TRACKING_USERNAME": "monitor",
            "MLFLOW_TRACKING_PASSWORD": MLFLOW_PASSWORD,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
        }
        command = run_command(sasl_broker.bootstrap, inputs, outputs,
                              "--kafka-config-file", str(sasl_broker.properties_file))
        command[command.index("--metrics-port") + 1] = str(metrics_port)  # default --metrics-host
        monitor = start(command, env=env)
        try:
            config = sasl_broker.client_config()
            # The monitor's admin client made its topics over SASL_SSL.
            created = {*inputs.inputs(), *map(inputs.dead_letter, inputs.inputs()), outputs.status, outputs.alerts}
            wait_for(lambda: created <= set(topic_names(config)), 60,
                     "the monitor to create its topics", monitor)
            wait_for(lambda: listening_addresses(metrics_port), 60, "the metrics server", monitor)
            assert listening_addresses(metrics_port) == {"127.0.0.1"}, "metrics must bind loopback by default"

            scenario = precision_drop(FAST_LABELS, change_at=3 * HOUR, precision_after=0.80)
            writer = KafkaWriter(sasl_broker.bootstrap, inputs.predictions, inputs.labels, create_topics=False,
                                 config=config)
            run_simulation(TrafficGenerator(scenario, start=START, duration=5 * HOUR, rate_per_hour=6000, seed=11),
                           writer)
            assert writer.failed == 0, writer.first_error

            def paged_and_rolled_back() -> bool:
                paged = any(i.dedup_key == WHOLE_MODEL for i in pagerduty.incidents())
                return paged and mlflow.authorizations and "remediation-actions" in topic_names(config)

            wait_for(paged_and_rolled_back, 240, "a page and a rollback attempt", monitor)
            time.sleep(5)  # let the responder and executor audit what they did
        finally:
            monitor.send_signal(signal.SIGTERM)
            stdout, stderr = monitor.communicate(timeout=120)
            mlflow.close()
        requests = pagerduty.requests()

    assert monitor.returncode == 0, stderr[-3000:]
    # The secrets were really used: the page carried the key, MLflow got basic auth with the
    # password, the monitor (flow, responder, executor) talked to Kafka only over SASL_SSL.
    assert requests and all(r.service == "fraud-team" for r in requests)
    assert base64.b64encode(f"monitor:{MLFLOW_PASSWORD}".encode()).decode() in " ".join(mlflow.authorizations)

    config = sasl_broker.client_config()
    topics = topic_names(config)
    records = {topic: read_topic(config, topic) for topic in topics}
    assert records[outputs.status] and records[outputs.alerts], "the flow's sink wrote over SASL_SSL"
    assert records["remediation-actions"], "the responder audited its pages over SASL_SSL"
    # The rollback met the failing MLflow: its exception message is logged (and searched below);
    # the rollback is left for a retry, not half done.
    assert "rollback for alert" in stderr and "must wait: MLflow" in stderr, stderr[-3000:]

    haystacks = {"stdout": stdout, "stderr": stderr}
    for topic, rows in records.items():
        haystacks[f"topic {topic}"] = b"\n".join((k or b"") + b"\t" + (v or b"") for k, v in rows).decode("utf-8", "replace")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            haystacks[f"file {path}"] = path.read_text("utf-8", "replace")
    for name, secret in {"routing key": ROUTING_KEY, "SASL password": SASL_PASSWORD,
                         "MLflow password": MLFLOW_PASSWORD}.items():
        for where, text in haystacks.items():
            assert secret not in text, f"the {name} appears in {where}"
        # Also base64 (basic auth) and the key's tail (a partly masked key still identifies it).
        assert base64.b64encode(f"monitor:{secret}".encode()).decode() not in "".join(haystacks.values())
        assert secret[-12:] not in "".join(haystacks.values()), f"the end of the {name} leaks"


def test_wrong_sasl_password_fails_clearly_without_printing_it(sasl_broker):
    inputs = monitor_topics()
    wrong = "wrongSECRET" + uuid.uuid4().hex[:12]
    command = run_command(sasl_broker.bootstrap, inputs, inputs, "--kafka-config-file", str(sasl_broker.properties_file))
    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "KAFKA_SASL_PASSWORD": wrong, "PYTHONUNBUFFERED": "1"})
    assert result.returncode == 3, result.stderr[-2000:]
    assert f"cannot reach Kafka at {sasl_broker.bootstrap}" in result.stderr
    assert "Authentication failed" in result.stderr and "SCRAM-SHA-512" in result.stderr
    assert wrong not in result.stderr + result.stdout


def test_plaintext_client_is_refused_by_the_sasl_listener(sasl_broker):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    with pytest.raises(KafkaException):
        AdminClient({"bootstrap.servers": sasl_broker.bootstrap}).list_topics(timeout=5)


def test_pagerduty_receiver_binds_loopback_by_default():
    receiver = subprocess.Popen([sys.executable, "-m", "remediation.receiver", "--port", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = next(line for line in receiver.stdout if line.startswith("PAGERDUTY_EVENTS_URL="))
        port = int(url.strip().rpartition(":")[2])
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(30)


def test_metrics_and_receiver_defaults_are_loopback():
    from slo_monitor.cli import build_parser

    args = build_parser().parse_args(["run", "--config", str(SLO_FILE)])
    assert args.metrics_host == "127.0.0.1"
    assert LocalEventsApi.__init__.__defaults__[1] == "127.0.0.1"  # host


def test_kafka_properties_file_errors_name_the_line_not_the_value(tmp_path):
    from flows.kafka_clients import read_properties

    path = tmp_path / "client.properties"
    path.write_text("# comment\nsecurity.protocol=SASL_SSL\nsasl.password sup3rsecret\n")
    with pytest.raises(ValueError) as error:
        read_properties(path)
    assert f"{path}:3" in str(error.value) and "sup3rsecret" not in str(error.value)
