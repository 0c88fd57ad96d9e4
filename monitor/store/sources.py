"""Sources: their health, the poll runs, server-requested waits, item problems and robots.txt.

- **Health**: per source the last attempt and success, consecutive failures, the last error, the
  HTTP validators, and when an operator alert went out (``status``, ``/healthz``, alerts).
- **Poll runs**: numbered runs; immediate digests are keyed by them.
- **Waits**: a server that answered ``503``/``429`` with ``Retry-After`` is not asked again
  before the time it gave (RFC 9110 §10.2.3), across polls and across processes, so a
  ``run-once`` from cron honours it like the service does.
- **Item problems**: what the last poll of a source skipped or could not read (a poisoned
  feed item, an unreadable date), for ``status``.
- **robots.txt**: the last copy per origin with its expiry (RFC 9309 §2.4), so a one-shot run
  does not fetch it again while it is fresh, and a failed fetch can fall back to it.

Every stamp (attempts, successes, alerts, runs) reads the store's clock.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence

from monitor.models import CachedRobots, SourceHealth, SourceNotes
from monitor.store.db import Database, parse_ts, ts

#: At most this many problems are kept per source (the newest poll's first ones).
MAX_PROBLEMS = 20


def _printable(text: str) -> str:
    """Scraped text in a problem line, with controls and bidi overrides shown as escapes."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


class SourceRepository:
    """Reads and writes of ``sources``, ``poll_runs`` and ``robots_cache``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- health --------------------------------------------------------------------------------

    def ensure_source(self, source_id: str, kind: str, url: str) -> SourceHealth:
        """Register a configured source (kind/url follow the config) and return its health row.

        A source whose URL changed forgets its HTTP validators: they belong to the old URL's
        answer and, sent to the new one, could get a ``304`` for a page never read."""
        with self.db.transaction() as conn:
            conn.execute(  # upsert: SQLite ≥ 3.24 and PostgreSQL share this syntax
                "INSERT INTO sources(id, kind, url, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, url = excluded.url, "
                "etag = CASE WHEN sources.url = excluded.url THEN sources.etag END, "
                "last_modified = CASE WHEN sources.url = excluded.url "
                "THEN sources.last_modified END, "
                "validated_at = CASE WHEN sources.url = excluded.url "
                "THEN sources.validated_at END",
                (source_id, kind, url, ts(self.db.now())),
            )
        health = self.source(source_id)
        assert health is not None
        return health

    def source(self, source_id: str) -> SourceHealth | None:
        """Health and bookkeeping of one source, or None if it never ran."""
        row = self.db.conn.execute("SELECT * FROM sources WHERE id = ?", (source_id,)).fetchone()
        return None if row is None else _source_from_row(row)

    def sources(self) -> list[SourceHealth]:
        """Every source ever polled, by id."""
        rows = self.db.conn.execute("SELECT * FROM sources ORDER BY id")
        return [_source_from_row(r) for r in rows]

    def record_poll_success(
        self,
        source_id: str,
        *,
        total: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        baseline: bool = False,
        revalidated: bool = False,
    ) -> None:
        """Reset the failure counter; remember validators and mark the baseline done.

        ``revalidated``: the validators come from a full (unconditional) read, so
        ``validated_at`` becomes now; a ``304`` keeps the time of the read that saved them."""
        now = ts(self.db.now())
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE sources SET last_attempt_at = ?, last_success_at = ?, consecutive_failures = 0, "
                "last_error = NULL, total_count = COALESCE(?, total_count), etag = ?, last_modified = ?, "
                "validated_at = CASE WHEN ? THEN ? ELSE validated_at END, "
                "baseline_at = CASE WHEN ? THEN COALESCE(baseline_at, ?) ELSE baseline_at END WHERE id = ?",
                (now, now, total, etag, last_modified, revalidated, now, baseline, now, source_id),
            )

    def record_poll_failure(self, source_id: str, error: str) -> int:
        """Count one more consecutive failure (``error`` kept, cut at 2000 characters); return
        the new count."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE sources SET last_attempt_at = ?, consecutive_failures = consecutive_failures + 1, "
                "last_error = ? WHERE id = ?",
                (ts(self.db.now()), error[:2000], source_id),
            )
        health = self.source(source_id)
        return health.consecutive_failures if health else 0

    def set_alerted(self, source_id: str, alerted: bool) -> None:
        """Remember that an operator alert went out now (or, False, that recovery was announced)."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE sources SET alerted_at = ? WHERE id = ?",
                (ts(self.db.now()) if alerted else None, source_id),
            )

    # -- poll runs -----------------------------------------------------------------------------

    def start_poll_run(self) -> int:
        """A numbered poll run, started now; immediate digests are keyed by it."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO poll_runs(started_at) VALUES (?)", (ts(self.db.now()),)
            )
        return int(cursor.lastrowid or 0)  # PostgreSQL: INSERT ... RETURNING id

    def finish_poll_run(self, run_id: int, new: int, updated: int) -> None:
        """Close a poll run now, with its counts of new and updated releases."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE poll_runs SET finished_at = ?, new_releases = ?, updated_releases = ? WHERE id = ?",
                (ts(self.db.now()), new, updated, run_id),
            )

    # -- waits and item problems ---------------------------------------------------------------

    def set_wait(self, source_id: str, until: dt.datetime | None, reason: str = "") -> None:
        """Do not poll ``source_id`` before ``until`` (None clears the wait)."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE sources SET wait_until = ?, wait_reason = ? WHERE id = ?",
                (None if until is None else ts(until), reason[:500] or None, source_id),
            )

    def set_item_problems(self, source_id: str, problems: Sequence[str]) -> None:
        """Replace the source's item problems with those of the poll that just ended (at most
        :data:`MAX_PROBLEMS`, each cut at 500 characters and made printable)."""
        kept = [_printable(p[:500]) for p in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            kept.append(f"… and {len(problems) - MAX_PROBLEMS} more")
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE sources SET item_problems = ? WHERE id = ?",
                (json.dumps(kept, ensure_ascii=False), source_id),
            )

    def source_notes(self, source_id: str) -> SourceNotes:
        """The wait and item problems of a source (empty for one never polled)."""
        row = self.db.conn.execute(
            "SELECT wait_until, wait_reason, item_problems FROM sources WHERE id = ?", (source_id,)
        ).fetchone()
        if row is None:
            return SourceNotes(None, None, ())
        until = dt.datetime.fromisoformat(row[0]) if row[0] else None
        return SourceNotes(until, row[1], tuple(json.loads(row[2] or "[]")))

    # -- robots.txt ----------------------------------------------------------------------------

    def cached_robots(self, origin: str) -> CachedRobots | None:
        """The last robots.txt stored for ``scheme://host[:port]``, fresh or not."""
        row = self.db.conn.execute(
            "SELECT status, body, fetched_at, expires_at FROM robots_cache WHERE origin = ?",
            (origin,),
        ).fetchone()
        if row is None:
            return None
        fetched, expires = (dt.datetime.fromisoformat(v) for v in (row[2], row[3]))
        return CachedRobots(origin, int(row[0]), row[1], fetched, expires)

    def save_robots(self, robots: CachedRobots) -> None:
        """Store (or replace) the robots.txt of an origin."""
        with self.db.transaction() as conn:
            conn.execute(  # upsert: SQLite ≥ 3.24 and PostgreSQL share this syntax
                "INSERT INTO robots_cache(origin, status, body, fetched_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(origin) DO UPDATE SET status = excluded.status,"
                " body = excluded.body, fetched_at = excluded.fetched_at,"
                " expires_at = excluded.expires_at",
                (
                    robots.origin,
                    robots.status,
                    robots.body,
                    ts(robots.fetched_at),
                    ts(robots.expires_at),
                ),
            )


def _source_from_row(row: sqlite3.Row) -> SourceHealth:
    return SourceHealth(
        id=row["id"],
        kind=row["kind"],
        url=row["url"],
        baseline_at=parse_ts(row["baseline_at"]),
        last_attempt_at=parse_ts(row["last_attempt_at"]),
        last_success_at=parse_ts(row["last_success_at"]),
        consecutive_failures=row["consecutive_failures"],
        last_error=row["last_error"],
        alerted_at=parse_ts(row["alerted_at"]),
        etag=row["etag"],
        last_modified=row["last_modified"],
        total_count=row["total_count"],
        validated_at=parse_ts(row["validated_at"]),
    )
