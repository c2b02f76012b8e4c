"""Security: authenticated Kafka (SASL/SCRAM-SHA-512 over TLS), secrets that never leak,
endpoints on loopback by default.

One real SASL_SSL broker (deploy/kafka/kafka-sasl-up.sh) serves the module. `slo-monitor run`
gets its Kafka settings from a client.properties file and its secrets (SASL password, routing
key, MLflow password) from environment variables or, in a second run, from files named by
`<VARIABLE>_FILE` (Docker/Kubernetes secrets), creates its topics, reads the traffic, pages the local PagerDuty receiver and runs
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

import orjson
import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from remediation.receiver import LocalEventsApi
from simulator.kafka_writer import KafkaWriter
from simulator.runner import run_simulation
from simulator.scenarios import precision_drop
from simulator.streams import TrafficGenerator
from tests.flows.cli_monitor import SLO_FILE, run_command, start, wait_for
from tests.flows.monitor_support import FAST_LABELS, HOUR, START, monitor_topics
from tests.kafka_support import free_port, unique_topic
from tests.reliability.sasl_support import (
    listening_addresses,
    read_topic,
    start_sasl_broker,
    stop_sasl_broker,
    topic_names,
)
from tests.remediation.support import alert_dict, kafka_record

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


SECRETS = {"PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "KAFKA_SASL_PASSWORD": SASL_PASSWORD,
           "MLFLOW_TRACKING_PASSWORD": MLFLOW_PASSWORD}


def _secret_variables(source: str, folder) -> dict[str, str]:
    """The three secrets as environment variables, or as files named by `<VARIABLE>_FILE` (as
    Docker and Kubernetes mount secrets: one file each, ending in a newline)."""
    if source == "environment":
        return dict(SECRETS)
    for variable, secret in SECRETS.items():
        (folder / variable.lower()).write_text(secret + "\n")
    return {f"{variable}_FILE": str(folder / variable.lower()) for variable in SECRETS}


@pytest.mark.parametrize("source", ["environment", "files"])
def test_monitor_over_sasl_ssl_pages_and_no_secret_leaks(sasl_broker, tmp_path, tmp_path_factory, source):
    inputs, outputs = monitor_topics(), monitor_topics()
    metrics_port = free_port()
    mlflow = _AuthMlflow()
    with LocalEventsApi(services={ROUTING_KEY: "fraud-team"}) as pagerduty:
        env = {
            **pagerduty.env(),
            # the only place each secret is given (secret files outside tmp_path, which is searched)
            **_secret_variables(source, tmp_path_factory.mktemp("secrets")),
            "MLFLOW_TRACKING_URI": mlflow.url,
            "MLFLOW_TRACKING_USERNAME": "monitor",
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


def test_respond_and_remediate_alone_use_the_properties_file_and_password_file(sasl_broker, tmp_path_factory):
    """`slo-monitor respond` and `remediate` as separate processes, configured like `run`:
    KAFKA_CONFIG_FILE for the SASL_SSL settings, KAFKA_SASL_PASSWORD_FILE for the password."""
    config = sasl_broker.client_config()
    names = {name: unique_topic(f"alone-{name}") for name in ("alerts", "paged", "acted", "sampling", "control")}
    admin = AdminClient(config)  # kept alive until the topic exists
    admin.create_topics([NewTopic(names["alerts"], num_partitions=1)])[names["alerts"]].result(30)
    producer = Producer(config)
    key, value = kafka_record(alert_dict("trigger", "critical", alert_id="alone-1"))
    producer.produce(names["alerts"], value, key)
    assert producer.flush(30) == 0
    secrets = tmp_path_factory.mktemp("secrets")
    (secrets / "sasl").write_text(SASL_PASSWORD + "\n")
    (secrets / "pagerduty").write_text(ROUTING_KEY + "\n")
    common = ["--bootstrap-servers", sasl_broker.bootstrap, "--alerts-topic", names["alerts"]]
    with LocalEventsApi(services={ROUTING_KEY: "fraud-team"}) as pagerduty:
        env = {**pagerduty.env(), "KAFKA_CONFIG_FILE": str(sasl_broker.properties_file),
               "KAFKA_SASL_PASSWORD_FILE": str(secrets / "sasl"),
               "PAGERDUTY_ROUTING_KEY_FILE": str(secrets / "pagerduty")}
        slo_monitor = [sys.executable, "-m", "slo_monitor"]
        respond = start([*slo_monitor, "respond", *common, "--actions-topic", names["paged"],
                         "--group-id", f"respond-{names['alerts']}"], env=env)
        remediate = start([*slo_monitor, "remediate", "--config", str(SLO_FILE), *common,
                           "--group-id", f"remediate-{names['alerts']}",
                           "--actions-topic", names["acted"], "--review-sampling-topic", names["sampling"],
                           "--model-control-topic", names["control"], "--reports-dir", "none",
                           "--no-change-events"], env={**env, "MLFLOW_TRACKING_URI": ""})
        try:
            wait_for(lambda: any(d.get("outcome") == "sent" for d in _json_records(config, names["paged"])), 120,
                     "the standalone responder to page over SASL_SSL", respond)
            wait_for(lambda: {"rollback", "raise_review_sampling"} <= {d.get("action") for d in
                                                                     _json_records(config, names["acted"])}, 120,
                     "the standalone executor to audit its playbook over SASL_SSL", remediate)
        finally:
            for process in (respond, remediate):
                process.send_signal(signal.SIGTERM)
        outputs = [respond.communicate(timeout=60), remediate.communicate(timeout=60)]
        requests = pagerduty.requests()

    assert (respond.returncode, remediate.returncode) == (0, 0), outputs
    assert [r.service for r in requests] == ["fraud-team"]
    acted = {d["action"]: d["outcome"] for d in _json_records(config, names["acted"])}
    assert acted["raise_review_sampling"] == "done", acted
    assert read_topic(config, names["sampling"]), "the raised review rate was written over SASL_SSL"
    for stdout, stderr in outputs:
        for secret in (SASL_PASSWORD, ROUTING_KEY):
            assert secret not in stdout + stderr and secret[-12:] not in stdout + stderr


def _json_records(config: dict[str, str], topic: str) -> list[dict]:
    """The JSON records of `topic`; none while it does not exist yet."""
    try:
        return [orjson.loads(value) for _, value in read_topic(config, topic)]
    except KafkaException:
        return []


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
