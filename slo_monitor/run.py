"""`slo-monitor run`: check the SLO file, create topics, serve metrics, run the dataflow.

Everything that can be wrong with the configuration is found before the first message is read.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from dataclasses import replace

from flows.join_state import JoinSettings
from flows.settings import FlowSettings, Topics

log = logging.getLogger("slo_monitor")


def settings_from_args(args: argparse.Namespace) -> FlowSettings:
    from slo.durations import parse_duration

    topics = Topics()
    for name in ("predictions", "labels", "joined"):
        value = getattr(args, f"{name}_topic", None)
        if value:
            topics = replace(topics, **{name: value})
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
    )


def run_monitor(args: argparse.Namespace) -> int:
    from slo.spec import SloSpecError, load_slo_file

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        slo_file = load_slo_file(args.config)
        settings = settings_from_args(args)
    except (SloSpecError, ValueError) as error:
        print(f"slo-monitor: {error}", file=sys.stderr)
        return 2

    from bytewax._bytewax import cli_main
    from confluent_kafka import KafkaException
    from prometheus_client import start_http_server

    from flows.join_flow import build_join_flow
    from flows.kafka_clients import common_config
    from flows.stoppable_source import request_stop
    from flows.topics import ensure_topics

    topics = settings.topics
    try:
        ensure_topics(common_config(settings), [*topics.inputs(), *topics.join_outputs()], settings.partitions)
    except KafkaException as error:
        print(f"slo-monitor: cannot reach Kafka at {settings.bootstrap_servers}: {error}", file=sys.stderr)
        return 3
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_host)
        print(f"slo-monitor: metrics at http://{args.metrics_host}:{args.metrics_port}/metrics", file=sys.stderr)
    print(
        f"slo-monitor: {len(slo_file.slos)} SLO(s) from {args.config}; consuming "
        f"{topics.predictions!r} and {topics.labels!r} from {settings.bootstrap_servers}; "
        f"writing {topics.joined!r} and dead letters to '<topic>.dlq'",
        file=sys.stderr,
    )

    def stop(signum: int, _frame) -> None:
        print(f"slo-monitor: {signal.Signals(signum).name} received, stopping", file=sys.stderr)
        request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    cli_main(build_join_flow(settings), workers_per_process=1)
    print("slo-monitor: stopped", file=sys.stderr)
    return 0
