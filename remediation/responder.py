"""The responder: slo-alerts in, PagerDuty incidents out, nothing lost, nothing paged twice.

One loop in one thread (`Responder.run`):

1. *poll* slo-alerts as a consumer-group member; each record is decided by its partition's
   `PagingState` (remediation/inhibition.py) and what is to be sent joins the `Outbox`;
2. *deliver* the head of the outbox through PagerDuty's client (remediation/delivery.py), no
   faster than the per-key rate limit; on 429/5xx/network errors the head stays where it is and
   is retried after a capped exponential backoff, while the loop keeps polling (consumption
   pauses once `max_pending` events wait) so the group membership stays alive;
3. *commit* the offsets whose records are fully settled (accepted, rejected with 400, logged,
   suppressed), after the audit records describing them are in Kafka.

A crash or SIGKILL anywhere loses nothing: uncommitted records are read again. The paging state
(open incidents, handled records) is not stored anywhere: on partition assignment it is rebuilt
by replaying the partition's committed records through the same pure decision function.

Embedding: ``Responder(settings).run()`` blocks until ``stop()`` (thread-safe);
``start_responder(settings)`` runs it in a daemon thread for ``slo-monitor run``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition
from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge

from remediation import audit as audit_mod
from remediation.service_thread import ServiceThread
from remediation.alert_record import InvalidAlert, parse_alert
from remediation.audit import AuditSink, KafkaAuditSink, page_record
from remediation.delivery import DeliveryResult, Outcome, PagerDutySender, Sender
from remediation.inhibition import PageOrder, PagingState
from remediation.json_producer import commit_when_written
from remediation.kafka_config import consumer_config, ensure_topics, history_config, producer_config
from remediation.maintenance import MaintenanceCalendar, MaintenanceWindow
from remediation.outbox import Outbound, OffsetTracker, Outbox
from remediation.pagerduty_event import LinkTemplates, resolve_event, trigger_event
from remediation.rate_limit import SlidingWindowLimiter
from remediation.routing_keys import RoutingConfig, RoutingKeys
from remediation.service_settings import AlertServiceSettings

log = logging.getLogger(__name__)

PAGES = PromCounter("slo_monitor_pages", "Paging decisions and deliveries by outcome", ["outcome"])
DELIVERY_FAILURES = PromCounter("slo_monitor_page_delivery_failures",
                                "Delivery attempts to PagerDuty that must be retried")
QUEUED = Gauge("slo_monitor_pages_queued", "Events waiting to be delivered to PagerDuty")

_POLL_SECONDS = 0.5   # longest the loop sleeps: bounds the reaction to stop() and timers


@dataclass(frozen=True)
class ResponderSettings(AlertServiceSettings):
    """Everything the responder needs; defaults follow CONTRACT.md."""

    group_id: str = "slo-monitor-responder"
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    links: LinkTemplates = LinkTemplates()
    maintenance: tuple[MaintenanceWindow, ...] = ()
    rate_limit_per_minute: int | None = 120        # PagerDuty: about 120 per minute per key
    rate_limit_window: float = 60.0                # seconds the limit counts over (tests shorten it)
    sends_per_loop: int = 20                       # deliveries between two polls
    slack: Any = None                              # remediation.slack.SlackSettings, optional


class Responder:
    """Consumes slo-alerts and pages PagerDuty; see the module docstring."""

    def __init__(self, settings: ResponderSettings, *, environ: Mapping[str, str] | None = None,
                 sender: Sender | None = None, audit: AuditSink | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.keys = RoutingKeys(settings.routing, environ)
        self.sender = sender or PagerDutySender(self.keys, settings.events_url, settings.ca_bundle,
                                                settings.http_retry)
        self._audit = audit
        self._calendar = MaintenanceCalendar(settings.maintenance)
        self._clock = clock
        self._stop = threading.Event()
        self._states: dict[int, PagingState] = {}
        self._outbox = Outbox()
        self._offsets = OffsetTracker()
        self._limiter = SlidingWindowLimiter(settings.rate_limit_per_minute, settings.rate_limit_window)
        self._paused = False
        self._consumer: Consumer | None = None
        self._slack = None
        if settings.slack is not None:
            from remediation.slack import SlackNotifier

            self._slack = SlackNotifier(settings.slack, environ)
        self.stats: Counter[str] = Counter()
        self.ready = threading.Event()             # set once partitions are assigned

    # --- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to stop after the current step (safe from signal handlers and threads)."""
        self._stop.set()

    def run(self) -> None:
        """Run until `stop()`. Raises KafkaException if Kafka cannot be used at all."""
        s = self.settings
        if s.create_topics:
            ensure_topics(s.bootstrap_servers, [s.alerts_topic, s.actions_topic], s.topic_partitions, s.kafka_config)
        if self._audit is None:
            self._audit = KafkaAuditSink(producer_config(s.bootstrap_servers, s.kafka_config), s.actions_topic)
        self._log_start()
        consumer = Consumer(consumer_config(s.bootstrap_servers, s.group_id, s.kafka_config, s.instance_id))
        self._consumer = consumer
        consumer.subscribe([s.alerts_topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                           on_lost=self._on_lost)
        try:
            while not self._stop.is_set():
                self._poll(consumer)
                self._deliver()
                self._commit(consumer)
        finally:
            try:
                self._commit(consumer)
            finally:
                consumer.close()
                self._audit.close()
                self.sender.close()
                QUEUED.set(0)
                left = (f"; {len(self._outbox)} event(s) not yet accepted stay uncommitted and go out "
                        "after a restart") if len(self._outbox) else ""
                log.info("responder stopped (%s%s)",
                         ", ".join(f"{k} {v}" for k, v in sorted(self.stats.items())) or "nothing done", left)

    def _log_start(self) -> None:
        s = self.settings
        where = getattr(self.sender, "events_url", "custom sender")
        targets = "; ".join(f"{t}: {d}" for t, d in self.keys.describe().items())
        log.info("responder: %s -> PagerDuty at %s as group %s; routing keys: %s; %d maintenance window(s)",
                 s.alerts_topic, where, s.group_id, targets, len(self._calendar))
        if not self.keys.any_key:
            log.warning("no PagerDuty routing key configured: pages are logged, not sent")
        for problem in self.keys.problems():
            log.warning("%s: PagerDuty will reject its pages with 400", problem)

    # --- intake ----------------------------------------------------------------------------

    def _poll(self, consumer: Consumer) -> None:
        full = len(self._outbox) >= self.settings.max_pending
        if full != self._paused:
            assignment = consumer.assignment()
            (consumer.pause if full else consumer.resume)(assignment)
            self._paused = full
            if full:
                log.warning("%d events wait for PagerDuty: consumption paused", len(self._outbox))
        messages = consumer.consume(num_messages=200, timeout=self._poll_timeout())
        for message in messages:
            if message.error():
                self._kafka_error(message.error())
                continue
            self._intake(message)
        QUEUED.set(len(self._outbox))

    def _poll_timeout(self) -> float:
        head = self._outbox.head()
        if head is None:
            return _POLL_SECONDS
        return min(_POLL_SECONDS, max(0.0, head.not_before - self._clock()))

    def _kafka_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("Kafka: %s", error)

    def _intake(self, message: Message) -> None:
        partition, offset = message.partition(), message.offset()
        state = self._state(partition)
        try:
            alert = parse_alert(message.value())
        except InvalidAlert as error:
            # audit key is <slo>/<model_id>: drop the segment of the Kafka key
            key = error.key or "/".join((message.key() or b"unknown").decode("utf-8", "replace").split("/")[:2])
            log.error("%s[%d]@%d is not a valid alert and is skipped: %s",
                      self.settings.alerts_topic, partition, offset, error)
            self._write_audit(page_record(audit_mod.REJECTED, "invalid_record",
                                          f"not a valid slo-alerts record: {error}", None, key=key))
            self._offsets.received(partition, offset, 0)
            return
        decision = state.decide(alert)
        if decision.suppressed is not None:
            rule, reason = decision.suppressed.rule, decision.suppressed.reason
            log.info("not paging %s %s of %s (%s): %s", alert.action, alert.severity, alert.dedup_key, rule, reason)
            self._write_audit(page_record(audit_mod.SUPPRESSED, rule, reason, alert))
        self._offsets.received(partition, offset, len(decision.orders))
        for order in decision.orders:
            event = (trigger_event(order.alert, self.settings.links) if order.event_action == "trigger"
                     else resolve_event(order.dedup_key))
            coalesced = self._outbox.add(partition, order, event, offset)
            if coalesced is not None:
                old = coalesced.superseded
                self._write_audit(page_record(
                    audit_mod.COALESCED, "coalesced",
                    f"{old.event_action} of {old.dedup_key} ({old.cause}) folded into a queued "
                    f"{order.event_action} not yet sent", old.alert,
                    event_action=old.event_action, target=old.target))

    def _state(self, partition: int) -> PagingState:
        state = self._states.get(partition)
        if state is None:  # not through on_assign (should not happen): start empty
            state = self._states[partition] = PagingState(self.keys.target_for, self._calendar)
        return state

    # --- delivery --------------------------------------------------------------------------

    def _deliver(self) -> None:
        for _ in range(self.settings.sends_per_loop):
            item = self._outbox.head()
            if item is None or self._stop.is_set():
                return
            now = self._clock()
            if now < item.not_before:
                return
            limit_key = self._limit_key(item.order.target)
            if limit_key is not None:
                wait = self._limiter.delay(limit_key, now)
                if wait > 0:
                    item.not_before = now + wait
                    log.info("rate limit of %s reached: next page in %.1fs, %d queued",
                             item.order.target, wait, len(self._outbox))
                    return
                self._limiter.record(limit_key, now)
            result = self.sender.send(item.order.target, item.event)
            if result.outcome is Outcome.RETRY:
                self._retry_later(item, result)
                return
            self._outbox.pop_head()
            self._settled(item, result)

    def _retry_later(self, item: Outbound, result: DeliveryResult) -> None:
        item.attempts += 1
        item.last_error = result.detail
        delay = self.settings.backoff.delay(item.attempts)
        item.not_before = self._clock() + delay
        self.stats["retries"] += 1
        DELIVERY_FAILURES.inc()
        log.warning("PagerDuty did not take %s of %s (%s, attempt %d); it waits at the head of %d queued "
                    "event(s), next try in %.1fs", item.order.event_action, item.order.dedup_key,
                    result.detail, item.attempts, len(self._outbox), delay)

    def _settled(self, item: Outbound, result: DeliveryResult) -> None:
        order = item.order
        for offset in item.offsets:
            self._offsets.settle(item.partition, offset)
        attempts = item.attempts + 1
        if result.outcome is Outcome.REJECTED:
            outcome, rule = audit_mod.REJECTED, "pagerduty_rejected"
            reason = f"PagerDuty rejected the {order.event_action} ({order.cause}): {result.detail}"
            log.error("PagerDuty REJECTED %s of %s for alert %s (%s): %s -- not retried; audited on %s",
                      order.event_action, order.dedup_key, order.alert.alert_id, order.target,
                      result.detail, self.settings.actions_topic)
        elif result.outcome is Outcome.LOGGED:
            outcome, rule, reason = audit_mod.LOGGED, "no_routing_key", f"{order.cause}; {result.detail}"
        else:
            outcome, rule = audit_mod.SENT, "delivered"
            reason = f"{order.cause}; PagerDuty accepted the {order.event_action} (attempt {attempts})"
            log.info("paged %s %s of %s to %s (%s)", order.event_action, order.alert.severity,
                     order.dedup_key, order.target, order.cause)
        self.stats[outcome] += 1
        PAGES.labels(outcome).inc()
        self._write_audit(page_record(outcome, rule, reason, order.alert, event_action=order.event_action,
                                      target=order.target, dedup_key=item.event.get("dedup_key"),
                                      status=result.status, attempts=attempts))
        if self._slack is not None and result.outcome is not Outcome.REJECTED:
            self._slack.notify(order, item.event)

    def _limit_key(self, target: str) -> str | None:
        key = self.keys.key(target)
        return hashlib.sha256(key.encode()).hexdigest() if key else None

    def _write_audit(self, record: audit_mod.AuditRecord) -> None:
        if record.value["outcome"] in (audit_mod.SUPPRESSED, audit_mod.COALESCED):
            self.stats[record.value["outcome"]] += 1
            PAGES.labels(record.value["outcome"]).inc()
        assert self._audit is not None
        self._audit.write(record)

    # --- offsets ---------------------------------------------------------------------------

    def _commit(self, consumer: Consumer) -> None:
        assert self._audit is not None
        commit_when_written(consumer, self.settings.alerts_topic, self._offsets, [self._audit])

    # --- rebalancing -----------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._paused = False
        committed = consumer.committed(partitions, timeout=30)
        replayed = self._rebuild_state(committed)
        log.info("assigned %s partition(s) %s; paging state rebuilt from %d committed record(s)",
                 self.settings.alerts_topic, sorted(tp.partition for tp in partitions), replayed)
        self.ready.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._commit(consumer)
        self._forget(partitions, "revoked")

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget(partitions, "lost")

    def _forget(self, partitions: list[TopicPartition], how: str) -> None:
        numbers = [tp.partition for tp in partitions]
        dropped = self._outbox.drop_partitions(numbers)
        self._offsets.forget(numbers)
        for number in numbers:
            self._states.pop(number, None)
        if dropped:
            log.info("partitions %s %s: %d unsent event(s) left to their next owner", numbers, how, len(dropped))

    def _rebuild_state(self, committed: list[TopicPartition]) -> int:
        """Fresh PagingState per partition, fed the partition's records before its committed
        offset: the decisions made before a restart are made again, without sending."""
        ends = {}
        for tp in committed:
            self._states[tp.partition] = PagingState(self.keys.target_for, self._calendar)
            if tp.offset > 0:
                ends[tp.partition] = tp.offset
        if not ends:
            return 0
        s = self.settings
        reader = Consumer(history_config(s.bootstrap_servers, s.kafka_config))
        replayed = 0
        try:
            todo = {}
            for partition, end in ends.items():
                low, _high = reader.get_watermark_offsets(TopicPartition(s.alerts_topic, partition), timeout=15)
                if low < end:
                    todo[partition] = end
            reader.assign([TopicPartition(s.alerts_topic, p, OFFSET_BEGINNING) for p in todo])
            deadline = time.monotonic() + 120
            while todo and time.monotonic() < deadline:
                for message in reader.consume(500, 0.5):
                    partition = message.partition()
                    if message.error() or partition not in todo or message.offset() >= todo[partition]:
                        continue
                    try:
                        self._states[partition].decide(parse_alert(message.value()))
                    except InvalidAlert:
                        pass
                    replayed += 1
                # done by position, not by the last offset seen: offsets can have gaps
                for tp in reader.position([TopicPartition(s.alerts_topic, p) for p in todo]):
                    if tp.offset >= todo[tp.partition]:
                        del todo[tp.partition]
            if todo:
                log.warning("paging state of partitions %s rebuilt only partly (history read timed out)", sorted(todo))
        finally:
            reader.close()
        return replayed

    # --- introspection ---------------------------------------------------------------------

    def secrets(self) -> list[str]:
        """Every secret this responder holds (routing keys, Slack URL), for log redaction."""
        return self.keys.secrets() + (self._slack.secrets() if self._slack is not None else [])

    def queued(self) -> list[PageOrder]:
        return [item.order for item in self._outbox]


ResponderThread = ServiceThread[Responder]


def start_responder(settings: ResponderSettings, **kwargs: Any) -> ResponderThread:
    """Start a responder in the background; call `.stop()` on the result at shutdown."""
    return ServiceThread(Responder(settings, **kwargs), "slo-responder").start()
