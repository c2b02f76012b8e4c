"""`slo-monitor respond`: run the PagerDuty responder alone (also ``python -m remediation.responder_cli``).

Wiring: ``add_arguments(subparser)`` then ``run(args) -> exit code``. Inside `slo-monitor run`,
build settings with ``settings_from_slo_file(slo_file, bootstrap_servers)`` and start it with
``remediation.responder.start_responder(settings)``; stop it with ``.stop()`` on SIGTERM.

Exit codes: 0 stopped cleanly (SIGTERM/SIGINT), 2 bad configuration, 3 Kafka unusable.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from remediation.delivery import HttpRetryPolicy, normalize_events_url
from remediation.pagerduty_event import LinkTemplates
from remediation.paging_config import PagingConfig, load_paging_config
from remediation.rate_limit import Backoff
from remediation.responder import Responder, ResponderSettings
from remediation.routing_keys import DEFAULT_ENV, RoutingConfig
from remediation.service_thread import run_command

log = logging.getLogger("remediation.responder_cli")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--config", help="SLO file: its pagerduty.routing_key_env names the default key variable")
    parser.add_argument("--paging-config", help="paging config file: routing per tier/SLO, maintenance windows, "
                        "links, Slack (see remediation/paging_config.py)")
    parser.add_argument("--bootstrap-servers", default=env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                        help="Kafka (env KAFKA_BOOTSTRAP_SERVERS)")
    parser.add_argument("--alerts-topic", default="slo-alerts", help="topic of alerts (default slo-alerts)")
    parser.add_argument("--actions-topic", default="remediation-actions",
                        help="audit topic (default remediation-actions)")
    parser.add_argument("--group-id", default="slo-monitor-responder", help="consumer group")
    parser.add_argument("--instance-id", default=env("SLO_MONITOR_RESPONDER_INSTANCE") or None,
                        help="static group membership id: a restart takes its partitions back at once")
    add_kafka_arguments(parser)
    parser.add_argument("--events-url", default=env("PAGERDUTY_EVENTS_URL") or None,
                        help="Events API base URL (env PAGERDUTY_EVENTS_URL; default PagerDuty's)")
    parser.add_argument("--ca-bundle", default=env("PAGERDUTY_CA_BUNDLE") or None,
                        help="PEM file of CAs trusted for the events URL (env PAGERDUTY_CA_BUNDLE)")
    parser.add_argument("--rate-limit-per-minute", type=int, default=None,
                        help="events per minute per routing key (default 120, as PagerDuty; 0: no limit)")
    parser.add_argument("--http-retries", type=int, default=2,
                        help="client retries of one delivery on 429/5xx/network errors (default 2, >= 1)")
    parser.add_argument("--http-retry-sleep", type=float, default=0.5,
                        help="first sleep between those retries, doubling (default 0.5 s)")
    parser.add_argument("--http-timeout", type=float, default=10.0, help="seconds per request (default 10)")
    parser.add_argument("--backoff-initial", type=float, default=1.0,
                        help="wait after a failed delivery, doubling per failure (default 1 s)")
    parser.add_argument("--backoff-max", type=float, default=30.0, help="longest wait between deliveries (default 30 s)")
    parser.add_argument("--max-pending", type=int, default=1000, help="queued events before consumption pauses")
    parser.add_argument("--report-url", default=None, help="diagnostic report URL template ({slo} {model_id} "
                        "{segment} {alert_id} {dedup_key} {model_version})")
    parser.add_argument("--dashboard-url", default=None, help="dashboard URL template (same fields)")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")


def add_kafka_arguments(parser: argparse.ArgumentParser) -> None:
    """Kafka client settings as `slo-monitor run` takes them (shared by `respond` and `remediate`)."""
    parser.add_argument("--kafka-config", action="append", default=[], metavar="KEY=VALUE",
                        help="extra librdkafka setting for every client (repeatable; SASL, TLS, timeouts)")
    parser.add_argument("--kafka-config-file", type=Path, default=os.environ.get("KAFKA_CONFIG_FILE") or None,
                        help="KEY=VALUE lines for every client (env KAFKA_CONFIG_FILE); passwords may also come "
                             "from KAFKA_SASL_PASSWORD or the file named by KAFKA_SASL_PASSWORD_FILE")


def kafka_settings(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The librdkafka settings of `add_kafka_arguments`, read as `slo-monitor run` reads them
    (properties file, then options, then password variables), with librdkafka's log lines
    rate-limited as in the flow (flows/kafka_clients.py): while Kafka is down they would
    otherwise flood stderr, about 20 lines a second per client."""
    from flows.kafka_clients import client_settings, quiet_logs

    environ = os.environ if environ is None else environ
    return quiet_logs(client_settings(key_values(args.kafka_config), args.kafka_config_file, environ))


def settings_from_slo_file(slo_file: Any | None, bootstrap_servers: str, paging: PagingConfig | None = None,
                           environ: Mapping[str, str] | None = None, **overrides: Any) -> ResponderSettings:
    """Responder settings for `slo-monitor run`/`respond`: the SLO file names the default key's
    variable, the paging config adds per-tier/per-SLO keys, windows, links, rate limit, Slack."""
    environ = os.environ if environ is None else environ
    paging = paging or PagingConfig()
    base = slo_file.pagerduty.routing_key_env if slo_file is not None else DEFAULT_ENV
    routing = RoutingConfig.from_environment(
        environ, base,
        slos={name: spec.source() for name, spec in paging.routing.slos.items()},
        tiers={tier: spec.source() for tier, spec in paging.routing.tiers.items()},
    )
    if paging.routing.default is not None:
        routing = replace(routing, default=paging.routing.default.source())
    slack = None
    if paging.slack is not None:
        from remediation.slack import SlackSettings

        slack = SlackSettings(webhook_url_env=paging.slack.webhook_url_env, severities=paging.slack.severities)
    settings = ResponderSettings(
        bootstrap_servers=bootstrap_servers,
        routing=routing,
        events_url=environ.get("PAGERDUTY_EVENTS_URL") or None,
        ca_bundle=environ.get("PAGERDUTY_CA_BUNDLE") or None,
        links=paging.link_templates(),
        maintenance=paging.windows(),
        rate_limit_per_minute=paging.rate_limit_per_minute or 120,
        slack=slack,
    )
    return replace(settings, **overrides)


def settings_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> ResponderSettings:
    slo_file = None
    if args.config:
        from slo.spec import load_slo_file

        slo_file = load_slo_file(args.config)
    paging = (load_paging_config(args.paging_config, [s.name for s in slo_file.slos] if slo_file else None)
              if args.paging_config else None)
    overrides: dict[str, Any] = {
        "alerts_topic": args.alerts_topic,
        "actions_topic": args.actions_topic,
        "group_id": args.group_id,
        "instance_id": args.instance_id,
        "kafka_config": kafka_settings(args, environ),
        "events_url": normalize_events_url(args.events_url),
        "ca_bundle": args.ca_bundle,
        "http_retry": HttpRetryPolicy(args.http_retries, args.http_retry_sleep, args.http_timeout),
        "backoff": Backoff(args.backoff_initial, args.backoff_max),
        "max_pending": args.max_pending,
    }
    if args.rate_limit_per_minute is not None:
        overrides["rate_limit_per_minute"] = args.rate_limit_per_minute or None
    settings = settings_from_slo_file(slo_file, args.bootstrap_servers, paging, environ, **overrides)
    if args.report_url or args.dashboard_url:
        settings = replace(settings, links=LinkTemplates(args.report_url or settings.links.report,
                                                         args.dashboard_url or settings.links.dashboard))
    return settings


def key_values(items: list[str]) -> dict[str, str]:
    """`--kafka-config KEY=VALUE` options as a dict (shared by `respond` and `remediate`)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--kafka-config expects KEY=VALUE (got {item!r})")
        out[key.strip()] = value.strip()
    return out


def run(args: argparse.Namespace) -> int:
    """Run the responder until SIGTERM/SIGINT; the exit code says how it ended."""
    def build() -> tuple[Responder, str]:
        settings = settings_from_args(args)
        return Responder(settings), settings.bootstrap_servers

    return run_command("slo-monitor respond", args.log_level, build)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="slo-monitor respond",
                                     description="Page PagerDuty from slo-alerts (see remediation/responder.py)")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
