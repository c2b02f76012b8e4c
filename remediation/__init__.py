"""remediation package: acting on slo-alerts. The PagerDuty responder (docs/paging.md):

- alert_record: the slo-alerts record, validated; extras kept.
- pagerduty_event: alert -> Events API v2 event (summary, dedup key, details, links).
- events_contract: PagerDuty's documented request contract, as a checker.
- routing_keys: which routing key a page uses (SLO, tier, default; env or file); redaction.
- maintenance, inhibition: the pure paging state machine (dedup, inhibition, windows, moves).
- outbox, rate_limit: ordered queue with coalescing, commit positions, rate limit, backoff.
- delivery: sending through pagerduty.EventsApiV2Client with capped retries.
- audit: records on remediation-actions.
- responder, responder_cli: the consumer loop; `slo-monitor respond`.
- paging_config, slack, kafka_config: options file, Slack channel, Kafka client settings.
- receiver: a local Events API v2 for tests and the demo.
"""
