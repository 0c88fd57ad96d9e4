"""The durable state: one SQLite file, and the one class that speaks SQL to it.

Everything the service must not forget across crashes lives here — seen releases and their
revisions, themes, source health, subscribers, and the delivery ledger (the outbox). Keeping all
SQL in this module keeps the path to another database (DESIGN §9) one file long.

Migrations are numbered functions in :mod:`monitor.store.migrations`; ``PRAGMA user_version`` records
the last one applied, and each runs in its own transaction together with the version bump.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.clock import Clock, system_clock
from monitor.closing import Closing
from monitor.errors import StoreError
from monitor.models import Attachment, Classification, Evidence, Release, ThemeTag, release_id
from monitor.store.migrations import MIGRATIONS
from monitor.store.sourcestate import SourceStateMixin

log = logging.getLogger(__name__)

DB_NAME = "monitor.sqlite3"


def utcnow() -> dt.datetime:
    """Aware UTC now; one function so tests and the store agree on the clock."""
    return dt.datetime.now(dt.UTC)


def _ts(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _parse_ts(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What ``status`` and ``/healthz`` report for one source."""

    id: str
    kind: str
    url: str
    baseline_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_success_at: dt.datetime | None
    consecutive_failures: int
    last_error: str | None
    alerted_at: dt.datetime | None
    etag: str | None
    last_modified: str | None
    total_count: int | None


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """What the store knows of a release already seen, to decide new / unchanged / updated."""

    row_id: int
    content_hash: str
    revision: int


#: How a reader unsubscribes themselves: the button of the confirmation page, or an RFC 8058
#: one-click POST from their mail client ("unsubscribe link" is what 0.1.0 recorded for both).
READER_REASONS = ("one-click", "confirmation page", "unsubscribe link")


@dataclass(frozen=True, slots=True)
class Suppression:
    """An address that must not be mailed: since when, how (``reason``) and by whom."""

    email: str
    created_at: dt.datetime
    reason: str
    actor: str | None

    @property
    def by_reader(self) -> bool:
        """Whether the reader asked for it (then only a deliberate operator may undo it)."""
        return self.reason in READER_REASONS


@dataclass(frozen=True, slots=True)
class SubscriptionChange:
    """One row of the subscription log: ``unsubscribe`` or ``resubscribe``, when, how, by whom."""

    action: str
    at: dt.datetime
    how: str
    actor: str | None

    def as_json(self) -> dict[str, str | None]:
        """The change as ``subscribers --json`` prints it (time in ISO 8601 UTC)."""
        at = self.at.astimezone(dt.UTC).isoformat(timespec="seconds")
        return {"action": self.action, "at": at, "how": self.how, "by": self.actor}


@dataclass(frozen=True, slots=True)
class SeenRevision:
    """A revision as a reader saw it; ``attachments`` None when not recorded (before 0.2)."""

    revision: int
    title: str
    body: str
    attachments: tuple[Attachment, ...] | None


@dataclass(frozen=True, slots=True)
class PlanningWindow:
    """A subscriber's place in the release order: due is what was stored after ``planned_row``
    (and revisions after ``planned_revision_row``); ``added_at`` dates their first period."""

    added_at: dt.datetime
    added_row: int
    planned_row: int
    planned_revision_row: int


@dataclass(frozen=True, slots=True)
class TransportHealth:
    """The mail transport's state: failing since when, how often in a row, the last error."""

    failing_since: dt.datetime | None
    last_failure_at: dt.datetime | None
    last_success_at: dt.datetime | None
    consecutive_failures: int
    last_error: str | None
    alerted_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the outbox: a digest for one subscriber, frozen at planning time."""

    id: int
    subscriber: str
    digest_key: str
    status: str
    message_id: str
    created_at: dt.datetime
    attempts: int
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    last_error: str | None
    uncertain: int = 0  # sends whose final reply never came (the server may have the mail)


class OutboxMixin:
    """The delivery ledger's SQL; mixed into :class:`Store` (kept apart only for length)."""

    db: sqlite3.Connection
    transaction: Any

    def planning_window(self, email: str) -> PlanningWindow | None:
        """Where a subscriber's news starts: releases stored after ``planned_row`` are due."""
        row = self.db.execute(
            "SELECT added_at, added_row, planned_row, planned_revision_row FROM subscribers "
            "WHERE email = ?",
            (email.lower(),),
        ).fetchone()
        if row is None:
            return None
        added = _parse_ts(row[0])
        assert added is not None
        return PlanningWindow(added, row[1], max(row[1], row[2]), row[3])

    def watermarks(self) -> tuple[int, int]:
        """(last release row id, last revision rowid): the monotonic "now" of what is stored.

        Row ids only grow (no release is ever deleted), unlike the wall clock, which NTP or a VM
        resync may step back.
        """
        row = self.db.execute(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM releases), "
            "(SELECT COALESCE(MAX(rowid), 0) FROM release_revisions)"
        ).fetchone()
        return int(row[0]), int(row[1])

    def candidate_releases(
        self, email: str, window: PlanningWindow, through: tuple[int, int]
    ) -> list[tuple[int, int, bool]]:
        """(row id, revision, updated) of releases this subscriber may be due, oldest first.

        New: stored after the window's ``planned_row`` and up to ``through[0]``, and never
        planned for them. Updated: a revision stored in the window, and an earlier revision was
        already planned for them — so a correction is only ever announced to someone who saw the
        original. Order is by row id, never by wall-clock time (see :meth:`watermarks`).
        """
        rows = self.db.execute(
            """
            SELECT r.id, r.revision, 0 FROM releases r
             WHERE r.baseline = 0 AND r.id > ? AND r.id <= ?
               AND NOT EXISTS (SELECT 1 FROM delivery_items i
                                WHERE i.subscriber = ? AND i.release_id = r.id)
            UNION ALL
            SELECT r.id, r.revision, 1 FROM releases r
             WHERE EXISTS (SELECT 1 FROM release_revisions v
                            WHERE v.release_id = r.id AND v.revision > 1
                              AND v.rowid > ? AND v.rowid <= ?)
               AND EXISTS (SELECT 1 FROM delivery_items i
                            WHERE i.subscriber = ? AND i.release_id = r.id AND i.revision < r.revision)
               AND NOT EXISTS (SELECT 1 FROM delivery_items i
                                WHERE i.subscriber = ? AND i.release_id = r.id AND i.revision = r.revision)
            """,
            (
                window.planned_row,
                through[0],
                email.lower(),
                window.planned_revision_row,
                through[1],
                email.lower(),
                email.lower(),
            ),
        ).fetchall()
        return sorted(((r[0], r[1], bool(r[2])) for r in rows), key=lambda r: r[0])

    def plan_delivery(
        self,
        email: str,
        digest_key: str,
        message_id: str,
        items: list[tuple[int, int, bool]],
        *,
        through: tuple[int, int],
        now: dt.datetime,
        allow_empty: bool = False,
    ) -> bool:
        """Freeze a digest and advance the subscriber's window to ``through`` (the
        :meth:`watermarks` the items were chosen under), atomically; idempotent per key.

        With no items only the window moves (nothing to send). Returns True if a delivery was
        created by this call.
        """
        email = email.lower()
        with self.transaction() as db:
            created = False
            if items or allow_empty:
                cursor = db.execute(
                    "INSERT INTO deliveries(subscriber, digest_key, message_id, created_at, next_attempt_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(subscriber, digest_key) DO NOTHING",
                    (email, digest_key, message_id, _ts(now), _ts(now)),
                )
                created = cursor.rowcount == 1
                if created:
                    db.executemany(
                        "INSERT INTO delivery_items(delivery_id, subscriber, release_id, revision, updated, "
                        "position) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        [
                            (cursor.lastrowid, email, row_id, revision, updated, position)
                            for position, (row_id, revision, updated) in enumerate(items)
                        ],
                    )
            db.execute(
                "UPDATE subscribers SET planned_until = ?, planned_row = MAX(planned_row, ?), "
                "planned_revision_row = MAX(planned_revision_row, ?) WHERE email = ?",
                (_ts(now), through[0], through[1], email),
            )
        return created

    def has_delivery(self, email: str, digest_key: str) -> bool:
        """Whether this digest period was already planned for the subscriber."""
        row = self.db.execute(
            "SELECT 1 FROM deliveries WHERE subscriber = ? AND digest_key = ?",
            (email.lower(), digest_key),
        ).fetchone()
        return row is not None

    def claim_delivery(self, now: dt.datetime, lease: dt.timedelta) -> Delivery | None:
        """Take the oldest due delivery for ``lease``; a crashed sender's lease simply expires."""
        with self.transaction() as db:
            row = db.execute(
                "UPDATE deliveries SET lease_until = ?, attempts = attempts + 1 WHERE id = ("
                " SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?"
                " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT 1) RETURNING *",
                (_ts(now + lease), _ts(now), _ts(now)),
            ).fetchone()
        return None if row is None else _delivery_from_row(row)

    def release_leases(self) -> int:
        """Free the leases of sends interrupted by a crash; only for the state lock's holder."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE deliveries SET lease_until = NULL WHERE status = 'pending' AND lease_until IS NOT NULL"
            )
        return cursor.rowcount

    def delivery_items(self, delivery_id: int) -> list[tuple[int, bool]]:
        """(release row id, updated) of a planned delivery, in planned order."""
        rows = self.db.execute(
            "SELECT release_id, updated FROM delivery_items WHERE delivery_id = ? ORDER BY position",
            (delivery_id,),
        )
        return [(r[0], bool(r[1])) for r in rows]

    def mark_sent(self, delivery_id: int, now: dt.datetime) -> None:
        """The server (or the Maildir) accepted the message: never send it again."""
        with self.transaction() as db:
            db.execute(
                "UPDATE deliveries SET status = 'sent', sent_at = ?, lease_until = NULL, last_error = NULL "
                "WHERE id = ?",
                (_ts(now), delivery_id),
            )

    def mark_retry(self, delivery_id: int, error: str, next_attempt_at: dt.datetime) -> None:
        """A temporary failure: keep it pending, try again later."""
        with self.transaction() as db:
            db.execute(
                "UPDATE deliveries SET lease_until = NULL, last_error = ?, next_attempt_at = ? WHERE id = ?",
                (error[:2000], _ts(next_attempt_at), delivery_id),
            )

    def mark_uncertain(
        self, delivery_id: int, error: str, next_attempt_at: dt.datetime, *, give_up: bool
    ) -> None:
        """The server took the data but never answered: count it; retry, or stop (``give_up``)."""
        status = "failed" if give_up else "pending"
        with self.transaction() as db:
            db.execute(
                "UPDATE deliveries SET status = ?, uncertain = uncertain + 1, lease_until = NULL, "
                "last_error = ?, next_attempt_at = ? WHERE id = ?",
                (status, error[:2000], _ts(next_attempt_at), delivery_id),
            )

    def transport_health(self) -> TransportHealth:
        """The mail transport's recorded state (one row)."""
        row = self.db.execute("SELECT * FROM transport_health WHERE id = 1").fetchone()
        return TransportHealth(
            failing_since=_parse_ts(row["failing_since"]),
            last_failure_at=_parse_ts(row["last_failure_at"]),
            last_success_at=_parse_ts(row["last_success_at"]),
            consecutive_failures=row["consecutive_failures"],
            last_error=row["last_error"],
            alerted_at=_parse_ts(row["alerted_at"]),
        )

    def record_transport_success(self, now: dt.datetime) -> None:
        """The transport delivered: it is healthy again (the alert state is kept for alerts)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE transport_health SET failing_since = NULL, consecutive_failures = 0, "
                "last_success_at = ? WHERE id = 1",
                (_ts(now),),
            )

    def record_transport_failure(self, error: str, now: dt.datetime) -> TransportHealth:
        """The transport could not deliver (not one recipient's fault); returns the new state."""
        with self.transaction() as db:
            db.execute(
                "UPDATE transport_health SET failing_since = COALESCE(failing_since, ?), "
                "consecutive_failures = consecutive_failures + 1, last_failure_at = ?, "
                "last_error = ? WHERE id = 1",
                (_ts(now), _ts(now), error[:2000]),
            )
        return self.transport_health()

    def set_transport_alerted(self, alerted: bool, now: dt.datetime) -> None:
        """Remember that the operator was told the transport fails (or that it recovered)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE transport_health SET alerted_at = ? WHERE id = 1",
                (_ts(now) if alerted else None,),
            )

    def mark_failed(self, delivery_id: int, error: str) -> None:
        """A permanent failure (e.g. 550 for the recipient): give up on this one delivery."""
        with self.transaction() as db:
            db.execute(
                "UPDATE deliveries SET status = 'failed', lease_until = NULL, last_error = ? WHERE id = ?",
                (error[:2000], delivery_id),
            )

    def delivery_counts(self) -> dict[str, int]:
        """Deliveries by state: pending, sent, failed."""
        counts = {"pending": 0, "sent": 0, "failed": 0}
        for status, count in self.db.execute(
            "SELECT status, COUNT(*) FROM deliveries GROUP BY status"
        ):
            counts[status] = count
        return counts

    def deliveries(self, *, status: str | None = None, limit: int = 50) -> list[Delivery]:
        """Recent deliveries, newest first."""
        sql, args = "SELECT * FROM deliveries", []
        if status:
            sql, args = sql + " WHERE status = ?", [status]
        rows = self.db.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
        return [_delivery_from_row(r) for r in rows]


def _delivery_from_row(row: sqlite3.Row) -> Delivery:
    created, next_attempt = _parse_ts(row["created_at"]), _parse_ts(row["next_attempt_at"])
    assert created is not None and next_attempt is not None
    return Delivery(
        id=row["id"],
        subscriber=row["subscriber"],
        digest_key=row["digest_key"],
        status=row["status"],
        message_id=row["message_id"],
        created_at=created,
        attempts=row["attempts"],
        next_attempt_at=next_attempt,
        sent_at=_parse_ts(row["sent_at"]),
        last_error=row["last_error"],
        uncertain=row["uncertain"],
    )


class Store(OutboxMixin, SourceStateMixin, Closing):
    """All reads and writes of the state database. Not shared between threads: open one each."""

    def __init__(self, path: Path, *, clock: Clock = system_clock) -> None:
        self.path = path
        self.clock = clock  # stamps come from it (issue 9, phase C moves every stamp onto it)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the state database {path}: {exc}") from exc
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    @classmethod
    def in_dir(cls, state_dir: Path, *, clock: Clock = system_clock) -> Store:
        """Open (creating if needed) the database inside ``state_dir``."""
        return cls(state_dir / DB_NAME, clock=clock)

    def close(self) -> None:
        """Close the connection; the WAL is checkpointed by SQLite."""
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction; ``IMMEDIATE`` so two writers queue instead of deadlocking."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        """The number of migrations applied."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        fresh = self.schema_version == 0
        if fresh:  # a new user needs one line, not the list of migrations
            log.info("creating the state database %s", self.path)
        for number, migration in enumerate(MIGRATIONS, start=1):
            if self.schema_version >= number:
                continue
            log.log(
                logging.DEBUG if fresh else logging.INFO,
                "applying database migration %d (%s)",
                number,
                migration.__name__,
            )
            try:
                with self.transaction() as db:
                    migration(db)
                    db.execute(f"PRAGMA user_version = {number}")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: migration {number} failed: {exc}") from exc
        if self.schema_version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer mofa-monitor (schema {self.schema_version}); upgrade"
            )

    # -- settings ------------------------------------------------------------------------------

    def setting(self, key: str) -> str | None:
        """A small persistent value (e.g. the generated unsubscribe secret)."""
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_setting_once(self, key: str, value: str) -> str:
        """Store ``value`` unless a value exists; return the stored one (race-free)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (key, value),
            )
        return self.setting(key) or value

    # -- sources -------------------------------------------------------------------------------

    def ensure_source(self, source_id: str, kind: str, url: str) -> SourceHealth:
        """Register a configured source (kind/url follow the config) and return its health row."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sources(id, kind, url, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, url = excluded.url",
                (source_id, kind, url, _ts(utcnow())),
            )
        health = self.source(source_id)
        assert health is not None
        return health

    def source(self, source_id: str) -> SourceHealth | None:
        """Health and bookkeeping of one source, or None if it never ran."""
        row = self.db.execute("SELECT * FROM sources WHERE id = ?", (source_id,)).fetchone()
        return None if row is None else _source_from_row(row)

    def sources(self) -> list[SourceHealth]:
        """Every source ever polled, by id."""
        return [_source_from_row(r) for r in self.db.execute("SELECT * FROM sources ORDER BY id")]

    def record_poll_success(
        self,
        source_id: str,
        *,
        total: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        baseline: bool = False,
    ) -> None:
        """Reset the failure counter; remember validators and mark the baseline done."""
        now = _ts(utcnow())
        with self.transaction() as db:
            db.execute(
                "UPDATE sources SET last_attempt_at = ?, last_success_at = ?, consecutive_failures = 0, "
                "last_error = NULL, total_count = COALESCE(?, total_count), etag = ?, last_modified = ?, "
                "baseline_at = CASE WHEN ? THEN COALESCE(baseline_at, ?) ELSE baseline_at END WHERE id = ?",
                (now, now, total, etag, last_modified, baseline, now, source_id),
            )

    def record_poll_failure(self, source_id: str, error: str) -> int:
        """Count one more consecutive failure; return the new count."""
        with self.transaction() as db:
            db.execute(
                "UPDATE sources SET last_attempt_at = ?, consecutive_failures = consecutive_failures + 1, "
                "last_error = ? WHERE id = ?",
                (_ts(utcnow()), error[:2000], source_id),
            )
        health = self.source(source_id)
        return health.consecutive_failures if health else 0

    def set_alerted(self, source_id: str, alerted: bool) -> None:
        """Remember that an operator alert went out (or that recovery was announced)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE sources SET alerted_at = ? WHERE id = ?",
                (_ts(utcnow()) if alerted else None, source_id),
            )

    # -- poll runs -----------------------------------------------------------------------------

    def start_poll_run(self) -> int:
        """A numbered poll run; immediate digests are keyed by it."""
        with self.transaction() as db:
            cursor = db.execute("INSERT INTO poll_runs(started_at) VALUES (?)", (_ts(utcnow()),))
        return int(cursor.lastrowid or 0)

    def finish_poll_run(self, run_id: int, new: int, updated: int) -> None:
        """Close a poll run with its counts."""
        with self.transaction() as db:
            db.execute(
                "UPDATE poll_runs SET finished_at = ?, new_releases = ?, updated_releases = ? WHERE id = ?",
                (_ts(utcnow()), new, updated, run_id),
            )

    # -- releases ------------------------------------------------------------------------------

    def _seq_rows(
        self, table: str, columns: str, board: str, seqs: Iterable[int]
    ) -> list[sqlite3.Row]:
        """Rows of ``table`` for these seqs of a board (table and columns: names from this module)."""
        seqs = list(seqs)
        if not seqs:
            return []
        marks = ",".join("?" * len(seqs))
        return self.db.execute(
            f"SELECT {columns} FROM {table} WHERE board = ? AND seq IN ({marks})", (board, *seqs)
        ).fetchall()

    def known_seqs(self, board: str, seqs: Iterable[int]) -> set[int]:
        """Which of these seqs of a board are already stored."""
        return {int(r["seq"]) for r in self._seq_rows("releases", "seq", board, seqs)}

    def stored_titles(self, board: str, seqs: Iterable[int]) -> dict[int, str]:
        """The title of each of these seqs of a board that is stored."""
        rows = self._seq_rows("releases", "seq, title", board, seqs)
        return {int(r["seq"]): r["title"] for r in rows}

    def listed_seqs(self, board: str, seqs: Iterable[int]) -> set[int]:
        """Which of these seqs were already seen in a listing (stored or not)."""
        return {int(r["seq"]) for r in self._seq_rows("listed", "seq", board, seqs)}

    def owed_listings(self, boards: Iterable[str]) -> dict[tuple[str, int], dt.datetime]:
        """Rows of these boards listed but never stored (their article failed) → first listed."""
        boards = list(boards)
        if not boards:
            return {}
        marks = ",".join("?" * len(boards))
        rows = self.db.execute(
            f"SELECT l.board, l.seq, l.first_listed_at FROM listed l WHERE l.board IN ({marks}) "
            "AND NOT EXISTS (SELECT 1 FROM releases r WHERE r.board = l.board AND r.seq = l.seq)",
            boards,
        )
        return {(r[0], int(r[1])): _parse_ts(r[2]) for r in rows}  # type: ignore[misc]

    def mark_listed(self, entries: Iterable[tuple[str, int]]) -> None:
        """Remember listing rows seen, so the next poll knows where old rows begin."""
        now = _ts(utcnow())
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO listed(board, seq, first_listed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(board, seq, now) for board, seq in entries],
            )

    def stored_version(self, board: str, seq: int) -> StoredVersion | None:
        """The stored hash and revision of a release, if seen."""
        row = self.db.execute(
            "SELECT id, content_hash, revision FROM releases WHERE board = ? AND seq = ?",
            (board, seq),
        ).fetchone()
        return None if row is None else StoredVersion(row[0], row[1], row[2])

    def insert_release(
        self,
        release: Release,
        *,
        content_hash: str,
        baseline: bool,
        poll_run_id: int | None,
        classification: Classification,
    ) -> int:
        """Store a new release with its tags; returns its row id. Idempotent on (board, seq)."""
        now = utcnow()
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO releases(board, seq, source_id, title, date, url, body, image_only, "
                "attachments, content_hash, first_seen_at, baseline, poll_run_id, summary) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(board, seq) DO NOTHING",
                (
                    release.board,
                    release.seq,
                    release.source,
                    release.title,
                    release.date.isoformat() if release.date else None,
                    release.url,
                    release.body,
                    release.image_only,
                    _attachments_json(release.attachments),
                    content_hash,
                    _ts(now),
                    baseline,
                    poll_run_id,
                    release.summary,
                ),
            )
            if cursor.rowcount == 0:
                existing = self.stored_version(release.board, release.seq)
                return existing.row_id if existing else 0
            row_id = int(cursor.lastrowid or 0)
            db.execute(
                "INSERT INTO release_revisions(release_id, revision, title, body, content_hash, "
                "seen_at, attachments) VALUES (?, 1, ?, ?, ?, ?, ?)",
                (
                    row_id,
                    release.title,
                    release.body,
                    content_hash,
                    _ts(now),
                    _attachments_json(release.attachments),
                ),
            )
            self._write_tags(db, row_id, classification)
        return row_id

    def update_release(
        self, row_id: int, release: Release, *, content_hash: str, classification: Classification
    ) -> int:
        """Record a changed title/body as a new revision and mark the release updated."""
        now = _ts(utcnow())
        with self.transaction() as db:
            revision = db.execute(
                "SELECT revision + 1 FROM releases WHERE id = ?", (row_id,)
            ).fetchone()[0]
            db.execute(
                "UPDATE releases SET title = ?, date = ?, body = ?, image_only = ?, attachments = ?, "
                "content_hash = ?, revision = ?, updated_at = ?, summary = ? WHERE id = ?",
                (
                    release.title,
                    release.date.isoformat() if release.date else None,
                    release.body,
                    release.image_only,
                    _attachments_json(release.attachments),
                    content_hash,
                    revision,
                    now,
                    release.summary,
                    row_id,
                ),
            )
            db.execute(
                "INSERT INTO release_revisions(release_id, revision, title, body, content_hash, "
                "seen_at, attachments) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    row_id,
                    revision,
                    release.title,
                    release.body,
                    content_hash,
                    now,
                    _attachments_json(release.attachments),
                ),
            )
            self._write_tags(db, row_id, classification)
        return int(revision)

    def retag(self, row_id: int, classification: Classification, summary: str) -> None:
        """Replace the themes, countries and summary of a release (``reclassify``)."""
        with self.transaction() as db:
            db.execute("UPDATE releases SET summary = ? WHERE id = ?", (summary, row_id))
            self._write_tags(db, row_id, classification)

    @staticmethod
    def _write_tags(db: sqlite3.Connection, row_id: int, classification: Classification) -> None:
        db.execute("DELETE FROM release_themes WHERE release_id = ?", (row_id,))
        db.executemany(
            "INSERT INTO release_themes(release_id, theme, score, evidence) VALUES (?, ?, ?, ?)",
            [
                (
                    row_id,
                    tag.theme,
                    tag.score,
                    json.dumps([[e.term, e.where, e.count] for e in tag.evidence]),
                )
                for tag in classification.themes
            ],
        )
        db.execute(
            "UPDATE releases SET countries = ?, classifier_version = ? WHERE id = ?",
            (json.dumps(list(classification.countries)), classification.version, row_id),
        )

    def releases(
        self,
        *,
        theme: str | None = None,
        since: dt.date | None = None,
        limit: int | None = None,
        where: str = "1",
        params: tuple[object, ...] = (),
    ) -> list[Release]:
        """Stored releases, newest first (by date, then first seen)."""
        sql = "SELECT * FROM releases r WHERE " + where
        args: list[object] = list(params)
        if theme:
            sql += " AND EXISTS (SELECT 1 FROM release_themes t WHERE t.release_id = r.id AND t.theme = ?)"
            args.append(theme)
        if since:
            sql += " AND r.date >= ?"
            args.append(since.isoformat())
        sql += " ORDER BY r.date DESC, r.first_seen_at DESC, r.seq DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        rows = self.db.execute(sql, args).fetchall()
        return self._with_tags(rows)

    def release(self, public_id: str) -> Release | None:
        """One release by its public id (``m_5676-322002``) or bare seq when unambiguous."""
        board, _, seq = public_id.rpartition("-")
        if not seq.isdigit():
            return None
        where, params = (
            ("r.board = ? AND r.seq = ?", (board, int(seq)))
            if board
            else ("r.seq = ?", (int(seq),))
        )
        found = self.releases(where=where, params=params, limit=2)
        return found[0] if len(found) == 1 else None

    def releases_by_row(self, row_ids: list[int]) -> dict[int, Release]:
        """Releases by database row id (the outbox refers to rows)."""
        if not row_ids:
            return {}
        marks = ",".join("?" * len(row_ids))
        rows = self.db.execute(
            f"SELECT * FROM releases r WHERE r.id IN ({marks})", row_ids
        ).fetchall()
        return dict(zip((r["id"] for r in rows), self._with_tags(rows), strict=True))

    def release_rows_for_reclassify(self) -> list[tuple[int, str, str]]:
        """(row id, title, body) of every release, for re-tagging after rules change."""
        return [
            tuple(r) for r in self.db.execute("SELECT id, title, body FROM releases ORDER BY id")
        ]

    def count_releases(self) -> int:
        """How many releases the archive holds."""
        return int(self.db.execute("SELECT COUNT(*) FROM releases").fetchone()[0])

    def _with_tags(self, rows: list[sqlite3.Row]) -> list[Release]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        tags: dict[int, list[ThemeTag]] = {i: [] for i in ids}
        marks = ",".join("?" * len(ids))
        for t in self.db.execute(
            f"SELECT * FROM release_themes WHERE release_id IN ({marks}) ORDER BY score DESC, theme",
            ids,
        ):
            evidence = tuple(
                Evidence(term, where, count) for term, where, count in json.loads(t["evidence"])
            )
            tags[t["release_id"]].append(ThemeTag(t["theme"], t["score"], evidence))
        return [_release_from_row(r, tuple(tags[r["id"]])) for r in rows]

    # -- subscribers and suppressions ----------------------------------------------------------

    def sync_subscribers(self, emails: Iterable[str]) -> None:
        """Record when each configured address was first seen; they get only releases stored
        later (by row order, see :meth:`OutboxMixin.watermarks`)."""
        now = _ts(utcnow())
        with self.transaction() as db:
            rows, revisions = self.watermarks()
            db.executemany(
                "INSERT INTO subscribers(email, added_at, added_row, planned_row, "
                "planned_revision_row) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(e.lower(), now, rows, rows, revisions) for e in emails],
            )

    def suppress(self, email: str, reason: str, *, actor: str | None = None) -> bool:
        """Stop all mail to an address; True if it was not suppressed before.

        ``reason`` says how (one of :data:`READER_REASONS` when the reader did it, else e.g.
        ``"operator"``); ``actor`` who, when an operator did it. Both are logged.
        """
        now = _ts(utcnow())
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO suppressions(email, created_at, reason, actor) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (email.lower(), now, reason, actor),
            )
            if cursor.rowcount == 1:
                db.execute(
                    "INSERT INTO subscription_log(email, at, action, how, actor) "
                    "VALUES (?, ?, 'unsubscribe', ?, ?)",
                    (email.lower(), now, reason, actor),
                )
        return cursor.rowcount == 1

    def suppressed(self) -> set[str]:
        """Addresses that unsubscribed; they win over the config file."""
        return {r[0] for r in self.db.execute("SELECT email FROM suppressions")}

    def suppressions(self) -> dict[str, Suppression]:
        """Every suppression by (lower-case) address."""
        rows = self.db.execute("SELECT * FROM suppressions")
        return {r["email"]: _suppression_from_row(r) for r in rows}

    def unsuppress(self, email: str, *, actor: str | None, now: dt.datetime) -> Suppression | None:
        """Lift a suppression; the address then gets only releases first seen from ``now``.

        Without moving the planning window, the first digest after a resubscription would carry
        everything published while the reader was away. Returns the lifted suppression, or None.
        """
        email = email.lower()
        with self.transaction() as db:
            row = db.execute("SELECT * FROM suppressions WHERE email = ?", (email,)).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM suppressions WHERE email = ?", (email,))
            db.execute(
                "UPDATE subscribers SET planned_until = ?, "
                "planned_row = MAX(planned_row, (SELECT COALESCE(MAX(id), 0) FROM releases)), "
                "planned_revision_row = MAX(planned_revision_row, "
                "(SELECT COALESCE(MAX(rowid), 0) FROM release_revisions)) WHERE email = ?",
                (_ts(now), email),
            )
            db.execute(
                "INSERT INTO subscription_log(email, at, action, how, actor) "
                "VALUES (?, ?, 'resubscribe', 'operator', ?)",
                (email, _ts(now), actor),
            )
        return _suppression_from_row(row)

    def last_subscription_changes(self) -> dict[str, SubscriptionChange]:
        """The latest unsubscribe/resubscribe of each address that ever had one."""
        rows = self.db.execute(
            "SELECT * FROM subscription_log WHERE id IN "
            "(SELECT MAX(id) FROM subscription_log GROUP BY email)"
        )
        return {
            r["email"]: SubscriptionChange(
                r["action"], dt.datetime.fromisoformat(r["at"]), r["how"], r["actor"]
            )
            for r in rows
        }

    def known_subscribers(self) -> dict[str, dt.datetime]:
        """Every address ever configured (lower-case) → when it was first seen."""
        rows = self.db.execute("SELECT email, added_at FROM subscribers")
        return {r[0]: dt.datetime.fromisoformat(r[1]) for r in rows}

    def subscriber_deliveries(self) -> dict[str, tuple[dt.datetime | None, int, int]]:
        """Per address: (last digest sent, pending deliveries, failed deliveries)."""
        rows = self.db.execute(
            "SELECT subscriber, MAX(sent_at), SUM(status = 'pending'), SUM(status = 'failed') "
            "FROM deliveries GROUP BY subscriber"
        )
        return {r[0]: (_parse_ts(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in rows}

    def last_seen_revision(
        self, email: str, row_id: int, *, before_delivery: int | None = None
    ) -> SeenRevision | None:
        """The latest revision of a release planned for ``email`` in a delivery older than
        ``before_delivery`` (any delivery when None): what the reader last saw, to say what an
        Updated item changed. None if they never got it."""
        row = self.db.execute(
            "SELECT rv.revision, rv.title, rv.body, rv.attachments FROM release_revisions rv "
            "WHERE rv.release_id = ? AND rv.revision = (SELECT MAX(i.revision) FROM delivery_items i"
            " WHERE i.subscriber = ? AND i.release_id = ? AND i.delivery_id < ?)",
            (row_id, email.lower(), row_id, before_delivery if before_delivery else 2**62),
        ).fetchone()
        if row is None:
            return None
        attachments = (
            None
            if row["attachments"] is None
            else tuple(Attachment(a["name"], a["url"]) for a in json.loads(row["attachments"]))
        )
        return SeenRevision(row["revision"], row["title"], row["body"], attachments)

    def rebase_urls(self, old: str, new: str) -> int:
        """Replace the prefix ``old`` of release and attachment links by ``new`` (the demo's
        local board is gone once it exits; its releases are the ministry's own)."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE releases SET url = ? || substr(url, ?), attachments = replace(attachments, ?, ?) "
                "WHERE substr(url, 1, ?) = ?",
                (new, len(old) + 1, old, new, len(old), old),
            )
        return cursor.rowcount


def _attachments_json(attachments: Iterable[Attachment]) -> str:
    return json.dumps([{"name": a.name, "url": a.url} for a in attachments], ensure_ascii=False)


def _suppression_from_row(row: sqlite3.Row) -> Suppression:
    return Suppression(
        email=row["email"],
        created_at=dt.datetime.fromisoformat(row["created_at"]),
        reason=row["reason"],
        actor=row["actor"],
    )


def _source_from_row(row: sqlite3.Row) -> SourceHealth:
    return SourceHealth(
        id=row["id"],
        kind=row["kind"],
        url=row["url"],
        baseline_at=_parse_ts(row["baseline_at"]),
        last_attempt_at=_parse_ts(row["last_attempt_at"]),
        last_success_at=_parse_ts(row["last_success_at"]),
        consecutive_failures=row["consecutive_failures"],
        last_error=row["last_error"],
        alerted_at=_parse_ts(row["alerted_at"]),
        etag=row["etag"],
        last_modified=row["last_modified"],
        total_count=row["total_count"],
    )


def _release_from_row(row: sqlite3.Row, themes: tuple[ThemeTag, ...]) -> Release:
    return Release(
        id=release_id(row["board"], row["seq"]),
        source=row["source_id"],
        board=row["board"],
        seq=row["seq"],
        title=row["title"],
        date=dt.date.fromisoformat(row["date"]) if row["date"] else None,
        url=row["url"],
        body=row["body"],
        summary=row["summary"],
        themes=themes,
        countries=tuple(json.loads(row["countries"])),
        attachments=tuple(Attachment(a["name"], a["url"]) for a in json.loads(row["attachments"])),
        image_only=bool(row["image_only"]),
        first_seen_at=_parse_ts(row["first_seen_at"]),
        updated_at=_parse_ts(row["updated_at"]),
        revision=row["revision"],
    )
