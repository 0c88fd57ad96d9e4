"""Every SMTP fault class against a real aiosmtpd server on 127.0.0.1, through one App.

The promise for each: a temporary fault (4xx, a dropped line, a login or TLS problem) keeps the
delivery pending and retries it later; a permanent refusal (5xx for one recipient) fails only
that delivery, for good; the reason is one line in the delivery's record (what ``status``
shows), with no secret in it; and when the server is well again every digest arrives exactly
once. Retries are reached by moving the App's clock past the backoff, not by waiting.

Three readers follow everything; each scenario publishes one release (so three deliveries),
sends under the fault, then recovers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from faultkit import SmtpSink, Tally, rng
from sitekit import SiteServer

from monitor.clock import system_clock as utcnow
from monitor.config import load_config
from monitor.ops.health import health_report
from monitor.schedule.app import App

from smtp_server import (
    HOST,
    TEST_CA,
    RecordingHandler,
    SmtpTestServer,
    _authenticator,
    free_port,
    server_tls_context,
)

READERS = ["a@example.org", "b@example.org", "c@example.org"]
PASSWORD = "correct-Horse-7"


@dataclass
class FaultyHandler(RecordingHandler):
    """The recording handler with switchable misbehaviours (``healthy = True`` turns all off)."""

    healthy: bool = False
    on_mail: str | None = None  # reply to MAIL (a 421 also closes the line)
    on_data: str | None = None  # reply after the data instead of 250
    drop_data: bool = False  # cut the line instead of answering the data
    final_delay: float = 0.0  # store the message, then answer 250 this late
    strict_7bit: bool = False  # 554 for 8-bit data sent without BODY=8BITMIME
    calls: dict[str, int] = field(default_factory=dict)

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if not self.healthy and self.on_mail:
            if self.on_mail.startswith("421"):
                asyncio.get_running_loop().call_soon(server.transport.close)
            return self.on_mail
        return await super().handle_MAIL(server, session, envelope, address, options)

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if self.healthy:
            envelope.rcpt_tos.append(address)
            return "250 OK"
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if not self.healthy:
            if self.on_data:
                return self.on_data
            if self.drop_data:
                server.transport.abort()
                return "250 OK"
            raw = envelope.original_content or b""
            declared = "BODY=8BITMIME" in [o.upper() for o in envelope.mail_options]
            if self.strict_7bit and any(b > 127 for b in raw) and not declared:
                return "554 5.6.1 8-bit data without BODY=8BITMIME"
        reply = await super().handle_DATA(server, session, envelope)
        if self.final_delay and not self.healthy:
            await asyncio.sleep(self.final_delay)
        return reply


@contextmanager
def smtp(handler: FaultyHandler, **kwargs: Any) -> Iterator[SmtpTestServer]:
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port, **kwargs)
    controller.start()
    try:
        yield SmtpTestServer(HOST, port, handler)
    finally:
        controller.stop()


class Clock:
    """The App's clock: real time plus an offset that a test moves forward."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return utcnow() + self.offset


@dataclass
class World:
    """Site, config file, state and clock of one scenario."""

    tmp_path: Path
    site: SiteServer
    clock: Clock = field(default_factory=Clock)
    apps: list[App] = field(default_factory=list)

    def app(
        self, server: SmtpTestServer, smtp_extra: str = "", readers: list[str] = READERS
    ) -> App:
        path = self.tmp_path / "config.toml"
        readers = "".join(
            f'\n[[subscribers]]\nemail = "{r}"\nfrequency = "immediate"\nformat = "text"\n'
            for r in readers
        )
        path.write_text(
            f"""
[service]
state_dir = "state"
request_delay = "0s"
timeout = "3s"

[[sources]]
id = "mofa-en"
url = "{self.site.list_url()}"

[mail]
from = "MOFA Monitor <monitor@example.org>"
transport = "smtp"

[mail.smtp]
host = "{server.host}"
port = {server.port}
timeout = "1s"
{smtp_extra}
{readers}
""",
            encoding="utf-8",
        )
        app = App(load_config(path), clock=self.clock)
        self.apps.append(app)
        return app

    def later(self, app: App) -> None:
        """Move past any retry backoff and send what is due."""
        self.clock.offset += dt.timedelta(hours=6)
        app.plan_and_send()


@pytest.fixture
def world(tmp_path: Path, live_site: SiteServer) -> Iterator[World]:
    live_site.seed_from_corpus(limit=3)
    made = World(tmp_path, live_site)
    yield made
    for app in made.apps:
        app.close()


def start(world: World, app: App, title: str = "Minister Meets Counterpart on Trade") -> int:
    """Baseline, then one new release, then the tick that plans and sends it."""
    app.tick()
    seq = 810_000 + len(world.site.releases())
    world.site.publish(seq, title, "2026-11-27", f"1. {title}.\n2. Details follow.")
    app.tick()
    return seq


def one_line_errors(app: App) -> list[str]:
    errors = [d.last_error for d in app.store.deliveries() if d.last_error]
    for error in errors:
        assert "\n" not in error and "\r" not in error, error
        assert PASSWORD not in error, error
    return errors


def finish(tally: Tally, server: SmtpTestServer, seq: int, readers: list[str]) -> None:
    tally.count(SmtpSink(server).mails(), {r: {seq} for r in readers})
    tally.report()
    assert tally.lost == 0, tally
    assert tally.duplicates == 0, tally


def test_421_closing_the_line_defers_then_delivers(world: World) -> None:
    tally = Tally("smtp: 421 on MAIL, line closed", rng("421")[1], faults=1)
    handler = FaultyHandler(on_mail="421 4.3.2 Service shutting down")
    with smtp(handler) as server:
        app = world.app(server)
        seq = start(world, app)
        assert app.store.delivery_counts()["pending"] == 3
        assert any("421 4.3.2 Service shutting down" in e for e in one_line_errors(app))
        handler.healthy = True
        world.later(app)
        assert app.store.delivery_counts()["sent"] == 3
        finish(tally, server, seq, READERS)


def test_451_for_one_recipient_defers_only_that_one(world: World) -> None:
    tally = Tally("smtp: 451 for one recipient", rng("451")[1], faults=1)
    handler = FaultyHandler(replies={"b@example.org": "451 4.3.0 Try again later"})
    with smtp(handler) as server:
        app = world.app(server)
        seq = start(world, app)
        counts = app.store.delivery_counts()
        assert counts["pending"] == 1 and counts["sent"] == 2
        assert one_line_errors(app) == [
            f"SMTP server {server.host}:{server.port} refused recipient b@example.org: "
            "451 4.3.0 Try again later"
        ]
        handler.healthy = True
        world.later(app)
        assert app.store.delivery_counts()["sent"] == 3
        finish(tally, server, seq, READERS)


def test_451_after_the_data_defers_then_delivers(world: World) -> None:
    tally = Tally("smtp: 451 after DATA", rng("451d")[1], faults=1)
    handler = FaultyHandler(on_data="451 4.7.1 Greylisted, come back later")
    with smtp(handler) as server:
        app = world.app(server)
        seq = start(world, app)
        assert app.store.delivery_counts()["pending"] == 3
        assert all("451 4.7.1 Greylisted" in e for e in one_line_errors(app))
        handler.healthy = True
        world.later(app)
        finish(tally, server, seq, READERS)


def test_550_for_one_recipient_fails_only_that_one_for_good(world: World) -> None:
    tally = Tally("smtp: 550 for one recipient", rng("550")[1], faults=1)
    handler = FaultyHandler(replies={"b@example.org": "550 5.1.1 No such user"})
    with smtp(handler) as server:
        app = world.app(server)
        seq = start(world, app)
        counts = app.store.delivery_counts()
        assert counts["failed"] == 1 and counts["sent"] == 2 and counts["pending"] == 0
        assert one_line_errors(app) == [
            f"SMTP server {server.host}:{server.port} refused recipient b@example.org: "
            "550 5.1.1 No such user"
        ]
        world.later(app)  # a permanent failure is not retried
        assert len(server.messages_to("b@example.org")) == 0
        finish(tally, server, seq, ["a@example.org", "c@example.org"])


def test_disconnect_during_data_defers_then_delivers_once(world: World) -> None:
    tally = Tally("smtp: disconnect during DATA", rng("drop")[1], faults=1)
    handler = FaultyHandler(drop_data=True)
    with smtp(handler) as server:
        app = world.app(server)
        seq = start(world, app)
        assert app.store.delivery_counts()["pending"] == 3
        # The line dropped after the whole message went out: the server may have stored it, so
        # the outcome is uncertain (RFC 5321 §4.5.3.2.6) and it is sent once more, not blindly.
        assert all("no final reply came" in e for e in one_line_errors(app))
        handler.healthy = True
        world.later(app)
        finish(tally, server, seq, READERS)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_failure_defers_and_never_shows_the_password(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tally = Tally("smtp: AUTH failure", rng("auth")[1], faults=1)
    handler = FaultyHandler()
    kwargs = {"authenticator": _authenticator({"monitor": PASSWORD}), "auth_required": True}
    with smtp(handler, auth_require_tls=False, **kwargs) as server:
        monkeypatch.setenv("MOFA_TEST_SMTP_PASSWORD", "wrong-Battery-8")
        extra = 'username = "monitor"\npassword_env = "MOFA_TEST_SMTP_PASSWORD"\n'
        app = world.app(server, extra)
        seq = start(world, app)
        assert app.store.delivery_counts()["pending"] == 3
        errors = one_line_errors(app)
        assert errors and all("login failed" in e and "wrong-Battery-8" not in e for e in errors)
        monkeypatch.setenv("MOFA_TEST_SMTP_PASSWORD", PASSWORD)
        world.later(app)
        finish(tally, server, seq, READERS)


def test_untrusted_tls_certificate_defers_then_delivers(world: World) -> None:
    tally = Tally("smtp: TLS certificate not trusted", rng("tls")[1], faults=1)
    handler = FaultyHandler()
    with smtp(handler, tls_context=server_tls_context(), require_starttls=True) as server:
        app = world.app(server, 'security = "starttls"\n')  # the test CA is not trusted
        seq = start(world, app)
        assert app.store.delivery_counts()["pending"] == 3
        assert all("TLS certificate verification failed" in e for e in one_line_errors(app))
        app = world.app(server, f'security = "starttls"\nca_file = "{TEST_CA}"\n')
        world.later(app)
        finish(tally, server, seq, READERS)


def test_server_without_starttls_defers_with_one_line(world: World) -> None:
    tally = Tally("smtp: STARTTLS required but not offered", rng("notls")[1], faults=1)
    with smtp(FaultyHandler()) as server:
        app = world.app(server, 'security = "starttls"\n')
        seq = start(world, app)
        assert app.store.delivery_counts()["pending"] == 3
        assert all("STARTTLS" in e for e in one_line_errors(app))
        assert server.received == []  # never in clear text
        app = world.app(server, 'security = "none"\n')
        world.later(app)
        finish(tally, server, seq, READERS)


def test_slow_final_reply_is_not_sent_again(world: World) -> None:
    """The relay stores the message and answers 250 after the client's timeout (1 s)."""
    tally = Tally("smtp: slow final reply", rng("slow")[1], faults=1)
    handler = FaultyHandler(final_delay=1.5)
    with smtp(handler) as server:
        app = world.app(server, readers=READERS[:1])
        seq = start(world, app)
        world.later(app)
        finish(tally, server, seq, READERS[:1])


def test_strict_7bit_relay_accepts_every_digest(world: World) -> None:
    tally = Tally("smtp: strict 7-bit relay", rng("7bit")[1], faults=1)
    handler = FaultyHandler(strict_7bit=True)
    with smtp(handler) as server:
        app = world.app(server)
        seq = start(world, app, title="Korea–Chile Ministers’ Talks Held")
        assert app.store.delivery_counts()["sent"] == 3
        finish(tally, server, seq, READERS)


def test_a_failing_transport_shows_in_health(world: World) -> None:
    handler = FaultyHandler(on_mail="421 4.3.2 Service shutting down")
    with smtp(handler) as server:
        app = world.app(server)
        start(world, app)
        for _ in range(3):
            world.later(app)
        report = health_report(app.config, app.store, now=world.clock(), started_at=utcnow())
        assert not report.ok
        assert any("421" in reason for reason in report.reasons)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_non_ascii_password_logs_in_and_is_never_shown(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "pässwörd-Sekret"
    handler = FaultyHandler()
    kwargs = {"authenticator": _authenticator({"monitor": secret}), "auth_required": True}
    with smtp(handler, auth_require_tls=False, **kwargs) as server:
        monkeypatch.setenv("MOFA_TEST_SMTP_PASSWORD", secret)
        extra = 'username = "monitor"\npassword_env = "MOFA_TEST_SMTP_PASSWORD"\n'
        app = world.app(server, extra)
        try:
            start(world, app)
        finally:
            assert "ä" not in caplog.text and "ö" not in caplog.text
        assert app.store.delivery_counts()["sent"] == 3
