"""``mofa-monitor run`` as a real process against the local site: mail, reload, signals, health.

Each test starts the service in a subprocess with a 2 s poll interval and a Maildir, changes the
world (publishes releases, edits the config, breaks the site) and waits — with a deadline, never
a fixed sleep — for the effect to show in the Maildir, the log or the HTTP endpoint.
"""

from __future__ import annotations

import email
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sitekit import SiteServer

LIST_PATH = "/eng/brd/m_5676/list.do"
_next_seq = iter(range(900_001, 999_999))


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.1)


def publish(site: SiteServer, title: str) -> int:
    """Put a new release at the top of the board; returns its seq."""
    seq = next(_next_seq)
    site.publish(
        seq,
        title,
        "2026-11-27",
        f"1. {title}, the Ministry announced today.\n2. Further details follow.",
    )
    return seq


class Service:
    """One ``mofa-monitor run`` subprocess with its config, log file and Maildir."""

    def __init__(self, tmp_path: Path, site: SiteServer, port: int | None, extra: str = "") -> None:
        self.dir = tmp_path
        self.site = site
        self.port = port
        self.extra = extra
        self.config = tmp_path / "config.toml"
        self.maildir = tmp_path / "mail"
        self.log = tmp_path / "service.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def config_text(self, subscribers: list[tuple[str, str]], padding: int = 0) -> str:
        listen = f'listen = "127.0.0.1:{self.port}"\n' if self.port else ""
        subs = "".join(
            f'\n[[subscribers]]\nemail = "{address}"\nfrequency = "{frequency}"\n'
            for address, frequency in subscribers
        )
        return (
            f'[service]\nstate_dir = "state"\nrequest_delay = "0s"\n{listen}{self.extra}\n'
            f'[[sources]]\nid = "mofa-en"\nurl = "{self.site.list_url()}"\nevery = "2s"\n\n'
            '[mail]\nfrom = "MOFA Monitor <monitor@example.org>"\ntransport = "maildir"\n'
            f'maildir = "mail"\n{self._unsubscribe_url()}{subs}' + "#" * padding
        )

    def _unsubscribe_url(self) -> str:
        return (
            f'unsubscribe_url = "http://127.0.0.1:{self.port}/unsubscribe"\n' if self.port else ""
        )

    def write(self, text: str) -> None:
        self.config.write_text(text)

    def start(self) -> Service:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "--config", str(self.config), "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
            )
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        """:func:`wait_for`, failing with the tail of the service's log."""
        try:
            return wait_for(predicate, timeout, what)
        except AssertionError as exc:
            tail = "\n".join(self.output.splitlines()[-25:])
            raise AssertionError(f"{exc}\n--- service log (tail) ---\n{tail}") from None

    def wait_log(self, text: str, timeout: float = 15, count: int = 1) -> None:
        self.wait(
            lambda: self.output.count(text) >= count, timeout, f"{text!r} ×{count} in the log"
        )

    def wait_baseline(self) -> None:
        self.wait_log("(baseline, not mailed)")

    def mails(self, to: str) -> list[EmailMessage]:
        folder = self.maildir / "new"
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime_ns):
            message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
            if str(message["To"]).endswith(to):
                found.append(message)
        return found  # type: ignore[return-value]

    def wait_mails(self, to: str, count: int, timeout: float = 15) -> list[EmailMessage]:
        return self.wait(
            lambda: len(m := self.mails(to)) >= count and m, timeout, f"{count} mail(s) to {to}"
        )

    def http(self, path: str, data: bytes | None = None) -> tuple[int, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
        except OSError:
            return 0, ""  # not listening yet


@pytest.fixture
def start_service(tmp_path: Path, live_site: SiteServer) -> Iterator[Callable[..., Service]]:
    """Factory: write the config and start ``run``; the process is always killed afterwards."""
    started: list[Service] = []

    def factory(
        subscribers: list[tuple[str, str]], *, port: int | None = None, extra: str = ""
    ) -> Service:
        service = Service(tmp_path, live_site, port, extra)
        service.write(service.config_text(subscribers))
        started.append(service.start())
        return service

    yield factory
    for service in started:
        service.kill()


def all_text(message: EmailMessage) -> str:
    return "\n".join(
        part.get_content() for part in message.walk() if part.get_content_maintype() == "text"
    )


class TestDeliveryAndReload:
    def test_news_reload_invalid_edit_sighup_and_sigterm(
        self, start_service: Callable[..., Service], live_site: SiteServer
    ) -> None:
        """The service mails news, adopts config edits at once, survives bad ones, stops on TERM."""
        desk = ("desk@example.org", "immediate")
        svc = start_service([desk])
        svc.wait_baseline()
        assert svc.mails("desk@example.org") == []  # the first poll is a silent baseline

        publish(live_site, "Minister Meets Counterpart on Trade Cooperation")
        first = svc.wait_mails("desk@example.org", 1)[0]
        assert "Minister Meets Counterpart on Trade Cooperation" in all_text(first)

        # A subscriber added while running gets the next news.
        nk = ("nk@example.org", "immediate")
        svc.write(svc.config_text([desk, nk]))
        svc.wait_log("config reloaded")
        publish(live_site, "Statement on Humanitarian Aid to Earthquake Victims")
        assert "Earthquake" in all_text(svc.wait_mails("nk@example.org", 1)[0])

        # An invalid edit is logged field by field; the last good config keeps mailing.
        invalid = svc.config_text([desk, nk, ("bad@example.org", "hourly")], padding=40)
        svc.write(invalid)
        svc.wait_log(
            f"{svc.config}: subscribers.3.frequency: must be one of immediate, daily, weekly"
        )
        assert "invalid edit ignored, still running the last good config" in svc.output
        publish(live_site, "Vice Minister Attends ASEAN Regional Forum")
        svc.wait_mails("desk@example.org", 3)

        # SIGHUP reloads even when the file's size and timestamp look unchanged.
        stamp = svc.config.stat()
        late = ("late@example.org", "immediate")
        valid = svc.config_text([desk, nk, late])
        svc.write(valid + "#" * (len(invalid) - len(valid)))
        os.utime(svc.config, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        assert svc.config.stat().st_size == stamp.st_size
        assert svc.proc is not None
        svc.proc.send_signal(signal.SIGHUP)
        svc.wait_log("reload requested")
        svc.wait_log("config reloaded", count=2)
        publish(live_site, "Korea Hosts Conference on AI Governance")
        svc.wait_mails("late@example.org", 1)

        # SIGTERM: the job in flight finishes, everything closes, exit 0 promptly.
        started = time.monotonic()
        svc.proc.send_signal(signal.SIGTERM)
        assert svc.proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        assert "service stopped" in svc.output
        assert "Traceback" not in svc.output


class TestHealthAlertsAndLock:
    def test_outage_turns_healthz_503_with_one_alert_and_one_recovery(
        self, start_service: Callable[..., Service], live_site: SiteServer, free_port: int
    ) -> None:
        """Site down → 503 and one admin alert; site back → 200 and one recovery mail."""
        svc = start_service(
            [("desk@example.org", "immediate")],
            port=free_port,
            extra='admin_email = "ops@example.org"\n',
        )
        svc.wait_baseline()
        svc.wait(lambda: svc.http("/healthz")[0] == 200, 10, "/healthz 200")
        _, body = svc.http("/healthz")
        assert json.loads(body)["sources"]["mofa-en"]["consecutive_failures"] == 0

        _, text = svc.http("/metrics")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["mofa_monitor_polls"].samples[0].value >= 1
        assert "mofa_monitor_last_success_timestamp_seconds" in families

        live_site.fault(LIST_PATH, 404, times=None)  # not retried by the fetcher: fast failures
        svc.wait(lambda: svc.http("/healthz")[0] == 503, 15, "/healthz 503")
        _, body = svc.http("/healthz")
        assert "source mofa-en: no successful poll since" in json.loads(body)["reasons"][0]
        alert = svc.wait_mails("ops@example.org", 1)[0]
        assert "mofa-en is DOWN" in str(alert["Subject"])

        live_site.clear_faults()
        svc.wait(lambda: svc.http("/healthz")[0] == 200, 15, "/healthz 200 again")
        mails = svc.wait_mails("ops@example.org", 2)
        assert "recovered" in str(mails[1]["Subject"])
        polls = svc.output.count("source mofa-en: 0 new")
        svc.wait_log("source mofa-en: 0 new", count=polls + 2)  # two more healthy polls...
        assert len(svc.mails("ops@example.org")) == 2  # ...and still exactly two admin mails
        assert len(svc.mails("desk@example.org")) == 0  # operators' trouble is not news

    def test_second_instance_is_refused_naming_the_pid(
        self, start_service: Callable[..., Service]
    ) -> None:
        """``run`` and ``run-once`` on the same state exit 1 and say which process holds it."""
        svc = start_service([("desk@example.org", "immediate")])
        svc.wait_baseline()
        assert svc.proc is not None
        for command in ("run", "run-once"):
            done = subprocess.run(
                [sys.executable, "-m", "monitor", "--config", str(svc.config), command],
                capture_output=True,
                text=True,
                timeout=30,
                cwd=svc.dir,
            )
            assert done.returncode == 1, done.stderr
            assert f"PID {svc.proc.pid}" in done.stderr
        assert svc.proc.poll() is None  # the first one keeps running


class TestUnsubscribe:
    def test_post_stops_the_next_digest_but_get_does_not(
        self, start_service: Callable[..., Service], live_site: SiteServer, free_port: int
    ) -> None:
        """A link scanner's GET changes nothing; the confirmation POST suppresses the reader."""
        svc = start_service(
            [("desk@example.org", "immediate"), ("control@example.org", "immediate")],
            port=free_port,
        )
        svc.wait_baseline()
        publish(live_site, "Foreign Minister Visits Seoul Peace Forum")
        first = svc.wait_mails("desk@example.org", 1)[0]
        link = re.search(r"<(http://[^>]+)>", str(first["List-Unsubscribe"]))
        assert link is not None
        path = link.group(1).removeprefix(f"http://127.0.0.1:{svc.port}")
        token = path.partition("token=")[2]

        status, page = svc.http(path)
        assert status == 200 and '<form method="post">' in page
        publish(live_site, "Ministry Issues Travel Advisory for Region")
        svc.wait_mails("desk@example.org", 2)

        status, _ = svc.http("/unsubscribe", data=f"t={token}".encode())
        assert status == 200
        publish(live_site, "Korea Joins Climate Finance Initiative")
        svc.wait_mails("control@example.org", 3)
        assert len(svc.mails("desk@example.org")) == 2


class TestStartupFailures:
    def test_busy_listen_port_exits_1_with_a_message(
        self, start_service: Callable[..., Service], free_port: int
    ) -> None:
        """A port already taken is a clear error at start, not a half-running service."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", free_port))
            taken.listen()
            svc = start_service([], port=free_port)
            assert svc.proc is not None
            assert svc.proc.wait(timeout=30) == 1
        assert f"cannot listen on 127.0.0.1:{free_port} ([service] listen)" in svc.output
