"""`slo-monitor remediate`: run the remediation executor alone (also ``python -m remediation.executor_cli``).

Wiring: ``add_arguments(subparser)`` then ``run(args) -> exit code``. Inside `slo-monitor run`,
build settings with ``settings_from_slo_file(slo_file, bootstrap_servers, playbooks)`` (playbooks
from ``load_playbook_config(path, slo_file)``) and start it with
``remediation.executor.start_executor(settings)``; stop it with ``.stop()`` on SIGTERM.

Exit codes: 0 stopped cleanly (SIGTERM/SIGINT), 2 bad configuration, 3 Kafka unusable.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from remediation.delivery import normalize_events_url
from remediation.executor import Executor, ExecutorSettings
from remediation.playbook_config import PlaybookConfig, load_playbook_config
from remediation.rate_limit import Backoff
from remediation.report.feed import DEFAULT_DIAGNOSTICS_TOPIC
from remediation.report.files import DEFAULT_REPORTS_DIR
from remediation.responder_cli import add_kafka_arguments, kafka_settings
from remediation.service_thread import run_command

log = logging.getLogger("remediation.executor_cli")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--config", help="SLO file: its remediation lists are the fallback playbooks, its "
                        "pagerduty.routing_key_env names the key for change events")
    parser.add_argument("--remediation-config", help="remediation config: playbooks, guardrails, options per SLO "
                        "(see docs/remediation.md)")
    parser.add_argument("--bootstrap-servers", default=env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                        help="Kafka (env KAFKA_BOOTSTRAP_SERVERS)")
    parser.add_argument("--alerts-topic", default="slo-alerts", help="topic of alerts (default slo-alerts)")
    parser.add_argument("--actions-topic", default="remediation-actions",
                        help="audit topic (default remediation-actions)")
    parser.add_argument("--review-sampling-topic", default="review-sampling",
                        help="compacted topic of raised review rates (default review-sampling)")
    parser.add_argument("--model-control-topic", default="model-control",
                        help="topic of rollback commands for serving systems (default model-control)")
    parser.add_argument("--group-id", default="slo-monitor-executor",
                        help="consumer group (default slo-monitor-executor)")
    parser.add_argument("--instance-id", default=env("SLO_MONITOR_EXECUTOR_INSTANCE") or None,
                        help="static group membership id: a restart takes its partitions back at once")
    add_kafka_arguments(parser)
    parser.add_argument("--tracking-uri", default=env("MLFLOW_TRACKING_URI") or None,
                        help="MLflow tracking/registry URI (env MLFLOW_TRACKING_URI); without it rollbacks are skipped")
    parser.add_argument("--mlflow-retries", type=int, default=None,
                        help="MLflow client retries per request "
                             "(default 2 unless MLFLOW_HTTP_REQUEST_MAX_RETRIES is set)")
    parser.add_argument("--mlflow-timeout", type=int, default=None,
                        help="seconds per MLflow request (default 15 unless MLFLOW_HTTP_REQUEST_TIMEOUT is set)")
    parser.add_argument("--give-up-after", type=float, default=600.0,
                        help="seconds an action may wait for an unavailable dependency before it is failed "
                             "(default 600)")
    parser.add_argument("--dry-run", action="store_true", help="decide and audit only; change nothing (every SLO)")
    parser.add_argument("--approval-only", action="store_true",
                        help="audit proposals instead of acting (every SLO)")
    parser.add_argument("--webhook-url", default=env("SLO_MONITOR_ROLLBACK_WEBHOOK") or None,
                        help="POST each rollback's model-control message here too (env SLO_MONITOR_ROLLBACK_WEBHOOK)")
    parser.add_argument("--paging-config", help="paging config file: per-tier/per-SLO routing keys for change events")
    parser.add_argument("--events-url", default=env("PAGERDUTY_EVENTS_URL") or None,
                        help="PagerDuty Events API base URL for change events (env PAGERDUTY_EVENTS_URL)")
    parser.add_argument("--ca-bundle", default=env("PAGERDUTY_CA_BUNDLE") or None,
                        help="PEM file of CAs trusted for the events URL (env PAGERDUTY_CA_BUNDLE)")
    parser.add_argument("--no-change-events", action="store_true", help="do not send PagerDuty change events")
    parser.add_argument("--reports-dir", default=env("SLO_MONITOR_REPORTS_DIR") or DEFAULT_REPORTS_DIR,
                        help="where diagnostic reports are written, <alert_id>.html and .json "
                             f"(env SLO_MONITOR_REPORTS_DIR, default {DEFAULT_REPORTS_DIR}); 'none' turns them off")
    parser.add_argument("--diagnostics-topic", default=DEFAULT_DIAGNOSTICS_TOPIC,
                        help=f"topic of the monitor's diagnostic summaries (default {DEFAULT_DIAGNOSTICS_TOPIC})")
    parser.add_argument("--report-base-url", default=env("SLO_MONITOR_REPORT_BASE_URL") or None,
                        help="status page base URL; reports are linked as <base>/reports/<alert_id>.html "
                             "(env SLO_MONITOR_REPORT_BASE_URL)")
    parser.add_argument("--report-wait", type=float, default=60.0,
                        help="seconds to wait for an alert's diagnostic summary before failing the report (default 60)")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")


def settings_from_slo_file(slo_file: Any | None, bootstrap_servers: str, playbooks: PlaybookConfig | None = None,
                           paging: Any | None = None, environ: Mapping[str, str] | None = None,
                           **overrides: Any) -> ExecutorSettings:
    """Executor settings for `slo-monitor run`/`remediate`. PagerDuty keys (for change events)
    are found exactly as the responder finds them (SLO file, paging config, environment)."""
    from remediation.responder_cli import settings_from_slo_file as responder_settings

    environ = os.environ if environ is None else environ
    pager = responder_settings(slo_file, bootstrap_servers, paging, environ)
    settings = ExecutorSettings(
        bootstrap_servers=bootstrap_servers,
        playbooks=playbooks or load_playbook_config(None, slo_file),
        tracking_uri=environ.get("MLFLOW_TRACKING_URI") or None,
        routing=pager.routing,
        events_url=pager.events_url,
        ca_bundle=pager.ca_bundle,
        webhook_url=environ.get("SLO_MONITOR_ROLLBACK_WEBHOOK") or None,
    )
    return replace(settings, **overrides)


def settings_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> ExecutorSettings:
    slo_file = None
    if args.config:
        from slo.spec import load_slo_file

        slo_file = load_slo_file(args.config)
    playbooks = load_playbook_config(args.remediation_config, slo_file)
    if args.dry_run or args.approval_only:
        playbooks = playbooks.with_overrides(dry_run=True if args.dry_run else None,
                                             approval_only=True if args.approval_only else None)
    paging = None
    if args.paging_config:
        from remediation.paging_config import load_paging_config

        paging = load_paging_config(args.paging_config, [s.name for s in slo_file.slos] if slo_file else None)
    return settings_from_slo_file(
        slo_file, args.bootstrap_servers, playbooks, paging, environ,
        alerts_topic=args.alerts_topic, actions_topic=args.actions_topic,
        review_sampling_topic=args.review_sampling_topic, model_control_topic=args.model_control_topic,
        group_id=args.group_id, instance_id=args.instance_id, kafka_config=kafka_settings(args, environ),
        tracking_uri=args.tracking_uri, mlflow_http_retries=args.mlflow_retries,
        mlflow_http_timeout=args.mlflow_timeout, give_up_after=args.give_up_after,
        webhook_url=args.webhook_url, events_url=normalize_events_url(args.events_url), ca_bundle=args.ca_bundle,
        change_events=not args.no_change_events, backoff=Backoff(1.0, 30.0),
        reports_dir=None if args.reports_dir.lower() == "none" else args.reports_dir,
        diagnostics_topic=args.diagnostics_topic, report_base_url=args.report_base_url,
        report_wait=args.report_wait,
    )


def run(args: argparse.Namespace) -> int:
    """Run the executor until SIGTERM/SIGINT; the exit code says how it ended."""
    def build() -> tuple[Executor, str]:
        settings = settings_from_args(args)
        return Executor(settings), settings.bootstrap_servers

    return run_command("slo-monitor remediate", args.log_level, build)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="slo-monitor remediate",
                                     description="Run remediation playbooks from slo-alerts "
                                                 "(see remediation/executor.py)")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
