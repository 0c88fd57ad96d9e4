"""``mofa-monitor demo``: the whole pipeline, offline, in a minute, for someone trying the tool.

It serves real press releases bundled with the package from a local copy of the ministry's board
on 127.0.0.1, polls a baseline (never mailed), publishes the newest releases as "news", polls
again, and delivers each demo subscriber's digest into a Maildir — the same code paths as the
service, against a fresh ``./demo-state/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TextIO

from monitor.app import App
from monitor.config import load_config
from monitor.errors import MonitorError
from monitor.localsite import SiteServer

MARKER = ".mofa-monitor-demo"
NEWS = 6  # how many of the bundled releases arrive as news after the baseline

CONFIG = """\
# Written by `mofa-monitor demo`; try: mofa-monitor --config {config} releases
[service]
state_dir = "."
request_delay = "0s"

[[sources]]
id = "demo-board"
kind = "mofa-board"
url = "{url}"
every = "1m"

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


def run_demo(folder: Path, *, out: TextIO) -> int:
    """Run the demo into ``folder`` and tell the user what happened and where to look."""
    _fresh_dir(folder)
    with SiteServer(mode="dynamic", cookie_gate=True) as site:
        releases = site.seed_from_corpus()
        news, older = releases[:NEWS], releases[NEWS:]
        site.seed(older)
        config_path = folder / "config.toml"
        config_path.write_text(
            CONFIG.format(url=site.list_url(), config=config_path), encoding="utf-8"
        )
        config = load_config(config_path)
        print(f"Local copy of the ministry's board: {site.list_url()}", file=out)
        with App(config) as app:
            first = app.tick()
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
            second = app.tick()
            stored = app.store.releases(limit=NEWS)
        sent = second.send.sent if second.send else []
        print(
            f"2. The ministry publishes {len(news)} releases; the next poll stores them:", file=out
        )
        for release in stored:
            print(
                f"   {release.date}  {release.id:<14} [{', '.join(release.theme_ids) or '-'}] {release.title[:70]}",
                file=out,
            )
        print(f"3. {len(sent)} digest(s) delivered into the Maildir {config.maildir}:", file=out)
        for path in sorted((config.maildir / "new").iterdir()):
            to = _header(path, "To")
            print(f"   {to:<24} {path}", file=out)
    print(
        f"\nNext: mofa-monitor --config {config_path} releases | explain ID | preview --subscriber desk@example.org",
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
