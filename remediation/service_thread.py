"""A long-running service (responder, executor): in a daemon thread of `slo-monitor run`, or in
the foreground as its own command (`slo-monitor respond`, `slo-monitor remediate`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from remediation.routing_keys import install_redaction

log = logging.getLogger(__name__)


class Service(Protocol):
    def run(self) -> None: ...

    def stop(self) -> None:
        """Ask the run loop to finish (must not block: it is called from signal handlers)."""

    def secrets(self) -> list[str]:
        """The secrets it holds (routing keys, credentials), for log redaction."""


S = TypeVar("S", bound=Service)


class ServiceThread(Generic[S]):
    """Runs `service.run()` in a daemon thread; an exception is kept in `.error` and logged."""

    def __init__(self, service: S, name: str):
        self.service = service
        self.error: BaseException | None = None
        self._name = name
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> ServiceThread[S]:
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask it to stop without waiting (safe in a signal handler)."""
        self.service.stop()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def stop(self, timeout: float = 60.0) -> None:
        """Ask it to stop and wait up to `timeout` seconds (work in flight finishes first)."""
        self.request_stop()
        self.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            self.service.run()
        except BaseException as error:  # noqa: BLE001 - reported to the embedding process
            self.error = error
            log.exception("%s failed", self._name)


def configure_logging(level: str) -> None:
    """Plain log lines on stderr, unless the embedding process configured logging already."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=getattr(logging, str(level).upper(), logging.INFO),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one INFO line per HTTP request


def run_command(command: str, log_level: str, build: Callable[[], tuple[Service, str]]) -> int:
    """A service as its own command (`slo-monitor respond`, `remediate`): `build()` gives the service
    and its Kafka address. A configuration problem (a ValueError naming it, or a file that cannot be
    read) is one clear line and exit code 2; then the service runs in this thread until SIGTERM or
    SIGINT, its secrets redacted from the log: 0 when stopped, 3 if Kafka is unusable."""
    import signal
    import sys

    from confluent_kafka import KafkaException

    configure_logging(log_level)
    try:
        service, bootstrap_servers = build()
    except (ValueError, OSError) as error:   # every configuration error of ours is a ValueError
        print(f"{command}: {error}", file=sys.stderr)
        return 2
    install_redaction(service.secrets())
    if threading.current_thread() is threading.main_thread():
        def stop(signum: int, _frame: object) -> None:
            log.info("%s received, stopping", signal.Signals(signum).name)
            service.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    try:
        service.run()
    except KafkaException as error:
        print(f"{command}: Kafka at {bootstrap_servers} unusable: {error}", file=sys.stderr)
        return 3
    return 0
