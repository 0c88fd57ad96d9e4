"""The service's small HTTP face: ``/healthz``, ``/metrics``, and the route to the unsubscribe
endpoint (:mod:`monitor.ops.unsubscribe`).

A monitor that silently stops is worse than none, so an orchestrator (systemd, Docker, a load
balancer) must be able to ask "are you doing your job?" — not merely "is the process alive?".
``/healthz`` answers 200 only when every enabled source polled successfully within three of its
intervals, the mail transport's last attempt did not fail, and the database answers.
``/metrics`` is Prometheus text for dashboards and alerting.

The stdlib ``ThreadingHTTPServer`` is enough: a handful of requests a minute, on 127.0.0.1
behind a reverse proxy. Each request opens its own :class:`Store` (a Store is not thread-safe;
SQLite in WAL mode lets these readers run beside the scheduler's writer).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.clock import Clock, system_clock
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.store.sqlite import Store

if TYPE_CHECKING:  # the pipeline is only a source of records here
    from monitor.models import SourceOutcome

log = logging.getLogger(__name__)

STALE_AFTER_INTERVALS = 3
MAX_BODY = 64 * 1024
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"

ConfigGetter = Callable[[], Config]


# --- /healthz ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The verdict of ``/healthz`` and the per-source facts behind it."""

    ok: bool
    reasons: list[str]
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_json(self) -> bytes:
        status = "ok" if self.ok else "unhealthy"
        payload = {"status": status, "reasons": self.reasons, "sources": self.sources}
        return json.dumps(payload, indent=2).encode()


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def health_report(
    config: Config, store: Store, *, now: dt.datetime, started_at: dt.datetime
) -> HealthReport:
    """Healthy when every enabled source succeeded within three intervals.

    A source that has not succeeded yet counts as healthy only while the process is younger than
    three intervals and the source has not failed — the grace a fresh start needs.
    """
    known = {h.id: h for h in store.sources()}
    reasons, sources = [], {}
    for source in (s for s in config.sources if s.enabled):
        h = known.get(source.id)
        window = source.every * STALE_AFTER_INTERVALS
        last_ok = h.last_success_at if h else None
        failures = h.consecutive_failures if h else 0
        fresh = last_ok is not None and now - last_ok <= window
        starting = now - started_at <= window and failures == 0
        if not (fresh or starting):
            why = f"last error: {h.last_error}" if h and h.last_error else "no poll yet"
            since = f"since {_iso(last_ok)}" if last_ok else "ever"
            reasons.append(
                f"source {source.id}: no successful poll {since} (more than {window}); {why}"
            )
        sources[source.id] = {
            "healthy": fresh or starting,
            "last_success": _iso(last_ok),
            "last_attempt": _iso(h.last_attempt_at) if h else None,
            "consecutive_failures": failures,
            "last_error": h.last_error if h else None,
        }
    transport = store.transport_health()
    if transport.failing_since is not None:
        # Mail not going out is the service not doing its job, even if every poll succeeds.
        reasons.append(
            f"mail transport: failing since {_iso(transport.failing_since)} "
            f"({transport.consecutive_failures} attempt(s)): {transport.last_error}"
        )
    return HealthReport(not reasons, reasons, sources)


# --- /metrics ------------------------------------------------------------------------------


class Metrics:
    """Counters the scheduler bumps, plus gauges read from the database at scrape time."""

    def __init__(self, config: ConfigGetter) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.polls = Counter(
            "mofa_monitor_polls", "Polls of a source", ["source"], registry=self.registry
        )
        self.poll_failures = Counter(
            "mofa_monitor_poll_failures",
            "Failed polls of a source",
            ["source"],
            registry=self.registry,
        )
        self.registry.register(_DatabaseCollector(config))

    def observe_poll(self, outcome: SourceOutcome) -> None:
        """Count one poll of a source (and its failure)."""
        self.polls.labels(outcome.source_id).inc()
        if outcome.error is not None:
            self.poll_failures.labels(outcome.source_id).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class _DatabaseCollector(Collector):
    """Durable facts (releases, deliveries, last successes) come from SQLite, not memory."""

    def __init__(self, config: ConfigGetter) -> None:
        self._config = config

    def describe(self) -> list[Any]:
        return []  # dynamic: never collect at registration time

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from monitor.plan.subscriptions import state_counts, subscriber_states

        try:
            config = self._config()
            with Store.in_dir(config.state_dir) as store:
                counts, releases, sources, transport = (
                    store.delivery_counts(),
                    store.count_releases(),
                    store.sources(),
                    store.transport_health(),
                )
                subscribers = state_counts(subscriber_states(config, store))
        except Exception as exc:  # a scrape must not crash the endpoint
            log.warning("metrics: cannot read the database: %s", exc)
            return
        yield GaugeMetricFamily(
            "mofa_monitor_releases_stored", "Releases in the archive", value=releases
        )
        deliveries = GaugeMetricFamily(
            "mofa_monitor_deliveries", "Deliveries in the outbox by state", labels=["state"]
        )
        for state, count in sorted(counts.items()):
            deliveries.add_metric([state], count)
        yield deliveries
        by_state = GaugeMetricFamily(
            "mofa_monitor_subscribers",
            "Subscribers by state (active, unsubscribed, removed from the config)",
            labels=["state"],
        )
        for state, count in subscribers.items():
            by_state.add_metric([state], count)
        yield by_state
        last = GaugeMetricFamily(
            "mofa_monitor_last_success_timestamp_seconds",
            "Unix time of the last successful poll of a source",
            labels=["source"],
        )
        failing = GaugeMetricFamily(
            "mofa_monitor_consecutive_failures", "Failed polls in a row", labels=["source"]
        )
        for h in sources:
            if h.last_success_at is not None:
                last.add_metric([h.id], h.last_success_at.timestamp())
            failing.add_metric([h.id], h.consecutive_failures)
        yield last
        yield failing
        yield GaugeMetricFamily(
            "mofa_monitor_mail_transport_consecutive_failures",
            "Failed delivery attempts in a row through the mail transport (0: delivering)",
            value=transport.consecutive_failures,
        )


# --- the server ----------------------------------------------------------------------------


@dataclass
class HealthContext:
    """What request handlers need: the live config, the metrics and the process start time."""

    config: ConfigGetter
    metrics: Metrics
    started_at: dt.datetime = field(default_factory=system_clock)
    clock: Clock = system_clock


class HealthHandler(BaseHTTPRequestHandler):
    """Routes the three endpoints; anything else is 404."""

    server_version = "mofa-monitor"

    @property
    def ctx(self) -> HealthContext:
        return self.server.ctx  # type: ignore[attr-defined,no-any-return]

    head_only = False

    def log_message(self, format: str, *args: Any) -> None:
        # The request line carries unsubscribe tokens: log the path only. A request refused
        # before its line was parsed (414, 400) has no path yet.
        log.debug("%s %s", getattr(self, "command", None), self._route())

    def log_error(self, format: str, *args: Any) -> None:
        """A refused request (414 URI too long, 400 bad request line): one line, no token."""
        log.warning("endpoint: refused a request for %s: %s", self._route(), format % args)

    def _route(self) -> str:
        return urlsplit(getattr(self, "path", "") or "").path[:200]

    def do_HEAD(self) -> None:
        """Like GET without the body (link checkers use HEAD)."""
        self.head_only = True
        try:
            self.do_GET()
        finally:
            self.head_only = False

    def do_GET(self) -> None:
        from monitor.ops import unsubscribe  # the outbox and its templates: only when asked

        route = urlsplit(self.path).path
        if route == "/healthz":
            self._healthz()
        elif route == "/metrics":
            self._send(200, self.ctx.metrics.render(), PROMETHEUS_TYPE)
        elif route == "/unsubscribe":
            self._send(
                *unsubscribe.confirmation(
                    self.ctx.config(), urlsplit(self.path).query, self.ctx.clock
                )
            )
        else:
            self._send(404, b"not found\n")

    def do_POST(self) -> None:
        from monitor.ops import unsubscribe

        if urlsplit(self.path).path != "/unsubscribe":
            self._send(404, b"not found\n")
            return
        declared = self.headers.get("Content-Length") or "0"
        if not declared.isdigit() or int(declared) > MAX_BODY:
            self._send(413, b"request body missing a valid length, or too large\n")
            return
        size = int(declared)
        body = self.rfile.read(size) if size else b""
        query = urlsplit(self.path).query
        form = unsubscribe.parse_form(self.headers.get("Content-Type"), body)
        self._send(*unsubscribe.submission(self.ctx.config(), query, form, self.ctx.clock))

    def _healthz(self) -> None:
        try:
            with Store.in_dir(self.ctx.config().state_dir, clock=self.ctx.clock) as store:
                report = health_report(
                    self.ctx.config(), store, now=self.ctx.clock(), started_at=self.ctx.started_at
                )
        except Exception as exc:  # the database not answering is exactly what we report
            report = HealthReport(False, [f"database: {exc}"])
        self._send(200 if report.ok else 503, report.as_json(), "application/json")

    def _send(self, status: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")  # the URL holds a token
        if ctype.startswith("text/html"):
            self.send_header(
                "Content-Security-Policy",
                "default-src 'none'; form-action 'self'; style-src 'unsafe-inline'",
            )
        self.end_headers()
        if not self.head_only:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One log line per failed request, never a traceback on stderr (which would break
        ``--log-format json``); a client that hung up is routine."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            log.info("endpoint: the client hung up (%s)", type(exc).__name__)
            return
        log.error("endpoint: request failed: %s: %s", type(exc).__name__, exc)
        log.debug("endpoint: the fault in full", exc_info=exc)


class _Server6(_Server):
    address_family = socket.AF_INET6


def parse_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:8787"`` or ``"[::1]:8787"`` → (host, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class HealthServer:
    """The endpoint in a daemon thread; ``port`` is the bound one (``:0`` picks a free port)."""

    def __init__(self, listen: str, ctx: HealthContext) -> None:
        host, port = parse_listen(listen)
        cls = _Server6 if ":" in host else _Server
        try:
            self._httpd = cls((host, port), HealthHandler)
        except OSError as exc:
            raise MonitorError(
                f"cannot listen on {listen} ([service] listen): {exc.strerror}"
            ) from exc
        self._httpd.ctx = ctx  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="health",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("health endpoint on http://%s:%d/healthz", *self._httpd.server_address[:2])
        return self

    def stop(self) -> None:
        """Stop accepting requests and close the socket."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
