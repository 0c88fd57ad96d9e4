"""Numbered schema migrations, applied in order by :class:`monitor.store.db.Database`.

Append a new function for every schema change; never edit one that has shipped — databases in the
field have already run it. ``PRAGMA user_version`` holds the count applied.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def _run(db: sqlite3.Connection, script: str) -> None:
    """Run statements one by one: ``executescript`` would commit and break the transaction."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _m1_initial(db: sqlite3.Connection) -> None:
    _run(
        db,
        """
        CREATE TABLE sources (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            url TEXT NOT NULL,
            created_at TEXT NOT NULL,
            baseline_at TEXT,
            last_attempt_at TEXT,
            last_success_at TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            alerted_at TEXT,
            etag TEXT,
            last_modified TEXT,
            total_count INTEGER
        );
        CREATE TABLE poll_runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            new_releases INTEGER NOT NULL DEFAULT 0,
            updated_releases INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE releases (
            id INTEGER PRIMARY KEY,
            board TEXT NOT NULL,
            seq INTEGER NOT NULL,
            source_id TEXT NOT NULL REFERENCES sources(id),
            title TEXT NOT NULL,
            date TEXT,
            url TEXT NOT NULL,
            body TEXT NOT NULL,
            image_only INTEGER NOT NULL DEFAULT 0,
            attachments TEXT NOT NULL DEFAULT '[]',
            content_hash TEXT NOT NULL,
            revision INTEGER NOT NULL DEFAULT 1,
            first_seen_at TEXT NOT NULL,
            updated_at TEXT,
            baseline INTEGER NOT NULL DEFAULT 0,
            poll_run_id INTEGER REFERENCES poll_runs(id),
            summary TEXT NOT NULL DEFAULT '',
            countries TEXT NOT NULL DEFAULT '[]',
            classifier_version TEXT,
            UNIQUE (board, seq)
        );
        CREATE INDEX releases_first_seen ON releases(first_seen_at);
        CREATE TABLE listed (
            board TEXT NOT NULL,
            seq INTEGER NOT NULL,
            first_listed_at TEXT NOT NULL,
            PRIMARY KEY (board, seq)
        );
        CREATE TABLE release_revisions (
            release_id INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
            revision INTEGER NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (release_id, revision)
        );
        CREATE TABLE release_themes (
            release_id INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
            theme TEXT NOT NULL,
            score REAL NOT NULL,
            evidence TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (release_id, theme)
        );
        CREATE INDEX release_themes_theme ON release_themes(theme);
        CREATE TABLE subscribers (
            email TEXT PRIMARY KEY,
            added_at TEXT NOT NULL,
            planned_until TEXT
        );
        CREATE TABLE suppressions (
            email TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            subscriber TEXT NOT NULL,
            digest_key TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed')),
            message_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            lease_until TEXT,
            sent_at TEXT,
            last_error TEXT,
            UNIQUE (subscriber, digest_key)
        );
        CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
        CREATE TABLE delivery_items (
            delivery_id INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
            subscriber TEXT NOT NULL,
            release_id INTEGER NOT NULL REFERENCES releases(id),
            revision INTEGER NOT NULL,
            updated INTEGER NOT NULL DEFAULT 0,
            position INTEGER NOT NULL,
            UNIQUE (subscriber, release_id, revision)
        );
        CREATE INDEX delivery_items_delivery ON delivery_items(delivery_id);
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    )


def _m2_subscription_log(db: sqlite3.Connection) -> None:
    """Who changed a subscription, how and when (``unsubscribe``/``resubscribe``, the link); and
    each revision's attachments, so an Updated digest item can say one was added."""
    _run(
        db,
        """
        ALTER TABLE suppressions ADD COLUMN actor TEXT;
        CREATE TABLE subscription_log (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL,
            at TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('unsubscribe', 'resubscribe')),
            how TEXT NOT NULL,
            actor TEXT
        );
        CREATE INDEX subscription_log_email ON subscription_log(email, id);
        ALTER TABLE release_revisions ADD COLUMN attachments TEXT
        """,
    )


def _m3_delivery_order_and_transport(db: sqlite3.Connection) -> None:
    """What is new for whom by row order, uncertain SMTP outcomes, and the transport's health.

    ``subscribers.added_row`` / ``planned_row`` are release row ids and ``planned_revision_row``
    a ``release_revisions`` rowid: a subscriber is due what was stored after them, whatever the
    wall clock said (a clock stepped back must not hide news). Existing windows are converted
    from their timestamps. ``deliveries.uncertain`` counts sends whose final reply never came.
    ``transport_health`` is the one row of the mail transport's state for status, health and
    alerts.
    """
    _run(
        db,
        """
        ALTER TABLE subscribers ADD COLUMN added_row INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE subscribers ADD COLUMN planned_row INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE subscribers ADD COLUMN planned_revision_row INTEGER NOT NULL DEFAULT 0;
        UPDATE subscribers SET
            added_row = (SELECT COALESCE(MAX(id), 0) FROM releases
                          WHERE first_seen_at <= subscribers.added_at),
            planned_row = (SELECT COALESCE(MAX(id), 0) FROM releases
                            WHERE first_seen_at <= COALESCE(subscribers.planned_until,
                                                            subscribers.added_at)),
            planned_revision_row = (SELECT COALESCE(MAX(rowid), 0) FROM release_revisions
                                     WHERE seen_at <= COALESCE(subscribers.planned_until,
                                                               subscribers.added_at));
        ALTER TABLE deliveries ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE transport_health (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            failing_since TEXT,
            last_failure_at TEXT,
            last_success_at TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            alerted_at TEXT
        );
        INSERT INTO transport_health(id) VALUES (1)
        """,
    )


def _m4_source_waits_and_robots(db: sqlite3.Connection) -> None:
    """Per source: a server-imposed wait (Retry-After) and the last poll's skipped items;
    per origin: the cached robots.txt, so one-shot runs honour its cache lifetime too."""
    _run(
        db,
        """
        ALTER TABLE sources ADD COLUMN wait_until TEXT;
        ALTER TABLE sources ADD COLUMN wait_reason TEXT;
        ALTER TABLE sources ADD COLUMN item_problems TEXT NOT NULL DEFAULT '[]';
        CREATE TABLE robots_cache (
            origin TEXT PRIMARY KEY,
            status INTEGER NOT NULL,
            body TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        """,
    )


def _m5_subscriber_removed_at(db: sqlite3.Connection) -> None:
    """When a configured subscriber left the config: re-added, their window starts anew."""
    _run(db, "ALTER TABLE subscribers ADD COLUMN removed_at TEXT;")


def _m6_archive_at_scale(db: sqlite3.Connection) -> None:
    """An archive of 100,000 releases costs what one of 100 does.

    - ``releases_by_date`` serves ``releases --since`` (a range) in the listing's order (date,
      first seen, seq, all descending: the index read backwards), so a listing streams from the
      first row instead of sorting the whole table first.
    - A revision row no longer holds a second copy of the current text: the row of a release's
      current revision has ``title`` and ``body`` NULL, meaning "the release row's"; a row gets
      them when a newer revision supersedes it (``attachments``, small, stay in every row, NULL
      still meaning "not recorded", as before schema 2). Rows are rebuilt with an explicit
      ``id INTEGER PRIMARY KEY`` keeping each old rowid (the subscribers'
      ``planned_revision_row`` watermarks refer to them, and ``VACUUM`` may renumber an implicit
      rowid). Only a current row whose title and body equal the release row's is emptied; any
      other row keeps what it holds, so nothing is lost.
    """
    _run(
        db,
        """
        CREATE INDEX releases_by_date ON releases(date, first_seen_at, seq);
        CREATE TABLE release_revisions_v6 (
            id INTEGER PRIMARY KEY,
            release_id INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
            revision INTEGER NOT NULL,
            title TEXT,
            body TEXT,
            content_hash TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            attachments TEXT,
            UNIQUE (release_id, revision)
        );
        INSERT INTO release_revisions_v6(id, release_id, revision, title, body, content_hash,
                                         seen_at, attachments)
        SELECT v.rowid, v.release_id, v.revision,
               CASE WHEN r.id IS NULL THEN v.title END,
               CASE WHEN r.id IS NULL THEN v.body END,
               v.content_hash, v.seen_at, v.attachments
          FROM release_revisions v
          LEFT JOIN releases r
            ON r.id = v.release_id AND r.revision = v.revision AND r.title = v.title
           AND r.body = v.body
         ORDER BY v.rowid;
        DROP TABLE release_revisions;
        ALTER TABLE release_revisions_v6 RENAME TO release_revisions
        """,
    )


def _m7_listed_owed(db: sqlite3.Connection) -> None:
    """``listed.owed`` marks a listing row seen but not stored (its article failed), so a poll
    finds the few such rows through a partial index instead of anti-joining every row ever
    listed with ``releases`` (a cost that grew with the archive)."""
    _run(
        db,
        """
        ALTER TABLE listed ADD COLUMN owed INTEGER NOT NULL DEFAULT 0;
        UPDATE listed SET owed = 1 WHERE NOT EXISTS
            (SELECT 1 FROM releases r WHERE r.board = listed.board AND r.seq = listed.seq);
        CREATE INDEX listed_owed ON listed(board, seq) WHERE owed = 1
        """,
    )


def _m8_source_validated_at(db: sqlite3.Connection) -> None:
    """``sources.validated_at``: when the source's validators were last saved by a full
    (unconditional) read. Polls send them only while that is recent (see
    ``monitor.schedule.poll.FULL_READ_EVERY``); NULL — every source after the upgrade — means
    the next poll reads the listing in full."""
    _run(db, "ALTER TABLE sources ADD COLUMN validated_at TEXT;")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _m1_initial,
    _m2_subscription_log,
    _m3_delivery_order_and_transport,
    _m4_source_waits_and_robots,
    _m5_subscriber_removed_at,
    _m6_archive_at_scale,
    _m7_listed_owed,
    _m8_source_validated_at,
)

#: Migrations after which the file is compacted (``VACUUM``, outside their transaction): they free
#: a large part of the file's pages, which SQLite would otherwise keep inside it as free pages.
COMPACT_AFTER: frozenset[Callable[[sqlite3.Connection], None]] = frozenset({_m6_archive_at_scale})
