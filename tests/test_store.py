"""The SQLite state: migrations, release identity and revisions, and the delivery ledger."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.models import Classification, Evidence, Release, ThemeTag
from monitor.store.migrations import MIGRATIONS
from monitor.store.sqlite import Store

UNTAGGED = Classification(themes=(), countries=(), version="test")


def release(seq: int, title: str = "Title", body: str = "Body.") -> Release:
    return Release(
        id=f"m_5676-{seq}",
        source="mofa-en",
        board="m_5676",
        seq=seq,
        title=title,
        date=dt.date(2026, 11, 27),
        url=f"https://www.mofa.go.kr/eng/brd/m_5676/view.do?seq={seq}",
        body=body,
        summary=body,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.in_dir(tmp_path) as opened:
        opened.ensure_source(
            "mofa-en", "mofa-board", "https://www.mofa.go.kr/eng/brd/m_5676/list.do"
        )
        yield opened


class TestMigrations:
    def test_apply_on_an_empty_file(self, tmp_path: Path) -> None:
        """A new file gets every migration and the expected tables."""
        with Store(tmp_path / "new.sqlite3") as store:
            assert store.schema_version == len(MIGRATIONS)
            tables = {
                r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        assert {"sources", "releases", "release_themes", "deliveries", "delivery_items"} <= tables

    def test_idempotent_on_reopen(self, tmp_path: Path) -> None:
        """Re-opening applies nothing twice and keeps the data."""
        with Store(tmp_path / "db.sqlite3") as store:
            store.ensure_source("mofa-en", "mofa-board", "https://example.org/")
            store.insert_release(
                release(1),
                content_hash="h",
                baseline=False,
                poll_run_id=None,
                classification=UNTAGGED,
            )
        with Store(tmp_path / "db.sqlite3") as store:
            assert store.schema_version == len(MIGRATIONS)
            assert store.count_releases() == 1

    def test_wal_and_foreign_keys(self, store: Store) -> None:
        """Readers never block the writer; references are enforced."""
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1

    def test_newer_schema_is_refused(self, tmp_path: Path) -> None:
        """A database from a newer version is not silently used."""
        path = tmp_path / "db.sqlite3"
        sqlite3.connect(path).execute("PRAGMA user_version = 999").connection.close()
        with pytest.raises(StoreError, match="newer mofa-monitor"):
            Store(path)


class TestReleases:
    def test_stored_once_per_board_and_seq(self, store: Store) -> None:
        """Identity is (board, seq): a second insert is a no-op."""
        first = store.insert_release(
            release(7), content_hash="h", baseline=False, poll_run_id=None, classification=UNTAGGED
        )
        again = store.insert_release(
            release(7), content_hash="h", baseline=False, poll_run_id=None, classification=UNTAGGED
        )
        assert first == again
        assert store.count_releases() == 1

    def test_update_keeps_a_revision(self, store: Store) -> None:
        """A changed text becomes revision 2, marked updated, the old text kept."""
        row = store.insert_release(
            release(7), content_hash="h1", baseline=False, poll_run_id=None, classification=UNTAGGED
        )
        revision = store.update_release(
            row, release(7, body="Corrected."), content_hash="h2", classification=UNTAGGED
        )
        stored = store.release("m_5676-7")
        assert revision == 2 and stored is not None
        assert (
            stored.revision == 2 and stored.updated_at is not None and stored.body == "Corrected."
        )
        old = store.db.execute("SELECT body FROM release_revisions WHERE revision = 1").fetchone()[
            0
        ]
        assert old == "Body."

    def test_tags_round_trip(self, store: Store) -> None:
        """Themes with evidence and countries come back as written, strongest first."""
        tags = Classification(
            themes=(
                ThemeTag("sanctions", 2.0, (Evidence("sanctions", "body", 2),)),
                ThemeTag("north-korea", 6.0, (Evidence("north korea", "title", 1),)),
            ),
            countries=("KP", "US"),
            version="v1",
        )
        store.insert_release(
            release(9), content_hash="h", baseline=False, poll_run_id=None, classification=tags
        )
        stored = store.release("9")
        assert stored is not None
        assert stored.theme_ids == ("north-korea", "sanctions")
        assert stored.themes[0].evidence == (Evidence("north korea", "title", 1),)
        assert stored.countries == ("KP", "US")
        assert [r.id for r in store.releases(theme="sanctions")] == ["m_5676-9"]


class TestSourceHealth:
    def test_failures_count_and_reset_on_success(self, store: Store) -> None:
        """Consecutive failures add up and a success resets them."""
        assert store.record_poll_failure("mofa-en", "boom") == 1
        assert store.record_poll_failure("mofa-en", "boom again") == 2
        store.record_poll_success("mofa-en", total=123, baseline=True)
        health = store.source("mofa-en")
        assert health is not None
        assert health.consecutive_failures == 0 and health.last_error is None
        assert health.total_count == 123 and health.baseline_at is not None


class TestLedger:
    def test_planning_is_idempotent_and_claims_are_leased(self, store: Store) -> None:
        """One delivery per (subscriber, key); a claimed delivery is invisible until its lease ends."""
        now = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
        store.sync_subscribers(["a@example.org"])
        row = store.insert_release(
            release(1), content_hash="h", baseline=False, poll_run_id=None, classification=UNTAGGED
        )
        items = [(row, 1, False)]
        assert store.plan_delivery(
            "a@example.org",
            "daily:2026-11-28",
            "<m1@x>",
            items,
            through=store.watermarks(),
            now=now,
        )
        assert not store.plan_delivery(
            "a@example.org",
            "daily:2026-11-28",
            "<m2@x>",
            items,
            through=store.watermarks(),
            now=now,
        )
        claimed = store.claim_delivery(now, dt.timedelta(minutes=5))
        assert claimed is not None and claimed.message_id == "<m1@x>"
        assert store.claim_delivery(now, dt.timedelta(minutes=5)) is None
        assert (
            store.claim_delivery(now + dt.timedelta(minutes=6), dt.timedelta(minutes=5)) is not None
        )
        store.mark_sent(claimed.id, now)
        assert store.delivery_counts() == {"pending": 0, "sent": 1, "failed": 0}
