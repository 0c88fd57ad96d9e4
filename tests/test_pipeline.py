"""Polling into the archive against the local site: baseline, catch-up, edits, faults."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from sitekit import SiteServer

from monitor.config import Config, load_config
from monitor.schedule.app import App

CORPUS = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "dev.jsonl").read_text("utf-8").splitlines()
]


def make_config(tmp_path: Path, url: str, *, kind: str = "mofa-board", extra: str = "") -> Config:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[service]
state_dir = "state"
request_delay = "0s"
timeout = "2s"
max_pages = 10

[[sources]]
id = "test"
kind = "{kind}"
url = "{url}"
every = "2s"

[[subscribers]]
email = "desk@example.org"
frequency = "immediate"
{extra}
""",
        encoding="utf-8",
    )
    return load_config(path)


@pytest.fixture
def app_for(tmp_path: Path) -> Callable[..., App]:
    apps: list[App] = []

    def factory(site: SiteServer, **kwargs: str) -> App:
        url = site.feed_url() if kwargs.get("kind") == "mofa-rss" else site.list_url()
        app = App(make_config(tmp_path, url, **kwargs))
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.close()


class TestRecordedSite:
    def test_baseline_and_backfill_store_every_release_with_its_text(
        self, site: SiteServer, app_for: Callable[..., App]
    ) -> None:
        """Baseline, then a backfill through pages 2-3: every recorded release equals the corpus."""
        app = app_for(site)
        app.tick(send=False)
        outcome = app.poller.backfill(app.config.sources[0], dt.date(2020, 1, 1))
        assert len(outcome.new) == 14 and outcome.pages == 3
        stored = {r.seq: r for r in app.store.releases()}
        board = [e for e in CORPUS if e["board"] == "m_5676"]
        assert set(stored) == {e["seq"] for e in board}
        for entry in board:
            release = stored[entry["seq"]]
            assert release.title.split() == entry["title"].split()
            assert release.date.isoformat() == entry["date"]
            assert release.body.split() == entry["body"].split()
            assert release.url == site.view_url(entry["seq"])

    def test_first_poll_is_a_baseline_of_page_one(
        self, site: SiteServer, app_for: Callable[..., App]
    ) -> None:
        """The first poll stores page 1 as a baseline and mails nothing."""
        app = app_for(site)
        report = app.tick()
        assert report.poll.outcomes[0].baseline
        assert report.poll.new_count == 10
        assert report.send.sent == []
        assert (
            app.store.db.execute("SELECT COUNT(*) FROM releases WHERE baseline = 0").fetchone()[0]
            == 0
        )

    def test_every_release_is_tagged_and_summarised(
        self, site: SiteServer, app_for: Callable[..., App]
    ) -> None:
        """Stored releases carry themes with evidence, countries and a summary."""
        app = app_for(site)
        app.tick(send=False)
        releases = app.store.releases()
        assert all(r.summary for r in releases)
        assert all(r.themes and r.themes[0].evidence for r in releases)
        assert any("VE" in r.countries for r in releases)


class TestCatchUp:
    def test_baseline_10_then_25_new_all_stored_once(
        self, live_site: SiteServer, app_for: Callable[..., App]
    ) -> None:
        """After downtime with 25 new releases (3 pages), all are stored, none twice, oldest first."""
        live_site.seed_from_corpus(limit=10)
        app = app_for(live_site)
        app.tick()
        new = live_site.publish_many(25)
        report = app.tick()
        outcome = report.poll.outcomes[0]
        assert outcome.new == [
            f"m_5676-{r.seq}" for r in new
        ]  # published in seq order = oldest first
        assert outcome.pages == 3
        assert app.store.count_releases() == 35
        assert report.send.sent == ["desk@example.org immediate:2"]
        assert app.tick().poll.new_count == 0

    def test_older_rows_beyond_the_baseline_are_not_news(
        self, live_site: SiteServer, app_for: Callable[..., App]
    ) -> None:
        """Rows that were on page 2 before the baseline never count as new releases."""
        app = app_for(live_site)  # 24 releases on the board; the baseline sees page 1
        app.tick()
        live_site.publish_many(3)
        outcome = app.tick().poll.outcomes[0]
        assert len(outcome.new) == 3
        assert outcome.pages == 1

    def test_a_corrected_release_becomes_a_revision(
        self, live_site: SiteServer, app_for: Callable[..., App]
    ) -> None:
        """A changed listing title re-reads the article and stores revision 2, marked updated."""
        live_site.seed_from_corpus(limit=10)
        app = app_for(live_site)
        app.tick()
        top = live_site.releases()[0]
        live_site.publish(
            top.seq, top.title + " (Corrected)", top.date, top.body + "\nA correction."
        )
        outcome = app.tick().poll.outcomes[0]
        assert outcome.updated == [f"m_5676-{top.seq}"] and outcome.new == []
        stored = app.store.release(f"m_5676-{top.seq}")
        assert stored.revision == 2 and stored.body.endswith("A correction.")


class TestFaults:
    def test_failing_article_does_not_stop_others_and_is_retried(
        self, live_site: SiteServer, app_for: Callable[..., App]
    ) -> None:
        """A 404 article is skipped this poll and stored on the next."""
        live_site.seed_from_corpus(limit=5)
        app = app_for(live_site)
        app.tick()
        new = live_site.publish_many(3)
        live_site.fault(f"/eng/brd/m_5676/view.do?seq={new[1].seq}", 404, times=1)
        first = app.tick().poll.outcomes[0]
        assert len(first.new) == 2 and len(first.article_failures) == 1
        second = app.tick().poll.outcomes[0]
        assert second.new == [f"m_5676-{new[1].seq}"]

    def test_failed_article_pushed_off_page_one_is_still_retried(
        self, live_site: SiteServer, app_for: Callable[..., App]
    ) -> None:
        """An article that failed, then slid to page 2 before the next poll, is not lost."""
        live_site.seed_from_corpus(limit=10)
        app = app_for(live_site)
        app.tick()
        first = live_site.publish_many(3)
        live_site.fault(f"/eng/brd/m_5676/view.do?seq={first[0].seq}", 404, times=1)
        assert len(app.tick().poll.outcomes[0].article_failures) == 1
        live_site.publish_many(8, start_seq=500_000)  # page 1 now ends with a listed row
        outcome = app.tick().poll.outcomes[0]
        assert f"m_5676-{first[0].seq}" in outcome.new
        assert app.store.release(f"m_5676-{first[0].seq}") is not None

    def test_article_failing_during_the_baseline_is_never_mailed(
        self, live_site: SiteServer, app_for: Callable[..., App]
    ) -> None:
        """A baseline row whose article failed is stored later as baseline, not mailed as news."""
        live_site.seed_from_corpus(limit=10)
        victim = live_site.releases()[3]
        live_site.fault(f"/eng/brd/m_5676/view.do?seq={victim.seq}", 404, times=1)
        app = app_for(live_site)
        assert len(app.tick().poll.outcomes[0].article_failures) == 1
        report = app.tick()
        assert report.poll.outcomes[0].new == [f"m_5676-{victim.seq}"]
        assert report.send.sent == []
        assert app.store.db.execute(
            "SELECT baseline FROM releases WHERE seq = ?", (victim.seq,)
        ).fetchone()[0]

    @pytest.mark.parametrize(
        ("kind", "message"),
        [
            ("empty_listing", "holds no releases"),
            ("non_html", "expected an HTML page"),
            ("redirect_loop", "redirect"),
            ("huge", "larger than"),
            ("truncated", ""),
            ("reset", ""),
        ],
    )
    def test_listing_faults_fail_the_source_cleanly(
        self,
        live_site: SiteServer,
        app_for: Callable[..., App],
        kind: str,
        message: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A broken listing is a counted source failure with a clear error, never bogus records."""
        live_site.seed_from_corpus(limit=5)
        app = app_for(live_site)
        app.tick()
        live_site.fault("/eng/brd/m_5676/list.do", kind, times=None)
        with caplog.at_level(logging.ERROR, logger="monitor.schedule.poll"):
            outcome = app.tick().poll.outcomes[0]
        assert outcome.error and message in outcome.error
        assert outcome.listing_empty == (kind == "empty_listing")
        health = app.store.source("test")
        assert health.consecutive_failures == 1 and health.last_error == outcome.error
        assert app.store.count_releases() == 5
        assert "source test failed (1 in a row)" in caplog.text
        live_site.clear_faults()
        app.tick()
        assert app.store.source("test").consecutive_failures == 0

    def test_retry_after_then_success(
        self, live_site: SiteServer, app_for: Callable[..., App]
    ) -> None:
        """A 503 with Retry-After is retried within the same poll."""
        live_site.seed_from_corpus(limit=5)
        app = app_for(live_site)
        live_site.fault("/eng/brd/m_5676/list.do", 503, retry_after=0, times=1)
        outcome = app.tick().poll.outcomes[0]
        assert outcome.error is None and len(outcome.new) == 5


class TestFeed:
    def test_feed_source_stores_the_same_records(
        self, site: SiteServer, app_for: Callable[..., App]
    ) -> None:
        """kind = "mofa-rss" yields releases with the same identity and canonical URLs."""
        app = app_for(site, kind="mofa-rss")
        app.tick(send=False)
        stored = app.store.releases()
        assert len(stored) == 24
        assert all(r.url == site.view_url(r.seq) for r in stored)
        assert app.tick(send=False).poll.new_count == 0


class TestConfigThemes:
    def test_user_theme_tags_releases(self, site: SiteServer, app_for: Callable[..., App]) -> None:
        """A [[themes]] entry from the config is applied as releases are stored."""
        extra = '[[themes]]\nid = "venezuela"\nname = "Venezuela"\npatterns = ["venezuela"]\n'
        app = app_for(site, extra=extra)
        app.tick(send=False)
        tagged = app.store.releases(theme="venezuela")
        assert tagged and all("Venezuela" in r.title for r in tagged)
