"""Broken configs while ``run`` is running: the service keeps its last good config.

One ``run`` subprocess (Maildir, health endpoint) lives through a series of bad edits — TOML
syntax, a wrong field, an unusable URL, an empty file, a deleted file, a changed ``state_dir`` —
and, after each, must: log the problem as one line per field, keep polling and mailing (a
release published while the file is broken reaches the reader exactly once), answer 200 on
``/healthz``, and let ``status`` and ``releases`` answer with the last good config while saying
the file is invalid. A good edit then applies at once. Every wait is for an observed event
(a log line, a mail), never a fixed sleep.
"""

from __future__ import annotations

import re
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import FULL, MaildirSink, Tally, cli, cli_args, rng, wait_for
from sitekit import SiteServer

READER = "desk@example.org"
LATE = "late@example.org"


def good_config(site: SiteServer, port: int, readers: list[str]) -> str:
    subscribers = "".join(
        f'\n[[subscribers]]\nemail = "{r}"\nfrequency = "immediate"\nformat = "text"\n'
        for r in readers
    )
    return (
        f'[service]\nstate_dir = "state"\nrequest_delay = "0s"\ntimeout = "3s"\n'
        f'listen = "127.0.0.1:{port}"\n\n'
        f'[[sources]]\nid = "mofa-en"\nurl = "{site.list_url()}"\nevery = "1s"\njitter = "0s"\n\n'
        '[mail]\nfrom = "MOFA Monitor <monitor@example.org>"\ntransport = "maildir"\n'
        f'maildir = "mail"\n{subscribers}'
    )


BAD_EDITS = {
    "TOML syntax error": lambda good: good + "\n[[subscribers]\n",
    "unknown frequency": lambda good: good.replace(
        'frequency = "immediate"', 'frequency = "hourly"', 1
    ),
    "source URL with port 99999": lambda good: re.sub(
        r'url = "http://127\.0\.0\.1:\d+', 'url = "http://127.0.0.1:99999', good
    ),
    "empty file": lambda good: "",
    "state_dir changed": lambda good: good.replace(
        'state_dir = "state"', 'state_dir = "elsewhere"'
    ),
}
SHORT_RUN_EDITS = ("TOML syntax error", "source URL with port 99999", "file deleted")


@pytest.fixture
def service(
    tmp_path: Path, live_site: SiteServer, free_port: int
) -> Iterator[subprocess.Popen[bytes]]:
    live_site.seed_from_corpus(limit=5)
    config = tmp_path / "config.toml"
    config.write_text(good_config(live_site, free_port, [READER]), encoding="utf-8")
    with open(tmp_path / "service.log", "wb") as log:
        process = subprocess.Popen(
            cli_args(config, "run"), cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def test_bad_edits_during_run_keep_the_last_good_config(
    tmp_path: Path, live_site: SiteServer, free_port: int, service: subprocess.Popen[bytes]
) -> None:
    _, seed = rng("config")
    tally = Tally("broken configs during run", seed)
    config, log, sink = (
        tmp_path / "config.toml",
        tmp_path / "service.log",
        MaildirSink(tmp_path / "mail"),
    )
    good = config.read_text()

    def output() -> str:
        return log.read_text(errors="replace")

    def healthz() -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{free_port}/healthz", timeout=5) as r:
                return r.status
        except OSError as exc:
            return getattr(exc, "code", 0)

    wait_for(lambda: "(baseline, not mailed)" in output(), 30, "the baseline poll")
    expected: set[int] = set()
    edits = [*BAD_EDITS.items(), ("file deleted", None)]
    if not FULL:  # the short run: one edit of each sort (syntax, validation, file gone)
        edits = [e for e in edits if e[0] in SHORT_RUN_EDITS]
    for number, (name, edit) in enumerate(edits):
        ignored = output().count("invalid edit ignored") + output().count(
            "cannot change while running"
        )
        if edit is None:
            config.unlink()
        else:
            config.write_text(edit(good), encoding="utf-8")
        wait_for(
            lambda ignored=ignored: (
                output().count("invalid edit ignored")
                + output().count("cannot change while running")
                > ignored
            ),
            15,
            f"the service to refuse the edit '{name}'",
        )
        tally.faults += 1
        seq = 830_001 + number
        live_site.publish(
            seq,
            f"Statement on Regional Cooperation ({name})",
            "2026-11-27",
            "1. The Ministry issued a statement.\n2. Details follow.",
        )
        expected.add(seq)
        wait_for(
            lambda seq=seq: any(seq in m.seqs for m in sink.mails()),
            20,
            f"the release published after '{name}' to be mailed",
        )
        assert healthz() == 200, name
        assert service.poll() is None, f"the service stopped after '{name}'"
        # The read-only commands' fallback has its own tests; here once (each edit when full).
        if edit is not None and name != "state_dir changed" and (FULL or number == 0):
            status = cli(config, "status")
            assert status.returncode == 0, status.stderr
            assert status.stdout.startswith("config: INVALID — "), status.stdout
            assert "releases stored:" in status.stdout
            releases = cli(config, "releases")
            assert releases.returncode == 0 and str(seq) in releases.stdout, releases

    # A good edit is adopted at once: the new reader gets the next release.
    config.write_text(good_config(live_site, free_port, [READER, LATE]), encoding="utf-8")
    wait_for(lambda: "config reloaded" in output(), 15, "the good edit to apply")
    final = 830_100
    live_site.publish(
        final, "Korea Hosts Conference on Cooperation", "2026-11-27", "1. Text.\n2. More."
    )
    expected.add(final)
    wait_for(
        lambda: any(final in m.seqs and m.to == LATE for m in sink.mails()),
        20,
        "mail to the new reader",
    )
    assert cli(config, "status").stdout.startswith("mofa-en (mofa-board)")
    # The reload stored the new config as the last good one: readers see the new subscriber.
    config.write_text(good_config(live_site, free_port, [READER, LATE]) + "\n[oops\n")
    preview = cli(config, "preview", "--subscriber", LATE)
    assert preview.returncode == 0, preview.stderr
    assert "answering with the last good config" in preview.stderr

    service.send_signal(signal.SIGTERM)
    assert service.wait(timeout=15) == 0
    assert "Traceback" not in output()
    tally.count([m for m in sink.mails() if m.to == READER], {READER: expected})
    tally.report()
    assert tally.lost == 0 and tally.duplicates == 0, tally
