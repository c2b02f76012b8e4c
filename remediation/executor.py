"""The remediation executor: slo-alerts in, playbook actions out (rollback, raised review
sampling, diagnostic report), each guarded, audited, and done at most once per alert.

One loop in one thread (`Executor.run`), the responder's pattern (remediation/responder.py):

1. *poll* slo-alerts as a member of its own consumer group (``slo-monitor-executor``, separate
   from the pager's, so paging never waits for a rollback); every trigger/escalate becomes a job:
   the ordered actions of its playbook (remediation/playbook_config.py);
2. *work* the head job, one action after the other: guardrails (remediation/guardrails.py, pure),
   then the action's read-only plan, then (live mode only) apply; every decision is audited on
   remediation-actions. When a dependency is down (MLflow) the job waits at the head and is
   retried after a capped backoff while the loop keeps polling (consumption pauses once
   `max_pending` jobs wait). It gives up after `give_up_after` seconds, but only while no change
   may have reached MLflow unconfirmed (see remediation/rollback.py);
3. *expire* raised review rates whose time is up (tombstones on review-sampling);
4. *commit* the offsets of alerts whose actions are all settled, after their audit and control
   records are in Kafka. A crash re-reads uncommitted alerts; the guardrail ledger, rebuilt at
   start from remediation-actions, recognises actions already decided for them, and the rollback
   recognises its own half-finished moves in the registry.

Run one executor per deployment (one member holds all partitions): guardrails are per model and
a second member would not see the first's decisions until it restarts. Two members cannot roll a
model back twice, though: a rollback only moves an alias that still points to the breaching
version.

Embedding: ``Executor(settings).run()`` blocks until ``stop()``; ``start_executor(settings)``
runs it in a daemon thread for ``slo-monitor run``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge

from remediation.service_thread import ServiceThread
from remediation.action_audit import EXPIRED, action_record, ledger_entry
from remediation.action_handler import ActionFailed, ActionHandler, ActionUnavailable, Skip
from remediation.alert_record import Alert, InvalidAlert, parse_alert
from remediation.audit import AuditRecord, AuditSink, KafkaAuditSink
from remediation.change_events import ChangeEventSender
from remediation.executor_kafka import ensure_compacted_topic, read_history
from remediation.guardrails import DAY, DONE, DRY_RUN, FAILED, PROPOSED, SKIPPED, ActionLedger, LedgerEntry, decide
from remediation.json_producer import JsonProducer, commit_when_written
from remediation.kafka_config import consumer_config, ensure_topics, producer_config
from remediation.model_control import Webhook
from remediation.model_registry import MlflowRegistry, cap_client_retries, load_credential_files
from remediation.outbox import OffsetTracker
from remediation.playbook_config import DIAGNOSTIC_REPORT, RAISE_REVIEW_SAMPLING, ROLLBACK, Playbook, PlaybookConfig
from remediation.report.feed import DEFAULT_DIAGNOSTICS_TOPIC, DiagnosticsFeed
from remediation.report.handler import DiagnosticReportHandler
from remediation.review_sampling_raise import RaiseSamplingHandler, Raise, SamplingRaises
from remediation.rollback import RollbackHandler
from remediation.routing_keys import RoutingConfig, RoutingKeys
from remediation.service_settings import AlertServiceSettings

log = logging.getLogger(__name__)

ACTIONS = PromCounter("slo_monitor_remediation_actions", "Remediation action decisions by action and outcome",
                      ["action", "outcome"])
WAITING = Gauge("slo_monitor_remediation_jobs_waiting", "Alerts whose actions are not yet settled")

_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class ExecutorSettings(AlertServiceSettings):
    """Everything the executor needs; defaults follow CONTRACT.md."""

    group_id: str = "slo-monitor-executor"
    review_sampling_topic: str = "review-sampling"
    model_control_topic: str = "model-control"
    playbooks: PlaybookConfig = field(default_factory=PlaybookConfig)
    tracking_uri: str | None = field(default_factory=lambda: os.environ.get("MLFLOW_TRACKING_URI") or None)
    mlflow_http_retries: int | None = None         # None: MLflow's env, else 2
    mlflow_http_timeout: int | None = None         # seconds per request; None: env, else 15
    routing: RoutingConfig | None = None           # PagerDuty keys for change events; None: from the environment
    change_events: bool = True                     # send PagerDuty change events on rollback
    webhook_url: str | None = field(default_factory=lambda: os.environ.get("SLO_MONITOR_ROLLBACK_WEBHOOK") or None)
    webhook_ca_bundle: str | None = None
    give_up_after: float = 600.0                   # seconds of failed attempts before an action is failed
    history: float = 7 * DAY                       # seconds of remediation-actions read back at start
    # diagnostic reports (remediation/report): off unless a directory is given
    reports_dir: str | None = None                 # writes <dir>/<alert_id>.html and .json
    diagnostics_topic: str = DEFAULT_DIAGNOSTICS_TOPIC   # summaries from the monitor, keyed by alert id
    report_base_url: str | None = None             # status page serving <base>/reports/<alert_id>.html
    report_wait: float = 60.0                      # seconds to wait for an alert's summary


@dataclass
class Job:
    """One alert's actions, worked in order; `next` is the index of the first unsettled one."""

    partition: int
    offset: int
    alert: Alert
    playbook: Playbook
    next: int = 0
    attempts: int = 0
    not_before: float = 0.0                        # monotonic time of the next attempt
    failing_since: float | None = None             # wall time of the first failed attempt
    uncertain: bool = False                        # a change may have been applied, unconfirmed
    last_error: str = ""

    @property
    def action(self) -> str:
        return self.playbook.actions[self.next]


class Executor:
    """Consumes slo-alerts and runs playbooks; see the module docstring."""

    def __init__(self, settings: ExecutorSettings, *, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.time, registry: MlflowRegistry | None = None,
                 handlers: Mapping[str, ActionHandler] | None = None, audit: AuditSink | None = None):
        self.settings = settings
        self._clock = clock
        self._stop = threading.Event()
        self._audit = audit
        self._control: JsonProducer | None = None
        self._jobs: deque[Job] = deque()
        self._offsets = OffsetTracker()
        self._paused = False
        self.ledger = ActionLedger(keep=max(settings.history, 8 * DAY))
        self.raises = SamplingRaises()
        self.stats: Counter[str] = Counter()
        self.ready = threading.Event()             # set once partitions are assigned

        self._registry_secrets: list[str] = []
        if registry is None and settings.tracking_uri:
            cap_client_retries(settings.mlflow_http_retries, settings.mlflow_http_timeout)
            self._registry_secrets = load_credential_files()
            registry = MlflowRegistry(settings.tracking_uri)
        self.registry = registry
        environ = os.environ if environ is None else environ
        self.keys = RoutingKeys(settings.routing or RoutingConfig.from_environment(environ), environ)
        change_events = (ChangeEventSender(self.keys, settings.events_url, settings.ca_bundle, settings.http_retry)
                         if settings.change_events else None)
        webhook = Webhook(settings.webhook_url, ca_bundle=settings.webhook_ca_bundle) if settings.webhook_url else None
        now = lambda: datetime.fromtimestamp(self._clock(), UTC)   # noqa: E731
        self.handlers: dict[str, ActionHandler] = {
            ROLLBACK: RollbackHandler(registry, self._publish, settings.model_control_topic, change_events,
                                      webhook, now),
            RAISE_REVIEW_SAMPLING: RaiseSamplingHandler(self.raises, self._publish, settings.review_sampling_topic,
                                                        clock),
        }
        if settings.reports_dir is not None:
            feed = DiagnosticsFeed(settings.bootstrap_servers, settings.diagnostics_topic, settings.kafka_config,
                                   history=settings.history)
            self.handlers[DIAGNOSTIC_REPORT] = DiagnosticReportHandler(
                feed.get, settings.reports_dir, settings.report_base_url, settings.report_wait,
                source=settings.diagnostics_topic, close=feed.close)
        self.handlers.update(handlers or {})
        self._change_events = change_events

    # --- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to stop after the current step (safe from signal handlers and threads)."""
        self._stop.set()

    def run(self) -> None:
        """Run until `stop()`. Raises KafkaException if Kafka cannot be used at all."""
        s = self.settings
        if s.create_topics:
            ensure_topics(s.bootstrap_servers, [s.alerts_topic, s.actions_topic, s.model_control_topic]
                          + ([s.diagnostics_topic] if s.reports_dir is not None else []),
                          s.topic_partitions, s.kafka_config)
            ensure_compacted_topic(s.bootstrap_servers, s.review_sampling_topic, s.topic_partitions, s.kafka_config)
        if self._audit is None:
            self._audit = KafkaAuditSink(producer_config(s.bootstrap_servers, s.kafka_config), s.actions_topic)
        self._control = JsonProducer(producer_config(s.bootstrap_servers, s.kafka_config), "control records")
        self._rebuild()
        self._log_start()
        consumer = Consumer(consumer_config(s.bootstrap_servers, s.group_id, s.kafka_config, s.instance_id))
        consumer.subscribe([s.alerts_topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                           on_lost=self._on_lost)
        try:
            while not self._stop.is_set():
                self._poll(consumer)
                self._work()
                self._expire()
                self._commit(consumer)
        finally:
            try:
                self._commit(consumer)
            finally:
                consumer.close()
                self._control.close()
                self._audit.close()
                if self._change_events is not None:
                    self._change_events.close()
                report = self.handlers.get(DIAGNOSTIC_REPORT)
                if isinstance(report, DiagnosticReportHandler):
                    report.close()
                WAITING.set(0)
                left = f"; {len(self._jobs)} alert(s) not settled stay uncommitted" if self._jobs else ""
                log.info("executor stopped (%s%s)",
                         ", ".join(f"{k} {v}" for k, v in sorted(self.stats.items())) or "nothing done", left)

    def _log_start(self) -> None:
        s = self.settings
        registry = self.registry.tracking_uri if self.registry else "none (MLFLOW_TRACKING_URI not set: no rollbacks)"
        webhook = Webhook(s.webhook_url).describe() if s.webhook_url else "none"
        log.info("executor: %s -> actions as group %s; registry %s; webhook %s; playbooks %s; ledger %d entr(ies), "
                 "%d raised review rate(s) in force", s.alerts_topic, s.group_id, registry, webhook,
                 s.playbooks.describe(), len(self.ledger), len(self.raises))

    def _rebuild(self) -> None:
        """Guardrail ledger from remediation-actions; raises in force from review-sampling."""
        s = self.settings
        since = time.time() - s.history           # Kafka timestamps are real wall time
        for _key, value in read_history(s.bootstrap_servers, s.actions_topic, s.kafka_config, since):
            entry = ledger_entry(_json(value))
            if entry is not None:
                self.ledger.add(entry)
        latest: dict[str, Raise | None] = {}
        for key, value in read_history(s.bootstrap_servers, s.review_sampling_topic, s.kafka_config):
            if key is not None:
                latest[key.decode("utf-8", "replace")] = Raise.from_record(_json(value)) if value is not None else None
        for item in latest.values():
            if item is not None:
                self.raises.put(item)

    # --- intake ----------------------------------------------------------------------------

    def _poll(self, consumer: Consumer) -> None:
        full = len(self._jobs) >= self.settings.max_pending
        if full != self._paused:
            (consumer.pause if full else consumer.resume)(consumer.assignment())
            self._paused = full
            if full:
                log.warning("%d alerts wait for their actions: consumption paused", len(self._jobs))
        for message in consumer.consume(num_messages=100, timeout=self._poll_timeout()):
            if message.error():
                self._kafka_error(message.error())
                continue
            self._intake(message)
        WAITING.set(len(self._jobs))

    def _poll_timeout(self) -> float:
        if not self._jobs:
            return _POLL_SECONDS
        return min(_POLL_SECONDS, max(0.0, self._jobs[0].not_before - time.monotonic()))

    def _kafka_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("Kafka: %s", error)

    def _intake(self, message: Message) -> None:
        partition, offset = message.partition(), message.offset()
        try:
            alert = parse_alert(message.value())
        except InvalidAlert as error:
            # the pager audits invalid records (rule invalid_record); here they only have no actions
            log.warning("%s[%d]@%d is not a valid alert; no actions: %s", self.settings.alerts_topic,
                        partition, offset, error)
            self._offsets.received(partition, offset, 0)
            return
        self.raises.observe_event_time(alert.model_id, alert.event_time.timestamp())
        playbook = self.settings.playbooks.playbook(alert)
        if alert.action == "resolve" or not playbook.actions:
            self._offsets.received(partition, offset, 0)
            return
        self._offsets.received(partition, offset, 1)
        self._jobs.append(Job(partition, offset, alert, playbook))

    # --- working ---------------------------------------------------------------------------

    def _work(self) -> None:
        while self._jobs and not self._stop.is_set():
            job = self._jobs[0]
            if time.monotonic() < job.not_before:
                return
            while job.next < len(job.playbook.actions):
                try:
                    self._run_action(job)
                except ActionUnavailable as error:
                    self._retry_later(job, error)
                    return
                except Exception as error:  # noqa: BLE001 - a bug in one action must not stop the service
                    log.exception("%s for alert %s failed unexpectedly", job.action, job.alert.alert_id)
                    self._decided(job, FAILED, "internal_error", f"{type(error).__name__}: {error}")
                job.next += 1
                job.attempts, job.failing_since, job.uncertain, job.last_error = 0, None, False, ""
            self._jobs.popleft()
            self._offsets.settle(job.partition, job.offset)

    def _run_action(self, job: Job) -> None:
        """Decide, plan and (live) apply one action; audit the outcome. ActionUnavailable means
        "try again later"; everything else ends in an audit record."""
        alert, playbook, action = job.alert, job.playbook, job.action
        verdict = decide(alert, action, playbook, self.ledger)
        if not verdict.go:
            self._decided(job, SKIPPED, verdict.rule, verdict.reason)
            return
        handler = self.handlers.get(action)
        if handler is None:
            self._decided(job, SKIPPED, "no_handler", f"no handler for {action} in this executor")
            return
        late = job.failing_since is not None and self._clock() - job.failing_since >= self.settings.give_up_after
        try:
            plan = handler.plan(alert, playbook)
        except ActionUnavailable as error:
            if late and not job.uncertain:
                self._decided(job, FAILED, "unavailable", f"gave up after {self.settings.give_up_after:g}s of "
                                                          f"failed attempts: {error}")
                return
            raise
        except ActionFailed as error:
            self._decided(job, FAILED, error.rule, str(error), error.details)
            return
        job.uncertain = False          # the plan saw the world as it is
        if isinstance(plan, Skip):
            self._decided(job, SKIPPED, plan.rule, plan.reason)
            return
        if verdict.mode == "dry_run":
            self._decided(job, DRY_RUN, verdict.rule, f"dry run, nothing changed: would {plan.summary}", plan.details)
            return
        if verdict.mode == "approval":
            self._decided(job, PROPOSED, verdict.rule, f"approval required: proposes to {plan.summary}", plan.details)
            return
        try:
            applied = handler.apply(alert, playbook, plan, late=late)
        except ActionFailed as error:
            self._decided(job, FAILED, error.rule, str(error), error.details or plan.details)
            return
        self._decided(job, DONE, verdict.rule, applied.reason, applied.details)

    def _retry_later(self, job: Job, error: ActionUnavailable) -> None:
        job.attempts += 1
        job.uncertain = job.uncertain or error.uncertain
        job.last_error = str(error)
        if job.failing_since is None:
            job.failing_since = self._clock()
        delay = self.settings.backoff.delay(job.attempts)
        job.not_before = time.monotonic() + delay
        self.stats["retries"] += 1
        waited = self._clock() - job.failing_since
        note = (" A change may already be applied: the executor keeps trying until it can tell."
                if job.uncertain and waited >= self.settings.give_up_after else "")
        log.warning("%s for alert %s (%s) must wait: %s (attempt %d, failing for %.0fs); next try in %.1fs, "
                    "%d alert(s) queued.%s", job.action, job.alert.alert_id, job.alert.model_id, error,
                    job.attempts, waited, delay, len(self._jobs), note)

    def _decided(self, job: Job, outcome: str, rule: str, reason: str, details: dict[str, Any] | None = None) -> None:
        alert, action = job.alert, job.action
        record = action_record(action, outcome, rule, reason, alert, mode=job.playbook.mode, details=details,
                               attempts=job.attempts + 1, now=datetime.fromtimestamp(self._clock(), UTC))
        self._write_audit(record)
        self.ledger.add(LedgerEntry(action, outcome, alert.model_id, alert.slo, alert.alert_id,
                                    alert.event_time.timestamp()))
        level = logging.WARNING if outcome in (DONE, FAILED, PROPOSED) else logging.INFO
        log.log(level, "%s %s for alert %s (%s %s on %s): %s [%s]", action, outcome, alert.alert_id, alert.slo,
                alert.severity, alert.model_id, reason, rule)

    # --- expiry ----------------------------------------------------------------------------

    def _expire(self) -> None:
        handler = self.handlers.get(RAISE_REVIEW_SAMPLING)
        if not isinstance(handler, RaiseSamplingHandler):
            return
        for item, why in handler.expire():
            reason = f"review rate of {item.model_id} back to baseline {item.baseline:g} (was {item.rate:g}): {why}"
            log.info("%s", reason)
            self._write_audit(action_record(
                RAISE_REVIEW_SAMPLING, EXPIRED, "expired", reason, None, mode="live",
                details={"rate": item.rate, "baseline": item.baseline, "raised_for": item.alert_id},
                identity={"slo": item.slo or None, "model_id": item.model_id, "alert_id": item.alert_id},
                now=datetime.fromtimestamp(self._clock(), UTC)))

    # --- output ----------------------------------------------------------------------------

    def _publish(self, topic: str, key: str, value: dict[str, Any] | None) -> None:
        assert self._control is not None, "publishing before run()"
        self._control.send(topic, key, value)

    def _write_audit(self, record: AuditRecord) -> None:
        assert self._audit is not None
        value = record.value
        self.stats[f"{value['action']} {value['outcome']}"] += 1
        ACTIONS.labels(value["action"], value["outcome"]).inc()
        self._audit.write(record)

    # --- offsets ---------------------------------------------------------------------------

    def _commit(self, consumer: Consumer) -> None:
        assert self._audit is not None and self._control is not None
        commit_when_written(consumer, self.settings.alerts_topic, self._offsets, [self._control, self._audit])

    # --- rebalancing -----------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._paused = False
        log.info("assigned %s partition(s) %s", self.settings.alerts_topic, sorted(tp.partition for tp in partitions))
        self.ready.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._commit(consumer)
        self._forget(partitions, "revoked")

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget(partitions, "lost")

    def _forget(self, partitions: list[TopicPartition], how: str) -> None:
        numbers = {tp.partition for tp in partitions}
        dropped = [job for job in self._jobs if job.partition in numbers]
        self._jobs = deque(job for job in self._jobs if job.partition not in numbers)
        self._offsets.forget(numbers)
        if dropped:
            log.info("partitions %s %s: %d unsettled alert(s) left to their next owner", sorted(numbers), how,
                     len(dropped))

    # --- introspection ---------------------------------------------------------------------

    def secrets(self) -> list[str]:
        """Routing keys and MLflow password/token held (for log redaction)."""
        return self.keys.secrets() + self._registry_secrets

    def waiting(self) -> list[Job]:
        return list(self._jobs)


def _json(value: bytes | None) -> Any:
    if value is None:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


ExecutorThread = ServiceThread[Executor]


def start_executor(settings: ExecutorSettings, **kwargs: Any) -> ExecutorThread:
    """Start an executor in the background; call `.stop()` on the result at shutdown."""
    return ServiceThread(Executor(settings, **kwargs), "slo-executor").start()
