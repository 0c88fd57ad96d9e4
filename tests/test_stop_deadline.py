"""Stopping honours the configured timeout, even while a server trickles its answer.

A read timeout bounds each read, not the answer: a server sending one byte every 0.2 s never
trips it. These tests serve such answers from 127.0.0.1 (headers that never end, a body that
never ends), and check that a fetch ends at its total deadline and that SIGTERM stops the
service within the configured timeout — the signal is sent once the server has observed the
request arriving, never after a fixed sleep.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sitekit import SiteServer

from monitor.errors import FetchError
from monitor.fetch.http import Fetcher, FetchInterrupted, FetchSettings

LIST = "/eng/brd/m_5676/list.do"
TIMEOUT = 3.0  # the configured [service] timeout, seconds
TRICKLES = ["trickle_headers", "trickle_body"]


def wait_until(predicate: Callable[[], object], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:g}s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def site(make_site: Callable[..., SiteServer]) -> SiteServer:
    server = make_site(mode="dynamic", cookie_gate=False)
    server.publish(1, "A Release", "2026-06-01", "1. Text.")
    return server


@pytest.mark.parametrize("kind", TRICKLES)
def test_a_fetch_ends_at_its_total_deadline(site: SiteServer, kind: str) -> None:
    """Each byte comes well within the read timeout; the answer as a whole does not."""
    site.fault(LIST, kind, times=None, delay=0.2)
    settings = FetchSettings("test-agent", read_timeout=1.0, retries=0, request_delay=0)
    with Fetcher(settings) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"timed out \(no complete answer within 1 s\)"):
            fetcher.get(site.list_url())
        assert time.monotonic() - started < 1.0 + 1.0  # the deadline, plus the watcher's tick


@pytest.mark.parametrize("kind", TRICKLES)
def test_cancel_ends_the_fetch_in_flight_at_once(site: SiteServer, kind: str) -> None:
    """The service's stop event shuts the socket down: no waiting for any timeout."""
    site.fault(LIST, kind, times=None, delay=0.2)
    cancel = threading.Event()
    settings = FetchSettings("test-agent", read_timeout=60.0, retries=3, request_delay=0)
    outcome: list[BaseException] = []

    def fetch() -> None:
        with Fetcher(settings, cancel=cancel) as fetcher:
            try:
                fetcher.get(site.list_url())
            except BaseException as exc:  # collected for the assertion below
                outcome.append(exc)

    worker = threading.Thread(target=fetch)
    worker.start()
    wait_until(lambda: site.requests_to(LIST), 10, "the request to arrive")
    cancel.set()
    worker.join(timeout=TIMEOUT)
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], FetchInterrupted)


def test_cancel_ends_a_retry_after_wait_at_once(site: SiteServer) -> None:
    """A 503 asking for 60 s (under the cap, so waited out within the poll) is not waited out
    when the process stops: the wait itself is interruptible."""
    site.fault(LIST, 503, retry_after=60, times=None)
    cancel = threading.Event()
    settings = FetchSettings("test-agent", retries=3, request_delay=0)
    outcome: list[BaseException] = []

    def fetch() -> None:
        with Fetcher(settings, cancel=cancel) as fetcher:
            try:
                fetcher.get(site.list_url())
            except BaseException as exc:  # collected for the assertion below
                outcome.append(exc)

    worker = threading.Thread(target=fetch)
    worker.start()
    wait_until(lambda: site.requests_to(LIST), 10, "the 503 to be served")
    cancel.set()
    worker.join(timeout=TIMEOUT)
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], FetchInterrupted)


def write_config(tmp_path: Path, site: SiteServer) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[service]
state_dir = "state"
request_delay = "0s"
timeout = "{TIMEOUT:g}s"
respect_robots = false

[[sources]]
id = "src"
url = "{site.list_url()}"
every = "60s"

[mail]
from = "MOFA Monitor <monitor@example.org>"
transport = "maildir"
maildir = "mail"
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("kind", TRICKLES)
def test_sigterm_during_a_trickling_answer_stops_within_the_timeout(
    site: SiteServer, tmp_path: Path, kind: str
) -> None:
    site.fault(LIST, kind, times=None, delay=0.2)
    config = write_config(tmp_path, site)
    log = tmp_path / "service.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        wait_until(lambda: site.requests_to(LIST), 30, "the service's request to arrive")
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    output = log.read_text(errors="replace")
    assert code == 0, output
    assert took < TIMEOUT, f"exit took {took:.1f} s after SIGTERM\n{output}"
    assert "Traceback" not in output
