"""Polling against the local site, one class per kind of page fault the archive must survive.

Each test serves pages from 127.0.0.1 (monitor/localsite) and polls through the real App, store
and fetcher; the CLI cases run ``mofa-monitor`` in a subprocess on the same state folder.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable, Iterator
from email.utils import format_datetime
from pathlib import Path

import pytest
from sitekit import SiteServer

from monitor.clock import system_clock as utcnow
from monitor.config import load_config
from monitor.parse import board as mofa
from monitor.schedule.app import App
from monitor.schedule.poll import MAX_RETRY_AFTER

LIST = "/eng/brd/m_5676/list.do"
FEED = "/www/brd/rss.do?brdId=302"


def write_config(tmp_path: Path, url: str, kind: str = "mofa-board") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[service]
state_dir = "state"
request_delay = "0s"
timeout = "2s"

[[sources]]
id = "src"
kind = "{kind}"
url = "{url}"
every = "2s"

[mail]
from = "MOFA Monitor <monitor@example.org>"
transport = "maildir"
maildir = "mail"

[[subscribers]]
email = "desk@example.org"
frequency = "immediate"
""",
        encoding="utf-8",
    )
    return path


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=config.parent,
    )


@pytest.fixture
def board(make_site: Callable[..., SiteServer]) -> SiteServer:
    site = make_site(mode="dynamic")
    site.publish(500001, "First Release on Trade", "2026-06-01", "1. First text.")
    site.publish(500002, "Second Release on Climate", "2026-06-02", "1. Second text.")
    return site


@pytest.fixture
def open_app(tmp_path: Path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def factory(url: str, kind: str = "mofa-board") -> App:
        app = App(load_config(write_config(tmp_path, url, kind)))
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.close()


def list_requests(site: SiteServer) -> int:
    return len(site.requests_to(LIST))


class TestRetryAfterIsAPromise:
    def test_a_source_told_to_wait_is_not_asked_again_before_then(
        self, board: SiteServer, open_app: Callable[..., App]
    ) -> None:
        """503 + Retry-After: 3600: later polls send nothing until the hour is over."""
        app = open_app(board.list_url())
        board.fault(LIST, 503, retry_after=3600, times=None)
        first = app.poller.poll_all().outcomes[0]
        assert first.error and "3600" in first.error
        asked = list_requests(board)
        for _ in range(5):
            outcome = app.poller.poll_all().outcomes[0]
            assert outcome.deferred and "not polled" in (outcome.error or "")
        assert list_requests(board) == asked  # not one more request
        notes = app.store.source_notes("src")
        assert notes.wait_until is not None
        assert dt.timedelta(minutes=59) < notes.wait_until - utcnow() <= dt.timedelta(hours=1)

    def test_polled_again_once_the_time_has_passed(
        self, board: SiteServer, open_app: Callable[..., App]
    ) -> None:
        app = open_app(board.list_url())
        board.fault(LIST, 429, retry_after=3600, times=1)
        app.poller.poll_all()
        app.store.set_wait("src", utcnow() - dt.timedelta(seconds=1), "Retry-After 3600 s")
        outcome = app.poller.poll_all().outcomes[0]
        assert outcome.error is None and not outcome.deferred
        assert app.store.source_notes("src").wait_until is None  # cleared by the success

    def test_http_date_form_and_the_cap(
        self, board: SiteServer, open_app: Callable[..., App]
    ) -> None:
        """Retry-After as an HTTP-date a year ahead: honoured, but capped at a sane maximum."""
        app = open_app(board.list_url())
        far = format_datetime(utcnow() + dt.timedelta(days=365), usegmt=True)
        board.fault(LIST, 503, retry_after=far, times=None)
        app.poller.poll_all()
        wait = app.store.source_notes("src").wait_until
        assert wait is not None and wait - utcnow() <= MAX_RETRY_AFTER

    def test_a_wait_asked_while_fetching_articles_stops_the_poll_politely(
        self, board: SiteServer, open_app: Callable[..., App]
    ) -> None:
        """Articles after the 503 are not requested; they stay owed for a later poll."""
        app = open_app(board.list_url())
        app.tick(send=False)
        board.publish_many(3, start_seq=600001)
        board.clear_requests()
        board.fault("/eng/brd/m_5676/view.do", 503, retry_after=600, times=None)
        outcome = app.poller.poll_all().outcomes[0]
        assert len(outcome.article_failures) == 3
        assert len(board.requests_to("/eng/brd/m_5676/view.do")) == 1
        assert app.store.source_notes("src").wait_until is not None

    def test_run_once_honours_the_wait_of_an_earlier_process_and_status_shows_it(
        self, board: SiteServer, tmp_path: Path
    ) -> None:
        config = write_config(tmp_path, board.list_url())
        board.fault(LIST, 503, retry_after=3600, times=None)
        first = cli(config, "run-once", "--no-send")
        assert first.returncode == 1 and "3600" in first.stdout
        asked = list_requests(board)
        second = cli(config, "run-once", "--no-send")
        assert "not polled" in second.stdout, second.stdout + second.stderr
        assert list_requests(board) == asked
        status = cli(config, "status")
        assert "waiting:" in status.stdout and "Retry-After 3600 s" in status.stdout


class TestIdentityFromTheListingRow:
    def test_redirect_to_another_release_is_a_failure_of_the_row(
        self, board: SiteServer, open_app: Callable[..., App]
    ) -> None:
        """seq 500003 answers with 500001's page: nothing is stored under 500003, no duplicate."""
        app = open_app(board.list_url())
        app.tick(send=False)
        board.publish(500003, "Third Release", "2026-06-03", "1. Third text.")
        board.canned(
            "/eng/brd/m_5676/view.do?seq=500003",
            b"",
            status=302,
            content_type=None,
            headers={"Location": "/eng/brd/m_5676/view.do?seq=500001"},
        )
        outcome = app.poller.poll_all().outcomes[0]
        assert outcome.new == [] and outcome.updated == []
        assert outcome.article_failures == [board.view_url(500003)]
        assert sorted(r.seq for r in app.store.releases()) == [500001, 500002]
        assert {r.title for r in app.store.releases()} == {
            "First Release on Trade",
            "Second Release on Climate",
        }

    def test_redirect_to_the_same_release_elsewhere_is_fine_and_links_follow_it(
        self, board: SiteServer, open_app: Callable[..., App]
    ) -> None:
        """A mirror path for the same seq: stored, attachments resolved against where it was."""
        app = open_app(board.list_url())
        app.tick(send=False)
        board.publish(500003, "Third Release", "2026-06-03", "1. Third text.")
        mirror = "/mirror/eng/brd/m_5676/view.do?seq=500003"
        board.canned(
            "/eng/brd/m_5676/view.do?seq=500003",
            b"",
            status=302,
            content_type=None,
            headers={"Location": mirror},
        )
        page = (
            "<html><body><div class='board_detail'><div class='bo_head'><h2>Third Release</h2>"
            "<p>Date 2026-06-03</p></div><div class='bo_con'><p>1. Third text.</p></div>"
            "<a href='./down.do?seq=500003&amp;file_seq=1'>annex.pdf</a></div></body></html>"
        )
        board.canned(mirror, page.encode(), content_type="text/html; charset=utf-8")
        outcome = app.poller.poll_all().outcomes[0]
        assert outcome.new == ["m_5676-500003"]
        release = app.store.release("m_5676-500003")
        assert release is not None
        assert [a.url for a in release.attachments] == [
            board.url("/mirror/eng/brd/m_5676/down.do?seq=500003&file_seq=1")
        ]
        assert release.url == board.view_url(500003)  # identity and link: the row's


def feed_with(items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>t</title>'
        f"{items}</channel></rss>"
    ).encode()


def item(seq: int | str, title: str, date: str) -> str:
    return (
        f"<item><title>{title}</title><link>http://x/www/brd/m_5676/view.do?seq={seq}</link>"
        f"<description>1. Text of {seq}.</description><pubDate>{date}</pubDate></item>"
    )


class TestPoisonedItems:
    def test_one_poisoned_feed_item_costs_itself_and_is_reported(
        self, board: SiteServer, open_app: Callable[..., App], tmp_path: Path
    ) -> None:
        """Year 9999, a NUL in a title, a seq of 5000 digits: the good items are stored anyway."""
        board.canned(
            FEED,
            feed_with(
                item(700001, "Poisoned Date", "Fri, 31 Dec 9999 23:59:59 GMT")
                + item(700002, "Statement\x00 on Trade", "Fri, 26 Jun 2026 08:00:03 GMT")
                + item("9" * 5000, "Huge", "Fri, 26 Jun 2026 08:00:03 GMT")
                + item(700003, "Good One", "Fri, 26 Jun 2026 08:00:03 GMT")
            ),
            content_type="text/xml",
        )
        app = open_app(board.feed_url(), "mofa-rss")
        outcome = app.poller.poll_all().outcomes[0]
        assert outcome.error is None
        assert sorted(r.seq for r in app.store.releases()) == [700001, 700002, 700003]
        titles = {r.seq: r.title for r in app.store.releases()}
        assert titles[700002] == "Statement on Trade"
        assert app.store.source("src").consecutive_failures == 0  # type: ignore[union-attr]
        problems = app.store.source_notes("src").item_problems
        assert any("9999" in p for p in problems) and any("item 3" in p for p in problems)
        status = cli(write_config(tmp_path, board.feed_url(), "mofa-rss"), "status")
        assert "skipped or could not read" in status.stdout and "9999" in status.stdout

    def test_an_unforeseen_exception_fails_the_source_visibly(
        self, board: SiteServer, open_app: Callable[..., App], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No job that fails forever behind an OK status: the failure is counted and shown."""

        def explode(*_: object, **__: object) -> None:
            raise OverflowError("date value out of range")

        monkeypatch.setattr(mofa, "parse_listing", explode)
        app = open_app(board.list_url())
        outcome = app.poller.poll_all().outcomes[0]
        assert outcome.error == "internal error: OverflowError: date value out of range"
        health = app.store.source("src")
        assert health is not None and health.consecutive_failures == 1
        assert health.last_error == outcome.error


class TestControlCharactersOnTheBoard:
    def test_a_nul_in_one_board_title_costs_nothing_but_the_character(
        self, board: SiteServer, open_app: Callable[..., App]
    ) -> None:
        """Listing row and article page both carry the NUL; the release is stored, cleaned."""
        app = open_app(board.list_url())
        app.tick(send=False)
        board.publish(500003, "Statement\x00 on\x07 Trade", "2026-06-03", "1. Text\x00 here.")
        outcome = app.poller.poll_all().outcomes[0]
        assert outcome.error is None and outcome.new == ["m_5676-500003"]
        release = app.store.release("m_5676-500003")
        assert release is not None
        assert (release.title, release.body) == ("Statement on Trade", "1. Text here.")
