"""An idle poll costs what a 304 costs, and a 304 never loses a release.

Against the local site on 127.0.0.1 (its request log shows what was asked and answered) and the
real CLI (``main``) with a real state database: the second idle ``run-once`` asks for the first
listing page with ``If-None-Match``, gets ``304``, parses nothing, builds no classifier and
stores nothing; a changed listing is read in full; validators are only kept from a poll that
finished everything (an article failure, a crash while storing, a ``Retry-After`` keep the next
poll unconditional); a catch-up walk's later pages are never conditional; a listing that parses
to nothing is still an alarm; a ``304`` nobody asked for is a failure. robots.txt is read once
across one-shot runs while its copy in the state is fresh.
"""

from __future__ import annotations

import datetime as dt
import email
import logging
import re
import sqlite3
from collections.abc import Iterator
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from sitekit import FaultyHandler, LoggedRequest, SiteServer

from monitor.classify import themes
from monitor.cli.parser import main
from monitor.fetch.http import STRONG_LAST_MODIFIED_GAP, strong_last_modified
from monitor.parse import board
from monitor.store.sqlite import Store


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """main() installs its own stderr handler on the root logger; later tests get theirs back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


class Counts:
    """How often the classifier was built and a listing page parsed while installed."""

    def __init__(self) -> None:
        self.classifiers = 0
        self.listings = 0


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Counts:
    found = Counts()
    real_classifier, real_parse = themes.Classifier, board.parse_listing

    class CountingClassifier(real_classifier):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            found.classifiers += 1
            super().__init__(*args, **kwargs)

    def parse_listing(*args: Any, **kwargs: Any) -> Any:
        found.listings += 1
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(themes, "Classifier", CountingClassifier)  # App builds it from here
    monkeypatch.setattr(board, "parse_listing", parse_listing)
    return found


def write_config(folder: Path, site: SiteServer, max_pages: int = 5) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        '[service]\nstate_dir = "state"\nrequest_delay = "0s"\n'
        f"max_pages = {max_pages}\n\n"
        f'[[sources]]\nid = "mofa-en"\nurl = "{site.list_url()}"\n\n'
        '[mail]\nfrom = "MOFA Monitor <monitor@example.org>"\ntransport = "maildir"\n'
        'maildir = "mail"\n\n[[subscribers]]\nemail = "reader@example.org"\n'
        'frequency = "immediate"\n',
        encoding="utf-8",
    )
    return path


def run_once(config: Path) -> list[LoggedRequest]:
    """One ``run-once`` through the real CLI; the requests the site got during it."""
    site = _SITE[0]
    before = len(site.requests)
    assert main(["--config", str(config), "run-once"]) == 0
    return site.requests[before:]


_SITE: list[SiteServer] = []


@pytest.fixture
def board_site(live_site: SiteServer) -> Iterator[SiteServer]:
    live_site.seed_from_corpus(limit=25)
    _SITE[:] = [live_site]
    yield live_site
    _SITE.clear()


def listing_requests(requests: list[LoggedRequest]) -> list[LoggedRequest]:
    """Answered requests for listing pages (the cookie gate's 307s left out)."""
    return [r for r in requests if "/list.do" in r.path and r.status != 307]


def stored(config: Path) -> dict[int, int]:
    """seq → revision of every release in the state database."""
    with sqlite3.connect(config.parent / "state" / "monitor.sqlite3") as conn:
        return {int(s): int(r) for s, r in conn.execute("SELECT seq, revision FROM releases")}


def validators(config: Path) -> tuple[str | None, str | None]:
    store = Store.in_dir(config.parent / "state")
    try:
        health = store.source("mofa-en")
        assert health is not None
        return health.etag, health.last_modified
    finally:
        store.close()


def mails(config: Path) -> list[str]:
    new = config.parent / "mail" / "new"
    out = []
    for path in sorted(new.iterdir()) if new.is_dir() else []:
        msg = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        out.append(str(msg["Subject"]) + "\n" + str(msg.get_body(("plain",)).get_content()))  # type: ignore[union-attr]
    return out


def test_second_idle_run_once_is_a_304_that_reads_nothing(
    tmp_path: Path, board_site: SiteServer, counts: Counts
) -> None:
    config = write_config(tmp_path, board_site)
    first = run_once(config)  # baseline: the page is read, its releases stored
    listed = listing_requests(first)
    assert [r.status for r in listed] == [200]
    assert "If-None-Match" not in listed[0].headers
    etag, last_modified = validators(config)
    assert etag and last_modified, "a complete poll keeps the first page's validators"
    before, built = stored(config), counts.classifiers
    parsed = counts.listings

    second = run_once(config)

    listed = listing_requests(second)
    assert [r.status for r in listed] == [304]
    assert listed[0].headers["If-None-Match"] == etag
    assert listed[0].headers["If-Modified-Since"] == last_modified
    assert [r.path for r in second if r.status != 307] == [listed[0].path], "nothing else asked"
    assert counts.listings == parsed, "an unchanged listing is not parsed"
    assert counts.classifiers == built == 1, "an idle poll builds no classifier"
    assert stored(config) == before
    assert validators(config) == (etag, last_modified)
    assert mails(config) == []


def test_a_changed_listing_after_a_304_is_read_and_mailed(
    tmp_path: Path, board_site: SiteServer, counts: Counts
) -> None:
    config = write_config(tmp_path, board_site)
    run_once(config)
    assert [r.status for r in listing_requests(run_once(config))] == [304]
    old_etag = validators(config)[0]
    board_site.publish(900_001, "Statement on the Idle Poll", "2026-11-30", "1. Fresh news.")

    requests = run_once(config)

    listed = listing_requests(requests)
    assert [r.status for r in listed] == [200]
    assert listed[0].headers["If-None-Match"] == old_etag
    assert 900_001 in stored(config)
    assert any(r.path.endswith("seq=900001") for r in requests)
    assert [m for m in mails(config) if "Statement on the Idle Poll" in m]
    assert validators(config)[0] not in (None, old_etag)
    assert [r.status for r in listing_requests(run_once(config))] == [304]


def test_catch_up_after_downtime_walks_later_pages_unconditionally(
    tmp_path: Path, board_site: SiteServer
) -> None:
    config = write_config(tmp_path, board_site)
    run_once(config)
    run_once(config)
    board_site.publish_many(15, start_seq=910_000, date="2026-11-30")  # page 1 and half of 2

    requests = run_once(config)

    listed = listing_requests(requests)
    assert [r.status for r in listed] == [200, 200]
    assert "If-None-Match" in listed[0].headers
    assert not any(h in listed[1].headers for h in ("If-None-Match", "If-Modified-Since"))
    assert set(range(910_000, 910_015)) <= set(stored(config))


def test_a_failed_article_keeps_the_next_poll_unconditional(
    tmp_path: Path, board_site: SiteServer
) -> None:
    config = write_config(tmp_path, board_site)
    run_once(config)
    run_once(config)
    board_site.publish(900_002, "Release Whose Page Fails Once", "2026-11-30", "1. Late.")
    board_site.fault(re.compile(r"seq=900002$"), 404)

    run_once(config)

    assert 900_002 not in stored(config)
    assert validators(config) == (None, None), "something is owed: no validators"
    requests = run_once(config)
    listed = listing_requests(requests)
    assert [r.status for r in listed] == [200]
    assert not any(h in listed[0].headers for h in ("If-None-Match", "If-Modified-Since"))
    assert 900_002 in stored(config)
    assert validators(config)[0] is not None
    assert [r.status for r in listing_requests(run_once(config))] == [304]


def test_a_crash_while_storing_leaves_no_validator_that_hides_the_release(
    tmp_path: Path, board_site: SiteServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, board_site)
    run_once(config)
    old = validators(config)
    board_site.publish(900_003, "Release Stored After a Crash", "2026-11-30", "1. Kept.")

    def crash(*args: Any, **kwargs: Any) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "insert_release", crash)
        main(["--config", str(config), "run-once"])  # the source fails; the run goes on
    assert 900_003 not in stored(config)
    assert validators(config) == old

    requests = run_once(config)
    assert [r.status for r in listing_requests(requests)] == [200]
    assert 900_003 in stored(config)


def test_a_listing_that_parses_to_nothing_is_still_an_alarm(
    tmp_path: Path, board_site: SiteServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, board_site)
    run_once(config)
    kept = validators(config)
    board_site.fault(re.compile(r"/list\.do"), "empty_listing")

    assert main(["--config", str(config), "run-once"]) == 1
    assert "holds no releases" in capsys.readouterr().out
    assert validators(config) == kept
    # the page is back as it was: the validators of the last complete poll still match it
    assert [r.status for r in listing_requests(run_once(config))] == [304]


def test_a_304_nobody_asked_for_fails_the_source(
    tmp_path: Path, board_site: SiteServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, board_site)
    board_site.canned("/eng/brd/m_5676/list.do?page=1", b"", status=304, content_type=None)

    assert main(["--config", str(config), "run-once"]) == 1
    assert "304 Not Modified to a request that was not conditional" in capsys.readouterr().out
    assert stored(config) == {}


class _LastModifiedOnly(FaultyHandler):
    """A server that sends Last-Modified but no ETag."""

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() != "etag":
            super().send_header(keyword, value)


class _WeakETag(FaultyHandler):
    """A server whose ETags are weak (as a compressing proxy makes them)."""

    def send_header(self, keyword: str, value: str) -> None:
        super().send_header(keyword, "W/" + value if keyword.lower() == "etag" else value)


@pytest.mark.parametrize(
    ("handler", "header"),
    [(_LastModifiedOnly, "If-Modified-Since"), (_WeakETag, "If-None-Match")],
    ids=["last-modified-only", "weak-etag"],
)
def test_other_validators_give_the_same_304(
    tmp_path: Path, handler: type[FaultyHandler], header: str
) -> None:
    site_class = type("Site", (SiteServer,), {"handler_class": handler})
    site = site_class(mode="dynamic").start()
    try:
        site.seed_from_corpus(limit=25)
        _SITE[:] = [site]
        config = write_config(tmp_path, site)
        run_once(config)
        etag, last_modified = validators(config)
        assert (etag is None) == (handler is _LastModifiedOnly)
        assert etag is None or etag.startswith("W/")
        listed = listing_requests(run_once(config))
        assert [r.status for r in listed] == [304]
        assert listed[0].headers[header] == (last_modified if etag is None else etag)
        site.publish(900_004, "Release Behind a Validator", "2026-11-30", "1. New.")
        assert [r.status for r in listing_requests(run_once(config))] == [200]
        assert 900_004 in stored(config)
    finally:
        _SITE.clear()
        site.stop()


def test_robots_txt_is_read_once_across_two_one_shot_runs(
    tmp_path: Path, board_site: SiteServer
) -> None:
    config = write_config(tmp_path, board_site)
    first, second = run_once(config), run_once(config)
    robots = [r for r in first + second if r.path == "/robots.txt" and r.status != 307]
    assert [r.status for r in robots] == [200]
    assert robots[0] in first


def test_theme_names_without_the_classifier_are_the_classifiers() -> None:
    overrides = [
        themes.ThemeSpec(id="north-korea", name="DPRK", patterns=["pyongyang"]),
        themes.ThemeSpec(id="arctic", name="", patterns=["arctic"]),
        themes.ThemeSpec(id="semiconductors", name="Chips", patterns=["chip"]),
    ]
    taxonomy = themes.load_default_taxonomy().with_overrides(overrides)
    expected = {s.id: s.name or s.id for s in taxonomy.specs}
    assert themes.theme_names(overrides) == expected
    assert list(themes.theme_names(overrides)) == list(expected)


class TestStrongLastModified:
    """RFC 9110 §8.8.2.2: a Last-Modified is kept as a validator only when strong."""

    DATE = "Mon, 30 Nov 2026 12:00:00 GMT"

    def test_a_minute_before_the_date_is_strong(self) -> None:
        value = "Mon, 30 Nov 2026 11:59:00 GMT"
        assert STRONG_LAST_MODIFIED_GAP == 60
        assert strong_last_modified({"Last-Modified": value, "Date": self.DATE}) == value

    def test_within_the_minute_of_the_date_is_not_kept(self) -> None:
        value = "Mon, 30 Nov 2026 11:59:30 GMT"
        assert strong_last_modified({"Last-Modified": value, "Date": self.DATE}) is None

    def test_in_the_future_or_unreadable_is_not_kept(self) -> None:
        later = "Mon, 30 Nov 2026 13:00:00 GMT"
        assert strong_last_modified({"Last-Modified": later, "Date": self.DATE}) is None
        assert strong_last_modified({"Last-Modified": "yesterday", "Date": self.DATE}) is None
        assert strong_last_modified({"Date": self.DATE}) is None


# --- the idle poll's store work -------------------------------------------------------------


def _release(seq: int) -> Any:
    from monitor.models import Release

    return Release(
        id=f"m_5676-{seq}",
        source="mofa-en",
        board="m_5676",
        seq=seq,
        title=f"Release {seq}",
        date=None,
        url=f"https://www.mofa.go.kr/eng/brd/m_5676/view.do?seq={seq}",
        body="1. Text.",
        summary="Text.",
    )


def _store_release(store: Store, seq: int) -> None:
    from monitor.models import Classification

    store.ensure_source("mofa-en", "mofa-board", "https://www.mofa.go.kr/eng/brd/m_5676/list.do")
    store.insert_release(
        _release(seq),
        content_hash=str(seq),
        baseline=False,
        poll_run_id=None,
        classification=Classification((), (), "test"),
    )


class TestOwedListings:
    def test_rows_listed_unstored_are_owed_until_stored(self, tmp_path: Path) -> None:
        with Store(tmp_path / "db.sqlite3") as store:
            _store_release(store, 1)
            store.mark_listed([("m_5676", 1), ("m_5676", 2), ("m_5679", 3)])
            assert set(store.owed_listings(["m_5676"])) == {("m_5676", 2)}
            assert set(store.owed_listings(["m_5676", "m_5679"])) == {
                ("m_5676", 2),
                ("m_5679", 3),
            }
            _store_release(store, 2)  # a later poll (or backfill) stored it
            assert store.owed_listings(["m_5676"]) == {}
            marked = [r[0] for r in store.db.execute("SELECT seq FROM listed WHERE owed = 1")]
            assert marked == [3], "the mark is gone once the row is stored"

    def test_the_owed_rows_are_read_through_their_partial_index(self, tmp_path: Path) -> None:
        with Store(tmp_path / "db.sqlite3") as store:
            for seq in range(200):  # an archive: most listed rows stored, a few owed
                _store_release(store, seq)
            store.mark_listed([("m_5676", seq) for seq in range(205)])
            store.db.execute("ANALYZE")
            plan = store.db.execute(
                "EXPLAIN QUERY PLAN SELECT l.board, l.seq, l.first_listed_at, EXISTS (SELECT 1 "
                "FROM releases r WHERE r.board = l.board AND r.seq = l.seq) FROM listed l "
                "WHERE l.owed = 1 AND l.board IN (?)",
                ("m_5676",),
            ).fetchall()
        details = " | ".join(str(row[-1]) for row in plan)
        assert "USING INDEX listed_owed" in details or "USING COVERING INDEX listed_owed" in details
        assert "SCAN l" not in details.replace("SCAN l USING", "")

    def test_migration_marks_what_an_older_database_owes(self, tmp_path: Path) -> None:
        from monitor.store.migrations import MIGRATIONS

        path = tmp_path / "old.sqlite3"
        db = sqlite3.connect(path)
        for migration in MIGRATIONS[:5]:
            migration(db)
        db.execute(
            "INSERT INTO sources(id, kind, url, created_at) VALUES ('mofa-en', 'k', 'u', 't')"
        )
        db.execute(
            "INSERT INTO releases(board, seq, source_id, title, url, body, content_hash, "
            "first_seen_at) VALUES ('m_5676', 1, 'mofa-en', 't', 'u', 'b', 'h', 't')"
        )
        db.executemany(
            "INSERT INTO listed(board, seq, first_listed_at) VALUES ('m_5676', ?, ?)",
            [(1, "2026-11-01T00:00:00+00:00"), (2, "2026-11-02T00:00:00+00:00")],
        )
        db.execute(f"PRAGMA user_version = {5}")
        db.commit()
        db.close()
        with Store(path) as store:
            assert store.schema_version == len(MIGRATIONS)
            assert set(store.owed_listings(["m_5676"])) == {("m_5676", 2)}


def test_a_source_whose_url_changed_forgets_its_validators(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        store.ensure_source("mofa-en", "mofa-board", "https://a.example/list.do")
        store.record_poll_success("mofa-en", etag='"x"', last_modified="Mon, 30 Nov 2026")
        same = store.ensure_source("mofa-en", "mofa-board", "https://a.example/list.do")
        assert (same.etag, same.last_modified) == ('"x"', "Mon, 30 Nov 2026")
        moved = store.ensure_source("mofa-en", "mofa-board", "https://b.example/list.do")
        assert (moved.etag, moved.last_modified) == (None, None)


class _StaleLastModified(FaultyHandler):
    """A server whose validators do not follow its content: one Last-Modified for ever (a page
    template's), no ETag, and ``304`` to any If-Modified-Since — news included."""

    STAMP = "Mon, 02 Nov 2026 09:00:00 GMT"

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "etag":
            return
        super().send_header(keyword, self.STAMP if keyword.lower() == "last-modified" else value)

    def answer(self) -> int | None:
        if "/list.do" in self.path and self.headers.get("If-Modified-Since") == self.STAMP:
            return self._respond(304, b"", None, {})
        return super().answer()


def test_validators_are_trusted_for_an_hour_then_the_listing_is_read_in_full(
    tmp_path: Path,
) -> None:
    """A server that answers 304 although news was published delays that news by at most
    FULL_READ_EVERY: within it the poll is conditional (and sees nothing), after it the listing
    is read unconditionally, the news stored, and the validators saved with a new time."""
    from monitor.config import load_config
    from monitor.schedule.app import App
    from monitor.schedule.poll import FULL_READ_EVERY

    site_class = type("Site", (SiteServer,), {"handler_class": _StaleLastModified})
    site = site_class(mode="dynamic").start()
    now = [dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)]
    try:
        site.seed_from_corpus(limit=25)
        config = load_config(write_config(tmp_path, site))

        def tick() -> list[LoggedRequest]:
            before = len(site.requests)
            with App(config, clock=lambda: now[0]) as app:
                app.tick()
            return listing_requests(site.requests[before:])

        tick()  # baseline: a full read saves the template's Last-Modified
        assert validators(config_path := tmp_path / "config.toml")[1] == _StaleLastModified.STAMP
        site.publish(920_001, "Statement Behind a Stale Validator", "2026-11-30", "1. News.")

        now[0] += FULL_READ_EVERY - dt.timedelta(minutes=1)
        within = tick()
        assert [r.status for r in within] == [304]
        assert within[0].headers["If-Modified-Since"] == _StaleLastModified.STAMP
        assert 920_001 not in stored(config_path), "the server hid it, as the test intends"

        now[0] += dt.timedelta(minutes=1)
        after = tick()
        assert [r.status for r in after] == [200]
        assert not any(h in after[0].headers for h in ("If-None-Match", "If-Modified-Since"))
        assert 920_001 in stored(config_path)

        assert [r.status for r in tick()] == [304], "the new full read is trusted again"
        now[0] -= dt.timedelta(days=2)  # a clock stepped back does not extend the trust
        assert [r.status for r in tick()] == [200]
    finally:
        site.stop()
