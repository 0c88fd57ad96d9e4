"""The HTTP endpoint in-process: /healthz verdicts, Prometheus text, unsubscribe by POST only."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.clock import system_clock as utcnow
from monitor.config import Config, load_config
from monitor.deliver.mailmessage import make_unsubscribe_token
from monitor.models import SourceOutcome
from monitor.ops.health import HealthContext, HealthServer, Metrics, health_report
from monitor.plan.outbox import unsubscribe_secret
from monitor.store.sqlite import Store

URL = "http://127.0.0.1:9/eng/brd/m_5676/list.do"


def write_config(tmp_path: Path, state: str = "state") -> Config:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[service]\nstate_dir = "{state}"\nlisten = "127.0.0.1:0"\n\n'
        f'[[sources]]\nid = "a"\nurl = "{URL}"\nevery = "60s"\n\n'
        f'[[sources]]\nid = "b"\nurl = "{URL}"\nevery = "10m"\n'
    )
    return load_config(path)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return write_config(tmp_path)


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with Store.in_dir(config.state_dir) as store:
        for source in config.sources:
            store.ensure_source(source.id, source.kind, source.url)
        yield store


class Endpoint:
    """A running HealthServer and a tiny client for it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = Metrics(lambda: self.config)
        self.ctx = HealthContext(config=lambda: self.config, metrics=self.metrics)
        self.server = HealthServer("127.0.0.1:0", self.ctx).start()

    def request(
        self, path: str, data: bytes | None = None, method: str | None = None
    ) -> tuple[int, str, str]:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.server.port}{path}", data, method=method
        )
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get("Content-Type", ""), err.read().decode()


@pytest.fixture
def endpoint(config: Config, store: Store) -> Iterator[Endpoint]:
    ep = Endpoint(config)
    yield ep
    ep.server.stop()


class TestHealthReport:
    NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
    LONG_AGO = NOW - dt.timedelta(days=1)

    def _succeeded(self, store: Store, source: str, at: dt.datetime) -> None:
        with Store(store.path, clock=lambda: at) as stamped_then:  # the store's own clock
            stamped_then.record_poll_success(source, baseline=True)

    def test_fresh_successes_are_healthy(self, config: Config, store: Store) -> None:
        """Each source succeeded within three of its own intervals."""
        self._succeeded(store, "a", self.NOW - dt.timedelta(minutes=2))
        self._succeeded(store, "b", self.NOW - dt.timedelta(minutes=25))
        report = health_report(config, store, now=self.NOW, started_at=self.LONG_AGO)
        assert report.ok and report.reasons == []
        assert report.sources["a"]["consecutive_failures"] == 0

    def test_stale_source_is_unhealthy_with_reason(self, config: Config, store: Store) -> None:
        """Three intervals without success name the source and its last error."""
        self._succeeded(store, "a", self.NOW - dt.timedelta(minutes=4))
        self._succeeded(store, "b", self.NOW - dt.timedelta(minutes=5))
        store.record_poll_failure("a", "HTTP 503 from the site")
        report = health_report(config, store, now=self.NOW, started_at=self.LONG_AGO)
        assert not report.ok
        assert len(report.reasons) == 1
        assert report.reasons[0].startswith("source a: no successful poll since")
        assert "HTTP 503 from the site" in report.reasons[0]

    def test_fresh_start_gets_grace_until_a_failure(self, config: Config, store: Store) -> None:
        """Never polled yet is fine right after start, but not once a poll failed."""
        report = health_report(config, store, now=self.NOW, started_at=self.NOW)
        assert report.ok
        store.record_poll_failure("b", "connection refused")
        report = health_report(config, store, now=self.NOW, started_at=self.NOW)
        assert [r.split(":")[0] for r in report.reasons] == ["source b"]

    def test_never_polled_long_after_start_is_unhealthy(self, config: Config, store: Store) -> None:
        """A source the scheduler never reached is a failure, not silence."""
        report = health_report(config, store, now=self.NOW, started_at=self.LONG_AGO)
        assert not report.ok and "no poll yet" in report.reasons[0]


class TestHealthz:
    def test_503_with_json_reasons_then_200(self, endpoint: Endpoint, store: Store) -> None:
        """The verdict is JSON either way; the status code is what orchestrators read."""
        endpoint.ctx.started_at = utcnow() - dt.timedelta(days=1)
        status, ctype, body = endpoint.request("/healthz")
        assert (status, ctype) == (503, "application/json")
        assert json.loads(body)["status"] == "unhealthy"
        for source in ("a", "b"):
            store.record_poll_success(source, baseline=True)
        status, _, body = endpoint.request("/healthz")
        assert status == 200
        assert set(json.loads(body)["sources"]) == {"a", "b"}

    def test_a_failing_mail_transport_is_503_until_it_delivers(
        self, endpoint: Endpoint, store: Store
    ) -> None:
        """Polling fine but mail not going out (an unwritable Maildir) is not healthy."""
        for source in ("a", "b"):
            store.record_poll_success(source, baseline=True)
        store.record_transport_failure("cannot write to the Maildir /x: read-only", utcnow())
        status, _, body = endpoint.request("/healthz")
        assert status == 503
        [reason] = json.loads(body)["reasons"]
        assert reason.startswith("mail transport: failing since")
        assert reason.endswith("cannot write to the Maildir /x: read-only")
        _, _, metrics = endpoint.request("/metrics")
        assert "mofa_monitor_mail_transport_consecutive_failures 1.0" in metrics
        store.record_transport_success(utcnow())
        assert endpoint.request("/healthz")[0] == 200

    def test_database_not_answering_is_503(self, tmp_path: Path, endpoint: Endpoint) -> None:
        """If the state cannot be opened, the endpoint says so instead of crashing."""
        (tmp_path / "blocked").write_text("a file where a folder should be")
        endpoint.config = write_config(tmp_path, state="blocked")
        status, _, body = endpoint.request("/healthz")
        assert status == 503
        assert json.loads(body)["reasons"][0].startswith("database:")

    def test_unknown_path_is_404(self, endpoint: Endpoint) -> None:
        assert endpoint.request("/nope")[0] == 404


class TestMetrics:
    def test_prometheus_text_with_counters_and_database_gauges(
        self, endpoint: Endpoint, store: Store
    ) -> None:
        """Polls and failures are counted; stored facts come from the database."""
        store.record_poll_success("a", baseline=True)
        endpoint.metrics.observe_poll(SourceOutcome("a"))
        endpoint.metrics.observe_poll(SourceOutcome("a", error="boom"))
        status, ctype, body = endpoint.request("/metrics")
        assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body)
            for s in family.samples
        }
        assert samples[("mofa_monitor_polls_total", (("source", "a"),))] == 2
        assert samples[("mofa_monitor_poll_failures_total", (("source", "a"),))] == 1
        assert samples[("mofa_monitor_releases_stored", ())] == 0
        assert samples[("mofa_monitor_deliveries", (("state", "pending"),))] == 0
        assert ("mofa_monitor_last_success_timestamp_seconds", (("source", "a"),)) in samples

    def test_subscribers_by_state(self, endpoint: Endpoint, store: Store) -> None:
        """The same counts as `status`: active, unsubscribed, removed from the config."""
        store.sync_subscribers(["gone@example.org", "left@example.org"])
        store.suppress("left@example.org", "one-click")
        _, _, body = endpoint.request("/metrics")
        samples = {
            s.labels["state"]: s.value
            for family in text_string_to_metric_families(body)
            for s in family.samples
            if s.name == "mofa_monitor_subscribers"
        }
        assert samples == {"active": 0, "unsubscribed": 1, "removed": 1}


class TestUnsubscribe:
    ADDRESS = "desk@example.org"

    def token(self, config: Config, store: Store, address: str = ADDRESS) -> str:
        return make_unsubscribe_token(unsubscribe_secret(config, store), address)

    def test_get_shows_a_form_and_changes_nothing(
        self, endpoint: Endpoint, config: Config, store: Store
    ) -> None:
        """Link scanners follow GETs: the page asks, it never unsubscribes."""
        token = self.token(config, store)
        status, ctype, body = endpoint.request(f"/unsubscribe?t={token}")
        assert status == 200 and ctype.startswith("text/html")
        assert '<form method="post">' in body and f'value="{token}"' in body
        assert self.ADDRESS in body
        assert store.suppressed() == set()

    def test_post_form_suppresses_and_repeats_are_200(
        self, endpoint: Endpoint, config: Config, store: Store
    ) -> None:
        """The button's POST suppresses the address; pressing it again is still fine."""
        data = f"t={self.token(config, store)}".encode()
        for _ in range(2):
            status, _, body = endpoint.request("/unsubscribe", data=data)
            assert status == 200 and "will receive no more digests" in body
        assert store.suppressed() == {self.ADDRESS}
        assert store.suppressions()[self.ADDRESS].reason == "confirmation page"

    def test_rfc8058_one_click_with_token_in_url(
        self, endpoint: Endpoint, config: Config, store: Store
    ) -> None:
        """Mail clients POST List-Unsubscribe=One-Click to the link from the header."""
        url = f"/unsubscribe?token={self.token(config, store)}"
        status, _, _ = endpoint.request(url, data=b"List-Unsubscribe=One-Click")
        assert status == 200
        assert store.suppressed() == {self.ADDRESS}
        suppression = store.suppressions()[self.ADDRESS]
        assert (suppression.reason, suppression.by_reader) == ("one-click", True)

    @pytest.mark.parametrize(
        "path, data",
        [
            ("/unsubscribe?t=bogus.token", None),
            ("/unsubscribe", None),
            ("/unsubscribe", b"t=ZGVza0BleGFtcGxlLm9yZw.AAAA"),
            ("/unsubscribe", b"List-Unsubscribe=One-Click"),
        ],
        ids=["get-forged", "get-missing", "post-forged", "one-click-without-token"],
    )
    def test_bad_token_is_400_plain(
        self, endpoint: Endpoint, store: Store, path: str, data: bytes | None
    ) -> None:
        """A forged or missing token gets a plain 400 and suppresses nobody."""
        status, ctype, body = endpoint.request(path, data=data)
        assert (status, ctype) == (400, "text/plain; charset=utf-8")
        assert body == "invalid or missing unsubscribe token\n"
        assert store.suppressed() == set()

    def test_echoed_address_is_escaped(
        self, endpoint: Endpoint, config: Config, store: Store
    ) -> None:
        """Whatever the token carries is HTML-escaped on both pages."""
        token = self.token(config, store, '"><script>alert(1)</script>@example.org')
        for data in (None, f"t={token}".encode()):
            _, _, body = endpoint.request(f"/unsubscribe?t={token}", data=data)
            assert "<script>" not in body and "&lt;script&gt;" in body
