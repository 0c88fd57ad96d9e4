"""SIGKILL at random moments of ``run-once`` and ``run``, then a clean rerun: count lost and doubled mail.

The promise (README, "Delivery"): with a Maildir nothing is lost and nothing is doubled; over
SMTP nothing is lost and a kill can double at most the one message that was on the wire.

Each round publishes one release on the local site (every subscriber follows everything, so
each must get it), starts the real CLI in a subprocess and kills it with SIGKILL when an event
is *observed* — never after a fixed sleep:

- ``mail``: the sink (the Maildir, or the aiosmtpd server in this process) has received a
  random number of this round's digests, so the kill lands in the middle of the sending loop;
- ``poll``: the site has answered the request for the new article, so the kill lands while the
  release is parsed, stored, tagged and planned.

After the last round one clean ``run-once`` must finish the work. Then every (subscriber,
release) pair is counted across everything the sink received. A scenario also fails if no kill
interrupted a send (the test would prove nothing).
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from itertools import count
from pathlib import Path
from typing import Literal

import pytest
from faultkit import MaildirSink, SmtpSink, Tally, cli, cli_args, rng, scale, wait_for
from sitekit import SiteServer

from monitor.config import load_config
from monitor.schedule.app import App

from smtp_server import SmtpTestServer

READERS = [f"reader{i:02d}@example.org" for i in range(20)]
_seq = count(700_001)


def write_config(tmp_path: Path, site: SiteServer, mail: str) -> Path:
    subscribers = "".join(
        f'\n[[subscribers]]\nemail = "{address}"\nfrequency = "immediate"\n'
        f'format = "{"text" if i % 2 else "html"}"\n'
        for i, address in enumerate(READERS)
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[service]
state_dir = "state"
request_delay = "0s"
timeout = "5s"

[[sources]]
id = "mofa-en"
url = "{site.list_url()}"
every = "1h"

[mail]
from = "MOFA Monitor <monitor@example.org>"
{mail}
{subscribers}
""",
        encoding="utf-8",
    )
    return path


def unfinished(state: Path) -> int:
    """Deliveries planned but neither sent nor failed for good (read straight from SQLite)."""
    with sqlite3.connect(f"file:{state / 'monitor.sqlite3'}?mode=ro", uri=True) as db:
        return int(
            db.execute("SELECT count(*) FROM deliveries WHERE status = 'pending'").fetchone()[0]
        )


def kill_rounds(
    tmp_path: Path,
    site: SiteServer,
    sink: MaildirSink | SmtpSink,
    mail: str,
    command: Literal["run-once", "run"],
    tally: Tally,
    rounds: int,
) -> dict[str, set[int]]:
    """Run ``rounds`` kill rounds and the clean rerun; return who must have got which seqs."""
    rand, _ = rng(tally.scenario)
    config = write_config(tmp_path, site, mail)
    with App(load_config(config)) as app:  # the silent baseline (in-process: saves a start-up)
        app.tick()
    expected: dict[str, set[int]] = {address: set() for address in READERS}
    log = tmp_path / "kills.log"
    for number in range(rounds):
        seq = next(_seq)
        site.publish(
            seq,
            f"Minister Holds Talks on Regional Security Cooperation ({seq})",
            "2026-11-27",
            f"1. The Minister held talks on security cooperation (release {seq}).\n"
            "2. Both sides agreed to meet again.",
        )
        for address in READERS:
            expected[address].add(seq)
        before = sink.count()
        # The first round always kills mid-send, so every run has at least one such kill.
        event = "mail" if number == 0 else rand.choice(["mail", "mail", "mail", "poll"])
        target = before + rand.randint(1, len(READERS) - 1)
        article = f"/eng/brd/m_5676/view.do?seq={seq}"

        def observed(event: str = event, target: int = target, article: str = article) -> bool:
            if event == "mail":
                return sink.count() >= target
            return bool(site.requests_to(article))

        with open(log, "ab") as out:
            process = subprocess.Popen(
                cli_args(config, command), cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            wait_for(
                lambda process=process: observed() or process.poll() is not None,
                60,
                f"{event} event of round {number + 1}",
                step=0.001,
            )
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                tally.kills += 1
        finally:
            process.kill()
            process.wait(timeout=10)
        if tally.kills > len(tally.kill_marks):  # this round's process was killed
            tally.mark_kill(sink.count())
        if event == "mail" and sink.count() > before and unfinished(tmp_path / "state") > 0:
            tally.interrupted_sends += 1
    final = cli(config, "run-once")
    assert final.returncode == 0, final.stdout + final.stderr
    assert unfinished(tmp_path / "state") == 0, cli(config, "status").stdout
    return expected


@pytest.mark.parametrize("command", ["run-once", "run"])
def test_sigkill_with_maildir_loses_and_doubles_nothing(
    tmp_path: Path, live_site: SiteServer, command: Literal["run-once", "run"]
) -> None:
    live_site.seed_from_corpus(limit=10)
    _, seed = rng("seed")
    tally = Tally(f"sigkill {command} maildir", seed)
    sink = MaildirSink(tmp_path / "mail")
    expected = kill_rounds(
        tmp_path,
        live_site,
        sink,
        'transport = "maildir"\nmaildir = "mail"',
        command,
        tally,
        rounds=scale(1, 40),
    )
    tally.count(sink.mails(), expected)
    tally.report()
    assert tally.interrupted_sends >= 1, "no kill interrupted a send: the test proved nothing"
    assert tally.lost == 0, tally
    assert tally.duplicates == 0, tally


@pytest.mark.parametrize("command", ["run-once", "run"])
def test_sigkill_over_smtp_loses_nothing_and_doubles_at_most_one_per_kill(
    tmp_path: Path,
    live_site: SiteServer,
    smtp_server: SmtpTestServer,
    command: Literal["run-once", "run"],
) -> None:
    live_site.seed_from_corpus(limit=10)
    _, seed = rng("seed")
    tally = Tally(f"sigkill {command} smtp", seed)
    sink = SmtpSink(smtp_server)
    mail = (
        f'transport = "smtp"\n[mail.smtp]\nhost = "{smtp_server.host}"\n'
        f'port = {smtp_server.port}\ntimeout = "5s"\n'
    )
    expected = kill_rounds(tmp_path, live_site, sink, mail, command, tally, rounds=scale(1, 40))
    mails = sink.mails()
    tally.count(mails, expected)
    tally.attribute(mails)
    tally.report()
    assert tally.interrupted_sends >= 1, "no kill interrupted a send: the test proved nothing"
    assert tally.lost == 0, tally
    assert tally.pairs_in_two_messages == 0, tally  # no release planned twice for a reader
    assert tally.duplicates <= tally.kills, tally  # repeated messages only, one per kill at most
    assert tally.most_duplicates_per_kill <= 1, tally
    assert not tally.notes, tally  # every repeat is explained by a kill
