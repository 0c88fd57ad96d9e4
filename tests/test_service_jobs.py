"""The service's plan-and-send timer (issue 9, phase B): a tick that polls nothing.

In process: a :class:`~monitor.schedule.service.Service` with a settable clock and its worker
thread, but no scheduler running — the test fires the jobs the scheduler would, through the same
queueing (``Service._run``), and waits for the single worker to finish them. Real parts: the
local site on 127.0.0.1 and an aiosmtpd server on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.clock import system_clock
from monitor.config import load_config
from monitor.localsite.server import SiteServer
from monitor.schedule.service import Service

from smtp_server import SmtpTestServer

READER = "reader@example.org"


class SettableClock:
    """A clock the test moves forward; starts at the real now (the store still stamps in it)."""

    def __init__(self) -> None:
        self.now = system_clock()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def service_for(
    tmp_path: Path, live_site: SiteServer
) -> Iterator[Callable[[SmtpTestServer, SettableClock], Service]]:
    made: list[Service] = []

    def factory(smtp: SmtpTestServer, clock: SettableClock) -> Service:
        path = tmp_path / "config.toml"
        path.write_text(
            '[service]\nstate_dir = "state"\nrequest_delay = "0s"\n\n'
            f'[[sources]]\nid = "mofa-en"\nurl = "{live_site.list_url()}"\nevery = "1h"\n\n'
            '[mail]\nfrom = "MOFA Monitor <monitor@example.org>"\ntransport = "smtp"\n'
            f'[mail.smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "none"\n\n'
            f'[[subscribers]]\nemail = "{READER}"\nfrequency = "daily"\nsend_at = "08:00"\n',
            encoding="utf-8",
        )
        service = Service(load_config(path), clock=clock)
        service._worker.submit(service._open_app).result()
        made.append(service)
        return service

    yield factory
    for service in made:
        service.stop()


def settle(service: Service) -> None:
    """Wait until the worker has run every job queued so far (it runs them in order)."""
    service._worker.submit(lambda: None).result(timeout=60)


def poll(service: Service) -> None:
    service.poll_soon("mofa-en")
    settle(service)


def plan_and_send(service: Service) -> None:
    service._run(service._plan_and_send)  # what the scheduler's "plan-and-send" timer does
    settle(service)


def test_plan_and_send_job_mails_a_due_daily_digest_without_polling(
    service_for: Callable[..., Service],
    live_site: SiteServer,
    smtp_server: SmtpTestServer,
) -> None:
    clock = SettableClock()
    service = service_for(smtp_server, clock)
    poll(service)  # baseline
    live_site.publish(910_001, "Release for the daily digest", "2026-11-27", "1. Body.")
    poll(service)
    assert smtp_server.received == []  # a daily reader gets nothing right after a poll
    plan_and_send(service)
    assert smtp_server.received == []  # not yet due

    requests = len(live_site.requests)
    clock.advance(days=1, hours=1)  # past the next 08:00 in the reader's zone
    plan_and_send(service)
    received = smtp_server.wait_for(1)
    assert len(received) == 1
    assert "Release for the daily digest" in received[0].message.as_string()
    assert len(live_site.requests) == requests  # the job planned and sent, it did not poll
    plan_and_send(service)
    assert len(smtp_server.received) == 1  # frozen once, sent once


def test_plan_and_send_job_retries_a_deferred_delivery_after_its_backoff(
    service_for: Callable[..., Service],
    live_site: SiteServer,
    smtp_server_factory: Callable[..., SmtpTestServer],
) -> None:
    smtp = smtp_server_factory(replies={READER: "451 4.3.0 mailbox busy, try later"})
    clock = SettableClock()
    service = service_for(smtp, clock)
    poll(service)
    live_site.publish(910_002, "Release deferred once", "2026-11-27", "1. Body.")
    poll(service)
    clock.advance(days=1, hours=1)
    plan_and_send(service)  # planned, refused with 451: deferred
    assert smtp.received == []
    smtp.handler.replies.clear()  # the mailbox is free again

    plan_and_send(service)  # still inside the backoff: no new attempt
    assert smtp.received == []
    clock.advance(hours=2)  # past any backoff of a first retry
    plan_and_send(service)
    received = smtp.wait_for(1)
    assert [m.rcpt_tos for m in received] == [(READER,)]
    assert "Release deferred once" in received[0].message.as_string()
