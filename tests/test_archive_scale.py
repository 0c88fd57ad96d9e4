"""The archive at scale: ``releases`` reads an index and streams, revisions keep one copy of
each text, and migration 6 converts an older database without losing a revision.

The listing's golden files (``tests/data/releases_listing/``) were written by the code before
this change (schema 5) from the archive :func:`build_archive` makes, so "identical output" is
checked against what users saw, not against a re-statement of the new code.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.models import Attachment, Release, SeenRevision
from monitor.render.view import describe_changes
from monitor.store import migrations
from monitor.store import releases as release_store
from monitor.store.releases import listing_query
from monitor.store.sqlite import DB_NAME, Store
from tests.archive_fixture import (
    LISTINGS,
    START,
    StepClock,
    make_archive,
    make_release,
    tags,
)
from tests.inprocess import run_cli

GOLDEN = Path(__file__).parent / "data" / "releases_listing"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A config folder whose state holds :func:`build_archive`'s archive."""
    return make_archive(tmp_path)


class TestListingOutput:
    @pytest.mark.parametrize("name", sorted(LISTINGS))
    def test_identical_to_the_listing_before_streaming(self, archive: Path, name: str) -> None:
        """Lines, order, fields and escapes are byte for byte those of the schema-5 code."""
        result = run_cli(["--config", "config.toml", "releases", *LISTINGS[name]], cwd=archive)
        assert result.returncode == 0, result.stderr
        assert result.stdout == (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")

    def test_unknown_theme_is_a_usage_error_with_a_suggestion(self, archive: Path) -> None:
        """Theme ids are checked without building the classifier, as before: exit 2."""
        result = run_cli(
            ["--config", "config.toml", "releases", "--theme", "nort-korea"], cwd=archive
        )
        assert result.returncode == 2
        assert "did you mean 'north-korea'" in result.stderr

    def test_a_theme_of_the_config_is_known(self, archive: Path) -> None:
        """A theme the config adds is a valid filter, as the classifier would know it."""
        (archive / "config.toml").write_text(
            '[service]\nstate_dir = "state"\n\n[[themes]]\nid = "arctic"\nname = "Arctic"\n'
            'patterns = ["arctic"]\n',
            encoding="utf-8",
        )
        result = run_cli(["--config", "config.toml", "releases", "--theme", "arctic"], cwd=archive)
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""

    def test_theme_filter_does_not_build_the_classifier(
        self, archive: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Listing by theme needs theme ids, not the compiled rules (most of a second)."""
        from monitor.classify import themes

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("the classifier was built")

        monkeypatch.setattr(themes.Classifier, "__init__", refuse)
        monkeypatch.setattr(themes, "compile_theme", refuse)
        result = run_cli(
            ["--config", "config.toml", "releases", "--theme", "sanctions"], cwd=archive
        )
        assert result.returncode == 0, result.stderr
        assert "Sanctions Designations Announced" in result.stdout


def traced(store: Store, call: Callable[[], object]) -> list[str]:
    """The statements ``call`` runs on the store's connection, with their values bound."""
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    try:
        call()
    finally:
        store.db.set_trace_callback(None)
    return statements


def plan(store: Store, statement: str) -> list[str]:
    return [row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {statement}")]


class TestQueryPlans:
    def test_theme_since_searches_the_date_index(self, archive: Path) -> None:
        """``releases --theme X --since D`` reads a date range of an index in listing order:
        no scan of the releases table, no sort of it."""
        with Store.in_dir(archive / "state") as store:
            statements = traced(
                store, lambda: store.releases(theme="north-korea", since=dt.date(2026, 11, 1))
            )
            listing = [s for s in statements if s.startswith("SELECT * FROM releases")]
            assert len(listing) == 1
            steps = plan(store, listing[0])
        assert any(s.startswith("SEARCH r USING INDEX releases_by_date (date>?)") for s in steps)
        assert not any(s.startswith("SCAN r") for s in steps), steps
        assert not any("TEMP B-TREE" in s for s in steps), steps

    @pytest.mark.parametrize(
        "filters",
        [{}, {"limit": 5}, {"theme": "sanctions"}],
        ids=["all", "limit", "theme"],
    )
    def test_other_listings_need_no_sort(self, archive: Path, filters: dict[str, object]) -> None:
        """Unfiltered (or by theme only) the index gives the order: the first row can be
        printed before the last is read, and ``--limit N`` reads N rows."""
        with Store.in_dir(archive / "state") as store:
            sql, args = listing_query(**filters)  # type: ignore[arg-type]
            steps = [r[3] for r in store.db.execute(f"EXPLAIN QUERY PLAN {sql}", args)]
        assert "SCAN r USING INDEX releases_by_date" in steps
        assert not any("TEMP B-TREE" in s for s in steps), steps


class CountingOutput(io.StringIO):
    """stdout that notes how many releases had been read when its first line came."""

    def __init__(self, read: Callable[[], int]) -> None:
        super().__init__()
        self.read = read
        self.read_at_first_line: int | None = None

    def write(self, text: str) -> int:
        if self.read_at_first_line is None and text:
            self.read_at_first_line = self.read()
        return super().write(text)


class TestStreaming:
    @pytest.mark.parametrize("json_lines", [False, True], ids=["text", "json"])
    def test_first_line_before_the_last_row_is_read(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, json_lines: bool
    ) -> None:
        """``releases`` writes its first line after one batch of rows, not after the archive:
        observed by counting the rows turned into releases when the first line is written."""
        total = 3 * release_store.BATCH + 17
        (tmp_path / "config.toml").write_text('[service]\nstate_dir = "state"\n', encoding="utf-8")
        clock = StepClock(START)
        with Store.in_dir(tmp_path / "state", clock=clock) as store:
            store.ensure_source("mofa-en", "mofa-board", "https://example.org/")
            for seq in range(total):
                store.insert_release(
                    make_release(seq, f"Release {seq}", dt.date(2026, 1, 1), "1. Body."),
                    content_hash=f"h{seq}",
                    baseline=True,
                    poll_run_id=None,
                    classification=tags(("north-korea", 6.0)),
                )
        made = [0]
        original = release_store._release_from_row

        def counting(*args: object, **kwargs: object) -> Release:
            made[0] += 1
            return original(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(release_store, "_release_from_row", counting)
        out = CountingOutput(lambda: made[0])
        monkeypatch.setattr("sys.stdout", out)
        from monitor.cli import main

        argv = ["--config", str(tmp_path / "config.toml"), "releases"]
        assert main(argv + (["--json"] if json_lines else [])) == 0
        assert made[0] == total
        assert len(out.getvalue().splitlines()) == total
        assert out.read_at_first_line is not None
        assert out.read_at_first_line <= release_store.BATCH < total


def revision_rows(db: sqlite3.Connection) -> list[tuple[object, ...]]:
    return db.execute(
        "SELECT rowid, release_id, revision, title, body, content_hash, seen_at, attachments "
        "FROM release_revisions ORDER BY rowid"
    ).fetchall()


class TestOneCopyOfEachText:
    def test_a_new_release_keeps_its_text_once(self, archive: Path) -> None:
        """The current revision's row holds no texts: the release row has them."""
        with Store.in_dir(archive / "state") as store:
            rows = store.db.execute(
                "SELECT COUNT(*), COUNT(rv.title), COUNT(rv.body) "
                "FROM release_revisions rv JOIN releases r ON r.id = rv.release_id "
                "WHERE rv.revision = r.revision"
            ).fetchone()
        assert tuple(rows) == (8, 0, 0)

    def test_a_superseded_revision_keeps_what_the_reader_saw(self, archive: Path) -> None:
        """Revision 1 of the corrected release holds its own title, body and attachments."""
        with Store.in_dir(archive / "state") as store:
            row = store.db.execute(
                "SELECT rv.title, rv.body, rv.attachments FROM release_revisions rv "
                "JOIN releases r ON r.id = rv.release_id WHERE r.seq = 100 AND rv.revision = 1"
            ).fetchone()
        assert row[0] == "Minister Meets Special Representative for North Korea"
        assert row[1].startswith("1. The minister met the representative.")
        assert json.loads(row[2]) == []


# -- the archive migration (6) on a database written by the schema before it ---------------------------------


def old_schema(path: Path) -> sqlite3.Connection:
    """A database at the schema before migration 6, built by the migrations before it."""
    conn = sqlite3.connect(path, isolation_level=None)
    before = migrations.MIGRATIONS.index(migrations._m6_archive_at_scale)
    for number, migration in enumerate(migrations.MIGRATIONS[:before], start=1):
        conn.execute("BEGIN")
        migration(conn)
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    return conn


def old_insert(
    conn: sqlite3.Connection, release: Release, at: str, revision_texts: bool = True
) -> int:
    """A release written as the schema-5 code wrote it: revision 1 a full copy of the text."""
    attachments = json.dumps([{"name": a.name, "url": a.url} for a in release.attachments])
    cursor = conn.execute(
        "INSERT INTO releases(board, seq, source_id, title, date, url, body, image_only, "
        "attachments, content_hash, first_seen_at, baseline, summary) "
        "VALUES (?, ?, 'mofa-en', ?, ?, ?, ?, 0, ?, ?, ?, 0, ?)",
        (
            release.board,
            release.seq,
            release.title,
            release.date.isoformat() if release.date else None,
            release.url,
            release.body,
            attachments,
            f"h-{release.seq}-1",
            at,
            release.summary,
        ),
    )
    row_id = int(cursor.lastrowid or 0)
    conn.execute(
        "INSERT INTO release_revisions(release_id, revision, title, body, content_hash, seen_at, "
        "attachments) VALUES (?, 1, ?, ?, ?, ?, ?)",
        (
            row_id,
            release.title,
            release.body,
            f"h-{release.seq}-1",
            at,
            attachments if revision_texts else None,
        ),
    )
    return row_id


def old_update(conn: sqlite3.Connection, row_id: int, release: Release, at: str) -> int:
    """A correction written as the schema-5 code wrote it: a new row with a full copy."""
    attachments = json.dumps([{"name": a.name, "url": a.url} for a in release.attachments])
    revision = conn.execute("SELECT revision + 1 FROM releases WHERE id = ?", (row_id,)).fetchone()[
        0
    ]
    conn.execute(
        "UPDATE releases SET title = ?, body = ?, attachments = ?, content_hash = ?, revision = ?, "
        "updated_at = ? WHERE id = ?",
        (
            release.title,
            release.body,
            attachments,
            f"h-{release.seq}-{revision}",
            revision,
            at,
            row_id,
        ),
    )
    conn.execute(
        "INSERT INTO release_revisions(release_id, revision, title, body, content_hash, seen_at, "
        "attachments) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            row_id,
            revision,
            release.title,
            release.body,
            f"h-{release.seq}-{revision}",
            at,
            attachments,
        ),
    )
    return int(revision)


def old_plan(
    conn: sqlite3.Connection, email: str, key: str, items: list[tuple[int, int, bool]], at: str
) -> int:
    """A delivery frozen by the schema-5 ledger (its tables did not change in migration 6)."""
    cursor = conn.execute(
        "INSERT INTO deliveries(subscriber, digest_key, status, message_id, created_at, "
        "next_attempt_at, sent_at) VALUES (?, ?, 'sent', ?, ?, ?, ?)",
        (email, key, f"<{key}@test>", at, at, at),
    )
    for position, (row_id, revision, updated) in enumerate(items):
        conn.execute(
            "INSERT INTO delivery_items(delivery_id, subscriber, release_id, revision, updated, "
            "position) VALUES (?, ?, ?, ?, ?, ?)",
            (cursor.lastrowid, email, row_id, revision, updated, position),
        )
    return int(cursor.lastrowid or 0)


READER = "reader@example.org"


@pytest.fixture
def old_database(tmp_path: Path) -> Iterator[Path]:
    """A schema-5 file: one release seen by the reader at revision 1 and corrected twice since
    (revision 2 sent to them, revision 3 not yet), one never corrected, and one whose revision 1
    predates recorded attachments (schema 1)."""
    path = tmp_path / DB_NAME
    conn = old_schema(path)
    conn.execute(
        "INSERT INTO sources(id, kind, url, created_at) VALUES ('mofa-en', 'mofa-board', "
        "'https://www.mofa.go.kr/eng/brd/m_5676/list.do', '2026-11-01T00:00:00.000000+00:00')"
    )
    conn.execute(
        "INSERT INTO subscribers(email, added_at) VALUES (?, '2026-11-01T00:00:00.000000+00:00')",
        (READER,),
    )
    first = make_release(
        1,
        "Foreign Minister Visits Vienna",
        dt.date(2026, 11, 2),
        "1. The minister visited Vienna on 2 November.\n2. Talks were held.",
        attachments=(Attachment("Programme.pdf", "https://www.mofa.go.kr/a/p"),),
    )
    corrected = old_insert(conn, first, "2026-11-02T01:00:00.000000+00:00")
    plain = old_insert(
        conn,
        make_release(2, "Statement on the Anniversary", dt.date(2026, 11, 3), "1. A statement."),
        "2026-11-03T01:00:00.000000+00:00",
    )
    old_insert(
        conn,
        make_release(3, "Old Notice", dt.date(2026, 10, 1), "1. Old."),
        "2026-10-01T01:00:00.000000+00:00",
        revision_texts=False,
    )
    old_plan(
        conn,
        READER,
        "immediate-1",
        [(corrected, 1, False), (plain, 1, False)],
        "2026-11-03T02:00:00.000000+00:00",
    )
    second = make_release(
        1,
        "Foreign Minister Visits Vienna and Geneva",
        dt.date(2026, 11, 2),
        "1. The minister visited Vienna on 3 November.\n2. Talks were held.",
        attachments=(
            Attachment("Programme.pdf", "https://www.mofa.go.kr/a/p"),
            Attachment("Photos.zip", "https://www.mofa.go.kr/a/z"),
        ),
    )
    old_update(conn, corrected, second, "2026-11-04T01:00:00.000000+00:00")
    old_plan(
        conn, READER, "immediate-2", [(corrected, 2, True)], "2026-11-04T02:00:00.000000+00:00"
    )
    third = make_release(
        1,
        "Foreign Minister Visits Vienna and Geneva",
        dt.date(2026, 11, 2),
        "1. The minister visited Vienna on 3 November.\n2. Talks were held in good faith.",
        attachments=(Attachment("Photos.zip", "https://www.mofa.go.kr/a/z"),),
    )
    old_update(conn, corrected, third, "2026-11-05T01:00:00.000000+00:00")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    yield path


class TestArchiveMigration:
    def test_converts_losslessly(self, old_database: Path) -> None:
        """Every revision reads back as it was written (texts, hashes, times, rowids); only
        copies of the current text are dropped."""
        with sqlite3.connect(old_database) as conn:
            before = revision_rows(conn)
            releases_before = conn.execute("SELECT * FROM releases ORDER BY id").fetchall()
            marks_before = (
                conn.execute("SELECT MAX(id) FROM releases").fetchone()[0],
                conn.execute("SELECT MAX(rowid) FROM release_revisions").fetchone()[0],
            )
        conn.close()
        with Store(old_database) as store:
            assert store.schema_version == len(migrations.MIGRATIONS)
            after = revision_rows(store.db)
            releases_after = [
                tuple(r) for r in store.db.execute("SELECT * FROM releases ORDER BY id")
            ]
            read_back = store.db.execute(
                f"SELECT rv.id, {release_store.revision_texts_sql()} FROM release_revisions rv "
                "JOIN releases r ON r.id = rv.release_id ORDER BY rv.id"
            ).fetchall()
            marks_after = tuple(store.watermarks())
        assert releases_after == [tuple(r) for r in releases_before]
        assert marks_after == marks_before
        assert [row[:3] + row[5:7] for row in after] == [row[:3] + row[5:7] for row in before]
        # What any revision reads as is what it held before.
        assert [tuple(r) for r in read_back] == [
            (row[0], row[2], row[3], row[4], row[7]) for row in before
        ]
        # Texts kept: the superseded revisions 1 and 2; dropped: the three current copies.
        kept = [(row[1], row[2]) for row in after if row[3] is not None]
        assert kept == [(1, 1), (1, 2)]

    def test_updated_item_still_says_what_changed(self, old_database: Path) -> None:
        """The reader last got revision 2 (before the migration); revision 3 came since. The
        Updated item compares with revision 2's title, body and attachments."""
        with Store(old_database) as store:
            seen = store.last_seen_revision(READER, 1)
            current = store.release("m_5676-1")
        assert seen == SeenRevision(
            2,
            "Foreign Minister Visits Vienna and Geneva",
            "1. The minister visited Vienna on 3 November.\n2. Talks were held.",
            (
                Attachment("Programme.pdf", "https://www.mofa.go.kr/a/p"),
                Attachment("Photos.zip", "https://www.mofa.go.kr/a/z"),
            ),
        )
        assert current is not None
        assert describe_changes(seen, current) == (
            "body “held.” → “held in good faith.”; attachment removed: Programme.pdf"
        )

    def test_an_earlier_delivery_compares_with_revision_1(self, old_database: Path) -> None:
        """Rendering the delivery of revision 2 again compares with revision 1 (the reader's
        copy then): title, first body edit, attachment added."""
        with Store(old_database) as store:
            second = store.db.execute(
                "SELECT id FROM deliveries WHERE digest_key = 'immediate-2'"
            ).fetchone()[0]
            seen = store.last_seen_revision(READER, 1, before_delivery=second)
        assert seen is not None and seen.revision == 1
        assert seen.title == "Foreign Minister Visits Vienna"
        assert seen.body == "1. The minister visited Vienna on 2 November.\n2. Talks were held."
        assert seen.attachments == (Attachment("Programme.pdf", "https://www.mofa.go.kr/a/p"),)

    def test_corrections_after_the_migration(self, old_database: Path) -> None:
        """A correction of a release migrated without texts keeps the superseded text, and
        is due to the reader as Updated (the revision watermark still counts rows)."""
        with Store(old_database) as store:
            row = store.stored_version("m_5676", 2)
            assert row is not None
            through_before = store.watermarks()
            revision = store.update_release(
                row.row_id,
                make_release(
                    2, "Statement on the 80th Anniversary", dt.date(2026, 11, 3), "1. A statement."
                ),
                content_hash="h-2-2",
                classification=tags(),
            )
            through_after = store.watermarks()
            seen = store.last_seen_revision(READER, row.row_id)
            current = store.release("m_5676-2")
        assert revision == 2
        assert through_after[1] == through_before[1] + 1
        assert seen == SeenRevision(1, "Statement on the Anniversary", "1. A statement.", ())
        assert current is not None
        assert describe_changes(seen, current) == "title (was “Statement on the Anniversary”)"

    def test_revision_without_recorded_attachments_stays_unrecorded(
        self, old_database: Path
    ) -> None:
        """A revision stored before schema 2 recorded no attachments: superseded after the
        migration, it still says "not recorded" (None), so no attachment change is invented."""
        with Store(old_database) as store:
            row = store.stored_version("m_5676", 3)
            assert row is not None
            store.update_release(
                row.row_id,
                make_release(
                    3,
                    "Old Notice (revised)",
                    dt.date(2026, 10, 1),
                    "1. Old.",
                    attachments=(Attachment("New.pdf", "https://www.mofa.go.kr/a/n"),),
                ),
                content_hash="h-3-2",
                classification=tags(),
            )
            store.db.execute(
                "INSERT INTO deliveries(subscriber, digest_key, message_id, created_at, "
                "next_attempt_at) VALUES (?, 'immediate-9', '<9@test>', '2026-10-02', '2026-10-02')",
                (READER,),
            )
            store.db.execute(
                "INSERT INTO delivery_items(delivery_id, subscriber, release_id, revision, "
                "updated, position) VALUES (last_insert_rowid(), ?, ?, 1, 0, 0)",
                (READER, row.row_id),
            )
            seen = store.last_seen_revision(READER, row.row_id)
            current = store.release("m_5676-3")
        assert seen == SeenRevision(1, "Old Notice", "1. Old.", None)
        assert current is not None
        assert describe_changes(seen, current) == "title (was “Old Notice”)"

    def test_compacted(self, old_database: Path) -> None:
        """The pages the dropped copies held are given back: the file shrinks."""
        with sqlite3.connect(old_database) as conn:
            conn.execute("PRAGMA journal_mode=DELETE")
            # Enough text that the copies matter: 200 releases of 3 kB.
            for seq in range(1000, 1200):
                old_insert(
                    conn,
                    make_release(seq, f"Title {seq}", dt.date(2026, 1, 1), "x" * 3000),
                    "2026-01-01T00:00:00.000000+00:00",
                )
        conn.close()
        size_before = old_database.stat().st_size
        with Store(old_database) as store:
            free = store.db.execute("PRAGMA freelist_count").fetchone()[0]
        size_after = sum(p.stat().st_size for p in old_database.parent.glob(DB_NAME + "*"))
        assert free == 0
        assert size_after < size_before * 0.7
