"""One unit of work: ``run`` and ``run-once`` mail the same thing (issue 9, phase B).

Two sources (two boards of the local site) publish one release each at the same instant. The
service polls both sources in one tick, like ``run-once``, so each mails ONE immediate digest
holding both releases — before, the service ran one tick per source and mailed two.
"""

from __future__ import annotations

import email
import subprocess
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from monitor.cli.parser import main
from monitor.localsite.server import SiteServer


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)
    return result


BOARDS = ("m_5676", "m_5679")


def config_text(site: SiteServer, every: str = "2s") -> str:
    sources = "".join(
        f'[[sources]]\nid = "{board.replace("_", "-")}"\nurl = "{site.list_url(board)}"\nevery = "{every}"\n\n'
        for board in BOARDS
    )
    return (
        '[service]\nstate_dir = "state"\nrequest_delay = "0s"\n\n'
        f"{sources}"
        '[mail]\nfrom = "MOFA Monitor <monitor@example.org>"\ntransport = "maildir"\n'
        'maildir = "mail"\n\n[[subscribers]]\nemail = "reader@example.org"\n'
        'frequency = "immediate"\n'
    )


def mails(folder: Path) -> list[EmailMessage]:
    new = folder / "mail" / "new"
    paths = sorted(new.iterdir(), key=lambda p: p.stat().st_mtime_ns) if new.is_dir() else []
    return [
        email.message_from_bytes(p.read_bytes(), policy=default_policy)  # type: ignore[misc]
        for p in paths
    ]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.fixture
def two_boards(live_site: SiteServer) -> SiteServer:
    live_site.publish(
        800_001, "Briefing already online", "2026-11-20", "1. Old news.", board="m_5679"
    )
    return live_site


def test_run_and_run_once_mail_the_same_one_digest_for_two_sources(
    tmp_path: Path, two_boards: SiteServer, capsys: pytest.CaptureFixture[str]
) -> None:
    once, service = tmp_path / "once", tmp_path / "service"
    for folder in (once, service):
        folder.mkdir()
        # 8 s: the news is published right after the baseline tick, well before the next one
        # (a tick in progress could see one board before and the other after the publication)
        (folder / "config.toml").write_text(config_text(two_boards, every="8s"))

    # run-once: baseline first (nothing mailed) — in process, no subprocess needed
    assert main(["--config", str(once / "config.toml"), "run-once"]) == 0
    # run: its first tick is the baseline of both sources
    log = service / "service.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(service / "config.toml"), "run"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=service,
        )
    try:
        wait_for(
            lambda: log.read_text().count("(baseline, not mailed)") >= 2,
            20,
            "the service's baseline of both sources",
        )
        with two_boards.at_once():
            two_boards.publish(900_101, "Release on the first board", "2026-11-27", "1. First.")
            two_boards.publish(
                900_102, "Briefing on the second board", "2026-11-27", "1. Second.", board="m_5679"
            )
        assert main(["--config", str(once / "config.toml"), "run-once"]) == 0
        wait_for(lambda: mails(service), 20, "the service's immediate digest")
        # one more poll of both sources (the next tick) must not add a second digest
        count = log.read_text().count(" page(s)")
        wait_for(lambda: log.read_text().count(" page(s)") >= count + 2, 30, "two more polls")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    capsys.readouterr()

    by_once, by_service = mails(once), mails(service)
    assert len(by_once) == 1, [m["Subject"] for m in by_once]
    assert len(by_service) == 1, [m["Subject"] for m in by_service]
    for message in (by_once[0], by_service[0]):
        body = text_of(message)
        assert "Release on the first board" in body
        assert "Briefing on the second board" in body
    assert by_once[0]["Subject"] == by_service[0]["Subject"]
