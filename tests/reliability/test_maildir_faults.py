"""An unusable Maildir (a file where the folder should be): nothing lost, and it shows.

Deliveries stay pending with a one-line reason while the folder cannot be written, and are
delivered exactly once when it can again; the fault must also reach ``/healthz`` (and so the
operator's alert), not only the log.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import MaildirSink, Tally, rng
from sitekit import SiteServer

from monitor.clock import system_clock as utcnow
from monitor.config import load_config
from monitor.ops.health import health_report
from monitor.schedule.app import App

READER = "desk@example.org"


@pytest.fixture
def app(tmp_path: Path, live_site: SiteServer) -> Iterator[App]:
    live_site.seed_from_corpus(limit=3)
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[service]
state_dir = "state"
request_delay = "0s"

[[sources]]
id = "mofa-en"
url = "{live_site.list_url()}"

[mail]
from = "MOFA Monitor <monitor@example.org>"
transport = "maildir"
maildir = "mail"

[[subscribers]]
email = "{READER}"
frequency = "immediate"
""",
        encoding="utf-8",
    )
    offset = [dt.timedelta()]
    application = App(load_config(path), clock=lambda: utcnow() + offset[0])
    application.offset = offset  # type: ignore[attr-defined]
    application.tick()
    yield application
    application.close()


def break_maildir(tmp_path: Path, live_site: SiteServer, app: App) -> int:
    shutil.rmtree(tmp_path / "mail", ignore_errors=True)  # the baseline made the folder
    (tmp_path / "mail").write_text("a file where the Maildir should be")
    live_site.publish(840_001, "Minister Meets Counterpart", "2026-11-27", "1. Text.\n2. More.")
    app.tick()
    return 840_001


def test_unwritable_maildir_keeps_mail_pending_then_delivers_once(
    tmp_path: Path, live_site: SiteServer, app: App
) -> None:
    tally = Tally("maildir: a file where the folder should be", rng("maildir")[1], faults=1)
    seq = break_maildir(tmp_path, live_site, app)
    assert app.store.delivery_counts()["pending"] == 1
    (delivery,) = app.store.deliveries()
    assert delivery.last_error and "\n" not in delivery.last_error
    assert str(tmp_path / "mail") in delivery.last_error
    (tmp_path / "mail").unlink()
    app.offset[0] += dt.timedelta(hours=6)  # type: ignore[attr-defined]
    app.plan_and_send()
    tally.count(MaildirSink(tmp_path / "mail").mails(), {READER: {seq}})
    tally.report()
    assert tally.lost == 0 and tally.duplicates == 0, tally


def test_unwritable_maildir_shows_in_health(
    tmp_path: Path, live_site: SiteServer, app: App
) -> None:
    break_maildir(tmp_path, live_site, app)
    report = health_report(app.config, app.store, now=app.clock(), started_at=app.clock())
    assert not report.ok
    assert any(str(tmp_path / "mail") in reason for reason in report.reasons)
