"""``mofa-monitor demo``: the whole pipeline, offline, in a minute, for someone trying the tool.

It serves real press releases bundled with the package from a local copy of the ministry's board
on 127.0.0.1, polls a baseline (never mailed), publishes the newest releases as "news", polls
again, and delivers each demo subscriber's digest into a Maildir — the same code paths as the
service, against a fresh ``./demo-state/``.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import TextIO

from monitor.config import DEFAULT_SOURCE_URL, load_config
from monitor.errors import MonitorError
from monitor.localsite import SiteServer
from monitor.schedule.app import App

MARKER = ".mofa-monitor-demo"
MINISTRY = "https://www.mofa.go.kr"
NEXT_STEPS = ("releases", "subscribers", "status")
NEWS = 6  # how many of the bundled releases arrive as news after the baseline

CONFIG = """\
# Written by `mofa-monitor demo`; try: mofa-monitor --config {config} releases
[service]
state_dir = "."
request_delay = "0s"
{note}
[[sources]]
id = "demo-board"
kind = "mofa-board"
url = "{url}"
every = "1m"
enabled = {enabled}

[mail]
from = "MOFA Monitor demo <monitor@localhost>"
transport = "maildir"
maildir = "outbox"

[[subscribers]]
email = "desk@example.org"
name = "News desk (everything, immediately)"
frequency = "immediate"

[[subscribers]]
email = "peninsula@example.org"
name = "Peninsula watcher"
themes = ["north-korea", "sanctions", "security-defense"]
frequency = "immediate"

[[subscribers]]
email = "aid@example.org"
name = "Aid researcher (plain text)"
themes = ["humanitarian-aid", "climate-environment"]
frequency = "immediate"
format = "text"
"""


def _fresh_dir(folder: Path) -> None:
    """Empty a previous demo folder; refuse to touch a folder the demo did not create."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise MonitorError(
                f"{folder} exists and is not a demo folder; pass --dir to choose another"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("created by mofa-monitor demo\n", encoding="utf-8")


#: After the demo, the source points at the real board, disabled: the local copy is gone.
AFTER_NOTE = """
# The demo's local copy of the ministry's board ran only while the demo did. This source now
# names the real board and is disabled, so the commands the demo suggested work offline and
# nothing retries a dead port. To follow the ministry itself, start from config.example.toml
# with its own state folder (this one's history is the demo's, not the board's).
"""


def run_demo(folder: Path, *, out: TextIO) -> int:
    """Run the demo into ``folder`` and tell the user what happened and where to look.

    The bundled releases are the ministry's own, so once stored their links are pointed at
    www.mofa.go.kr: the local board stops with the demo, and digests must not link to a dead port.
    """
    _fresh_dir(folder)
    config_path = folder / "config.toml"
    with SiteServer(cookie_gate=True) as site:
        releases = site.seed_from_corpus()
        news, older = releases[:NEWS], releases[NEWS:]
        site.seed(older)
        config_path.write_text(
            CONFIG.format(url=site.list_url(), config=config_path, enabled="true", note=""),
            encoding="utf-8",
        )
        config = load_config(config_path)
        print(f"Local copy of the ministry's board: {site.list_url()}", file=out)
        with App(config) as app:
            first = app.tick()
            app.store.rebase_urls(site.base_url, MINISTRY)
            print(
                f"1. Baseline poll: {first.poll.new_count if first.poll else 0} releases stored, none mailed.",
                file=out,
            )
            for release in reversed(news):
                site.publish(
                    release.seq,
                    release.title,
                    release.date,
                    release.body,
                    attachments=release.attachments,
                )
            # One tick, with the links rebased between polling and mailing.
            poll = app.poller.poll_all()
            app.store.rebase_urls(site.base_url, MINISTRY)
            _planned, report = app.plan_and_send(poll_run=poll.run_id)
            stored = app.store.releases(limit=NEWS)
    config_path.write_text(
        CONFIG.format(url=DEFAULT_SOURCE_URL, config=config_path, enabled="false", note=AFTER_NOTE),
        encoding="utf-8",
    )
    sent = report.sent
    print(f"2. The ministry publishes {len(news)} releases; the next poll stores them:", file=out)
    for shown in stored:
        print(
            f"   {shown.date}  {shown.id:<14} [{', '.join(shown.theme_ids) or '-'}] {shown.title[:70]}",
            file=out,
        )
    print(f"3. {len(sent)} digest(s) delivered into the Maildir {config.maildir}:", file=out)
    for path in sorted((config.maildir / "new").iterdir()):
        to = _header(path, "To")
        print(f"   {to:<24} {path}", file=out)
    example = max(stored, key=lambda r: len(r.themes)).id if stored else "ID"
    command = f"mofa-monitor --config {shlex.quote(str(config_path))}"
    print(
        "\nThe local board has stopped; these commands read what the demo stored:",
        *(f"  {command} {step}" for step in NEXT_STEPS),
        f"  {command} explain {example}",
        "Each digest is a plain e-mail file in the Maildir above; open one with any mail reader.",
        sep="\n",
        file=out,
    )
    return 0


def _header(path: Path, name: str) -> str:
    """One header of a stored message, for the summary."""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line:
            break
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return "?"
