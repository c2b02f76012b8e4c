"""`slo-monitor run`: check the SLO file, create topics, serve metrics, run the monitor.

Everything that can be wrong with the configuration is found before the first message is read.
With `--processes N` this process starts N cluster members on this machine and waits for them;
with `--process-id`/`--addresses` it is one member of a cluster (e.g. a StatefulSet pod).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from flows.join_state import JoinSettings
from flows.settings import FlowSettings, Topics
from slo_monitor.gc_tuning import tune_for_streaming

if TYPE_CHECKING:
    from remediation.paging_config import PagingConfig
    from remediation.playbook_config import PlaybookConfig
    from slo.spec import SloFile

log = logging.getLogger("slo_monitor")
FIRST_CLUSTER_PORT = 2101   # cluster port of a member in Kubernetes (the image exposes it)


def add_run_arguments(run: argparse.ArgumentParser, bootstrap_default: str) -> None:
    run.add_argument("--config", required=True, help="SLO file (YAML)")
    run.add_argument("--bootstrap-servers", default=bootstrap_default, help="Kafka (env KAFKA_BOOTSTRAP_SERVERS)")
    run.add_argument("--kafka-config", action="append", default=[], metavar="KEY=VALUE",
                     help="extra librdkafka setting for every client (repeatable; SASL, TLS)")
    run.add_argument("--kafka-config-file", type=Path, default=os.environ.get("KAFKA_CONFIG_FILE") or None,
                     help="KEY=VALUE lines for every client (env KAFKA_CONFIG_FILE); passwords may also "
                          "come from KAFKA_SASL_PASSWORD")
    run.add_argument("--partitions", type=int, default=4, help="partitions of topics it creates (default 4)")
    run.add_argument("--metrics-port", type=int, default=9464,
                     help="Prometheus port of process 0; process i uses PORT+i; 0 for none (default 9464)")
    run.add_argument("--metrics-host", default="127.0.0.1", help="address the metrics server binds (default loopback)")
    run.add_argument("--max-label-delay", default="7d", help="how long a prediction waits for its label (default 7d)")
    run.add_argument("--label-wait-margin", default="10m",
                     help="how far predictions must progress past an early label before it expires (default 10m)")
    run.add_argument("--allowed-lateness", default="2m",
                     help="how far out of order events may arrive within a partition (default 2m)")
    run.add_argument("--shards", type=int, default=16, help="join shards; fixed for the life of a recovery store")
    run.add_argument("--until-end", action="store_true", help="stop at the end of the input topics (replay)")
    recovery = run.add_argument_group("recovery")
    recovery.add_argument("--recovery-dir", type=Path, help="keep state here to resume after a crash or restart")
    recovery.add_argument("--recovery-partitions", type=int, default=4,
                          help="recovery partitions made in a new --recovery-dir (at least the largest process count)")
    recovery.add_argument("--snapshot-interval", type=float, default=10.0,
                          help="seconds between state snapshots; also the epoch length (default 10)")
    status = run.add_argument_group("status page")
    status.add_argument("--status-port", type=int, default=int(os.environ.get("SLO_MONITOR_STATUS_PORT", "9465")),
                        help="port of the status page served by process 0; 0 for any free port "
                             "(env SLO_MONITOR_STATUS_PORT, default 9465)")
    status.add_argument("--status-addr", default=os.environ.get("SLO_MONITOR_STATUS_ADDR", "127.0.0.1"),
                        help="address the status page binds (env SLO_MONITOR_STATUS_ADDR, default loopback)")
    status.add_argument("--no-status-page", action="store_true", help="serve no status page")
    status.add_argument("--reports-dir", type=Path, default=os.environ.get("SLO_MONITOR_REPORTS_DIR", ".run/reports"),
                        help="diagnostic reports the page serves as /reports/<alert_id>.html "
                             "(env SLO_MONITOR_REPORTS_DIR; default .run/reports, where the report action writes them)")
    paging = run.add_argument_group("paging")
    paging.add_argument("--no-responder", action="store_true",
                        help="do not page from this process (run `slo-monitor respond` separately)")
    paging.add_argument("--paging-config", type=Path,
                        help="per-tier and per-SLO routing keys, maintenance windows, links (docs/paging.md)")
    paging.add_argument("--no-remediation", action="store_true",
                        help="do not run remediation playbooks here (run `slo-monitor remediate` separately)")
    paging.add_argument("--remediation-config", type=Path,
                        help="playbooks, guardrails and registry settings per SLO (docs/remediation.md)")
    scaling = run.add_argument_group("scaling")
    scaling.add_argument("--processes", type=int, default=1, help="start this many cluster processes here")
    scaling.add_argument("--process-id", type=int, help="this process's index in a cluster started elsewhere")
    scaling.add_argument("--addresses", help='every cluster process, "host:port;host:port", in process-id order')
    topics = run.add_argument_group("topics")
    for name, default in Topics().__dict__.items():
        topics.add_argument(f"--{name}-topic", default=default, help=f"(default {default})")


def settings_from_args(args: argparse.Namespace) -> FlowSettings:
    from flows.kafka_clients import client_settings
    from remediation.responder_cli import key_values
    from slo.durations import parse_duration

    topics = Topics(**{name: getattr(args, f"{name}_topic") for name in Topics().__dict__})
    return FlowSettings(
        bootstrap_servers=args.bootstrap_servers,
        topics=topics,
        join=JoinSettings(
            max_label_delay=parse_duration(args.max_label_delay),
            label_wait_margin=parse_duration(args.label_wait_margin),
        ),
        shards=args.shards,
        partitions=args.partitions,
        tail=not args.until_end,
        allowed_lateness=parse_duration(args.allowed_lateness, allow_zero=True),
        recovery=args.recovery_dir is not None,
        process_id=args.process_id or 0,
        processes=len(args.addresses.split(";")) if args.addresses else 1,
        kafka_config=client_settings(key_values(args.kafka_config), args.kafka_config_file, os.environ),
    )


def run_monitor(args: argparse.Namespace) -> int:
    from slo.spec import SloSpecError, load_slo_file

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        slo_file = load_slo_file(args.config)
        settings = settings_from_args(args)
        _check_scaling(args)
        services = _service_configs(args, slo_file)
    except (SloSpecError, ValueError, OSError) as error:
        print(f"slo-monitor: {error}", file=sys.stderr)
        return 2
    if args.process_id in (None, 0):  # once per cluster: topics and the recovery store
        prepared = _prepare(args, settings)
        if prepared:
            return prepared
    elif args.recovery_dir is not None:
        # Bytewax aborts the whole cluster with an opaque panic if any member lacks the folder.
        args.recovery_dir.mkdir(parents=True, exist_ok=True)
    if args.process_id is None and args.processes > 1:
        return _run_local_cluster(args)
    return _run_process(args, settings, slo_file, services)


class ServiceConfigs(NamedTuple):
    """The side configs of process 0's services, read once."""

    paging: PagingConfig | None
    playbooks: PlaybookConfig


def _service_configs(args: argparse.Namespace, slo_file) -> ServiceConfigs:
    """The paging and remediation configs, read before anything starts: a bad one stops `run`
    with one line (a ValueError naming the file, line and key)."""
    from remediation.paging_config import load_paging_config
    from remediation.playbook_config import load_playbook_config

    paging = load_paging_config(args.paging_config, [s.name for s in slo_file.slos]) if args.paging_config else None
    return ServiceConfigs(paging, load_playbook_config(args.remediation_config, slo_file))


def _check_scaling(args: argparse.Namespace) -> None:
    from flows.kafka_sink import MAX_PROCESSES

    if args.processes < 1:
        raise ValueError("--processes must be at least 1")
    if max(args.processes, len(args.addresses.split(";")) if args.addresses else 1) > MAX_PROCESSES:
        raise ValueError(f"a cluster has at most {MAX_PROCESSES} processes")
    if (args.process_id is None) != (args.addresses is None):
        raise ValueError("--process-id and --addresses go together")
    if args.addresses is not None:
        count = len(args.addresses.split(";"))
        if not 0 <= args.process_id < count:
            raise ValueError(f"--process-id {args.process_id} is not an index of the {count} --addresses")
    if args.recovery_dir is not None and max(args.processes, 1) > args.recovery_partitions:
        raise ValueError("--recovery-partitions must be at least the number of processes")


def _prepare(args: argparse.Namespace, settings: FlowSettings) -> int:
    """Topics and the recovery store, once per cluster; non-zero exit code on failure."""
    from confluent_kafka import KafkaException

    from flows.kafka_clients import common_config
    from flows.topics import ensure_topics

    try:
        ensure_topics(common_config(settings), [*settings.topics.inputs(), *settings.topics.monitor_outputs()],
                      settings.partitions)
    except KafkaException as error:
        print(f"slo-monitor: cannot reach Kafka at {settings.bootstrap_servers}: {error}", file=sys.stderr)
        return 3
    if args.recovery_dir is not None and not any(args.recovery_dir.glob("part-*.sqlite3")):
        from bytewax.recovery import init_db_dir

        args.recovery_dir.mkdir(parents=True, exist_ok=True)
        init_db_dir(args.recovery_dir, args.recovery_partitions)
        print(f"slo-monitor: created {args.recovery_partitions} recovery partitions in {args.recovery_dir}",
              file=sys.stderr)
    return 0


def _run_local_cluster(args: argparse.Namespace) -> int:
    """Start `--processes` members of one cluster on loopback, forward signals, wait for all."""
    addresses = ";".join(f"127.0.0.1:{port}" for port in free_loopback_ports(args.processes))
    base = without_option(args.argv, "--processes")
    children = [
        subprocess.Popen([sys.executable, "-m", "slo_monitor", *base, "--process-id", str(index),
                          "--addresses", addresses])
        for index in range(args.processes)
    ]

    def forward(signum: int, _frame) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    return max(codes, key=abs)


def free_loopback_ports(count: int) -> list[int]:
    """`count` distinct loopback ports the OS has just handed out as free, so that two local clusters
    on one machine do not collide (a fixed range did). Another program could still take one before
    the cluster binds it; that fails loudly at start-up, it never joins the wrong cluster.

    >>> ports = free_loopback_ports(3); len(set(ports)) == 3 and all(1024 <= port < 65536 for port in ports)
    True
    """
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def without_option(argv: list[str], option: str) -> list[str]:
    """`argv` without `option` and its value (as `--opt V` or `--opt=V`).

    >>> without_option(["run", "--processes", "2", "--until-end", "--processes=3"], "--processes")
    ['run', '--until-end']
    """
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            kept.append(arg)
    return kept


def _run_process(args: argparse.Namespace, settings: FlowSettings, slo_file, configs: ServiceConfigs) -> int:
    from bytewax._bytewax import cli_main
    from bytewax.recovery import RecoveryConfig
    from prometheus_client import start_http_server

    from flows.alert_log import written_alerts
    from flows.kafka_clients import consumer_config
    from flows.monitor_flow import build_monitor_flow
    from flows.kafka_source import request_stop
    from flows.secret_files import SecretFileError
    from remediation.routing_keys import RoutingConfigError

    process_id = args.process_id or 0
    who = f"process {process_id}: " if args.process_id is not None else ""
    topics = settings.topics
    already_written = frozenset()
    if args.recovery_dir is not None:
        already_written = written_alerts(consumer_config(settings), topics.alerts)
    if args.metrics_port:
        port = args.metrics_port + process_id
        start_http_server(port, addr=args.metrics_host)
        print(f"slo-monitor: {who}metrics at http://{args.metrics_host}:{port}/metrics", file=sys.stderr)
    print(
        f"slo-monitor: {who}{len(slo_file.slos)} SLO(s) from {args.config}; consuming "
        f"{topics.predictions!r} and {topics.labels!r} from {settings.bootstrap_servers}; "
        f"writing {topics.status!r}, {topics.alerts!r}, {topics.joined!r} and dead letters to '<topic>.dlq'"
        + (f"; recovery in {args.recovery_dir}" if args.recovery_dir else ""),
        file=sys.stderr,
    )

    services = []  # background services of process 0: paging, remediation, the status page
    if process_id == 0:
        page = None
        if not args.no_status_page:
            page = _start_status_page(args, settings, slo_file)
            if page is not None:
                services.append(page)
        try:
            if not args.no_responder:
                services.append(_start_responder(settings, slo_file, configs.paging))
            if not args.no_remediation:
                services.append(_start_executor(args, settings, slo_file, configs,
                                                page.url if page is not None else None))
        except (RoutingConfigError, SecretFileError) as error:   # names the file, never its content
            for service in services:
                service.request_stop()
                service.join(10)
            print(f"slo-monitor: {error}", file=sys.stderr)
            return 2

    def stop(signum: int, _frame) -> None:
        print(f"slo-monitor: {who}{signal.Signals(signum).name} received, stopping", file=sys.stderr)
        request_stop()
        for service in services:
            service.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    flow = build_monitor_flow(settings, slo_file, alerts_already_written=already_written)
    tune_for_streaming()
    cli_main(
        flow,
        workers_per_process=1,
        process_id=args.process_id,
        addresses=args.addresses.split(";") if args.addresses else None,
        epoch_interval=timedelta(seconds=args.snapshot_interval),
        recovery_config=RecoveryConfig(str(args.recovery_dir)) if args.recovery_dir else None,
    )
    for service in services:
        if args.until_end:
            service.request_stop()  # a replay ends with its input; the services with it
        service.join(60)
    print(f"slo-monitor: {who}stopped", file=sys.stderr)
    return 0


def _start_status_page(args: argparse.Namespace, settings: FlowSettings, slo_file: SloFile):
    """The status page (slo_monitor/status_page), fed from this cluster's output topics; it shows
    the status of the SLOs of `slo_file` (not of those since removed from it)."""
    from flows.kafka_clients import quiet_logs
    from remediation.executor import ExecutorSettings
    from slo_monitor.status_page import FeedTopics, start_status_page

    # the audit topic of the responder and executor started below (their default name)
    topics = FeedTopics(settings.topics.status, settings.topics.alerts, ExecutorSettings.actions_topic)
    try:
        page = start_status_page(settings.bootstrap_servers, topics, host=args.status_addr, port=args.status_port,
                                 reports_dir=Path(args.reports_dir) if args.reports_dir else None,
                                 kafka_config=quiet_logs(settings.kafka_config),
                                 slos=frozenset(spec.name for spec in slo_file.slos))
    except OSError as error:  # the port is taken: monitoring matters more than the page
        print(f"slo-monitor: no status page: cannot serve on {args.status_addr}:{args.status_port}: {error}",
              file=sys.stderr)
        return None
    print(f"slo-monitor: status page at {page.url}", file=sys.stderr)
    return page


def _start_executor(args: argparse.Namespace, settings: FlowSettings, slo_file, configs: ServiceConfigs,
                    page_url: str | None):
    """The remediation executor (playbooks: rollback, review sampling, diagnostic reports into
    --reports-dir, linked from the status page when it runs), in a thread here."""
    from flows.kafka_clients import quiet_logs
    from remediation.executor import start_executor
    from remediation.executor_cli import settings_from_slo_file
    from remediation.routing_keys import install_redaction

    executor_settings = settings_from_slo_file(
        slo_file, settings.bootstrap_servers, configs.playbooks, configs.paging,
        alerts_topic=settings.topics.alerts, diagnostics_topic=settings.topics.diagnostics,
        reports_dir=str(args.reports_dir) if args.reports_dir else None,
        report_base_url=page_url.rstrip("/") if page_url else None,
        kafka_config=quiet_logs(settings.kafka_config),
    )
    executor = start_executor(executor_settings)
    install_redaction(executor.service.secrets())
    print(f"slo-monitor: remediation playbooks from {settings.topics.alerts!r}", file=sys.stderr)
    return executor


def _start_responder(settings: FlowSettings, slo_file, paging: PagingConfig | None):
    """The PagerDuty responder, in a thread of this process, reading `slo-alerts`."""
    from flows.kafka_clients import quiet_logs
    from remediation.responder import start_responder
    from remediation.responder_cli import settings_from_slo_file
    from remediation.routing_keys import install_redaction

    responder_settings = settings_from_slo_file(
        slo_file, settings.bootstrap_servers, paging=paging, kafka_config=quiet_logs(settings.kafka_config),
        topic_partitions=settings.partitions, alerts_topic=settings.topics.alerts,
    )
    responder = start_responder(responder_settings)
    install_redaction(responder.service.secrets())
    keys = "; ".join(f"{target}: {where}" for target, where in responder.service.keys.describe().items())
    print(f"slo-monitor: paging from {settings.topics.alerts!r}; routing keys {keys}", file=sys.stderr)
    return responder


