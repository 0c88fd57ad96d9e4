"""Stopping while an SMTP relay withholds its final reply (F27): SIGTERM ends `run` within
``[service] timeout``; the message, which the relay took whole, is recorded as uncertain and
sent once more at most — so a stop costs at most one duplicate, and is no transport failure.

The relay (aiosmtpd, 127.0.0.1) stores the message at once and holds its reply far longer than
the test waits; the signal is sent when the relay has observed the message data, never after a
fixed sleep.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sitekit import SiteServer
from test_mail_headers import THEMES
from test_outbox import Ledger, kst

from monitor.config import load_config
from monitor.deliver.transports import SmtpTransport
from monitor.plan import outbox
from monitor.store.sqlite import Store

from smtp_server import SmtpTestServer, running_smtp_server

TIMEOUT = 3.0  # [service] timeout and [mail.smtp] timeout, seconds
HELD = 120.0  # how long the relay holds its final reply


def wait_until(predicate: Callable[[], object], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:g}s waiting for {what}")
        time.sleep(0.02)


def seeded(tmp_path: Path, server: SmtpTestServer, site: SiteServer | None = None) -> Ledger:
    """A state with one pending delivery to d@example.org, and its config."""
    source = f'[[sources]]\nid = "src"\nurl = "{site.list_url()}"\nevery = "60s"\n' if site else ""
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[service]
state_dir = "state"
request_delay = "0s"
timeout = "{TIMEOUT:g}s"
respect_robots = false
{source}
[mail]
from = "MOFA Monitor <monitor@example.org>"
transport = "smtp"
[mail.smtp]
host = "{server.host}"
port = {server.port}
timeout = "{TIMEOUT:g}s"

[[subscribers]]
email = "d@example.org"
frequency = "immediate"
""",
        encoding="utf-8",
    )
    ledger = Ledger(load_config(path))
    ledger.subscribe("d@example.org", kst(26, 10))
    ledger.release(1, kst(26, 12))
    assert ledger.plan(kst(26, 13), poll_run=1) == ["d@example.org immediate:1"]
    return ledger


def test_the_stop_event_abandons_the_wait_for_a_final_reply(tmp_path: Path) -> None:
    """In-process: the send pass ends within a tick of the stop event; uncertain, resent once."""
    with running_smtp_server(final_reply_delay=HELD) as server:
        ledger = seeded(tmp_path, server)
        cancel = threading.Event()
        now = kst(26, 14).astimezone(dt.UTC)
        reports: list[outbox.SendReport] = []

        def send() -> None:
            store = Store.in_dir(ledger.config.state_dir)  # SQLite: one connection per thread
            with store, SmtpTransport(ledger.config.mail.smtp, cancel=cancel) as smtp:
                reports.append(
                    outbox.send_due(
                        ledger.config, store, smtp, THEMES, now=lambda: now, cancel=cancel
                    )
                )

        worker = threading.Thread(target=send)
        worker.start()
        wait_until(lambda: server.received, 30, "the relay to take the message")
        cancel.set()
        worker.join(timeout=TIMEOUT)
        assert not worker.is_alive(), "the send pass did not end at the stop event"
    assert reports[0].retry == ["d@example.org immediate:1"]
    (delivery,) = ledger.store.deliveries(limit=5)
    assert delivery.status == "pending" and delivery.uncertain == 1
    assert "process stopped before its final reply" in (delivery.last_error or "")
    assert ledger.store.transport_health().failing_since is None  # a stop is no relay fault
    # the next pass (a relay that answers) sends it once more — the one possible duplicate
    with running_smtp_server() as server2:
        later = kst(27, 14).astimezone(dt.UTC)
        with SmtpTransport(dataclasses.replace(ledger.config.mail.smtp, port=server2.port)) as smtp:
            report = outbox.send_due(ledger.config, ledger.store, smtp, THEMES, now=lambda: later)
        assert report.sent == ["d@example.org immediate:1"] and len(server2.received) == 1


def test_sigterm_while_the_relay_holds_its_final_reply_stops_within_the_timeout(
    tmp_path: Path, make_site: Callable[..., SiteServer]
) -> None:
    site = make_site(mode="dynamic", cookie_gate=False)
    site.publish(1, "A Release", "2026-06-01", "1. Text.")
    with running_smtp_server(final_reply_delay=HELD) as server:
        ledger = seeded(tmp_path, server, site)
        ledger.store.close()
        log = tmp_path / "service.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "--config", str(ledger.config.path), "run"],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        try:
            wait_until(lambda: server.received, 60, "the relay to take the message")
            signalled = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=HELD / 2)
            took = time.monotonic() - signalled
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    output = log.read_text(errors="replace")
    assert code == 0, output
    assert took < TIMEOUT, f"exit took {took:.1f} s after SIGTERM\n{output}"
    assert "Traceback" not in output
    status = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(ledger.config.path), "status"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert "pending (uncertain) d@example.org immediate:1" in status.stdout, status.stdout
