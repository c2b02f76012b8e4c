"""The status page served by the monitor: SLO states and charts, open alerts, remediation actions.

`start_status_page(bootstrap)` consumes the monitor's output topics into a bounded view and serves
it over HTTP (server.py). Modules: view (the bounded state), chart (SVG), render (HTML), feed
(Kafka), server (HTTP).
"""

from slo_monitor.status_page.feed import FeedTopics, StatusFeed
from slo_monitor.status_page.server import StatusPage, start_status_page
from slo_monitor.status_page.view import Limits, StatusView

__all__ = ["FeedTopics", "Limits", "StatusFeed", "StatusPage", "StatusView", "start_status_page"]
