"""What the store keeps about fetching a source beyond its health row (migration 2).

- **Waits**: a server that answered ``503``/``429`` with ``Retry-After`` is not asked again
  before the time it gave (RFC 9110 §10.2.3), across polls and across processes, so a
  ``run-once`` from cron honours it like the service does.
- **Item problems**: what the last poll of a source skipped or could not read (a poisoned
  feed item, an unreadable date), for ``status``.
- **robots.txt**: the last copy per origin with its expiry (RFC 9309 §2.4), so a one-shot run
  does not fetch it again while it is fresh, and a failed fetch can fall back to it.

Mixed into :class:`monitor.store.sqlite.Store`; every method is one short transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SourceNotes:
    """A source's wait (``wait_until`` aware UTC, or None) and its last poll's item problems."""

    wait_until: dt.datetime | None
    wait_reason: str | None
    item_problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CachedRobots:
    """A robots.txt as fetched: HTTP ``status``, ``body`` text, and when it stops being fresh."""

    origin: str
    status: int
    body: str
    fetched_at: dt.datetime
    expires_at: dt.datetime


class _HasDB(Protocol):
    db: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...


def _ts(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _printable(text: str) -> str:
    """Scraped text in a problem line, with controls and bidi overrides shown as escapes."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


#: At most this many problems are kept per source (the newest poll's first ones).
MAX_PROBLEMS = 20


class SourceStateMixin:
    """Waits, item problems and cached robots.txt; see the module docstring."""

    def set_wait(self: _HasDB, source_id: str, until: dt.datetime | None, reason: str = "") -> None:
        """Do not poll ``source_id`` before ``until`` (None clears the wait)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE sources SET wait_until = ?, wait_reason = ? WHERE id = ?",
                (None if until is None else _ts(until), reason[:500] or None, source_id),
            )

    def set_item_problems(self: _HasDB, source_id: str, problems: Sequence[str]) -> None:
        """Replace the source's item problems with those of the poll that just ended."""
        kept = [_printable(p[:500]) for p in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            kept.append(f"… and {len(problems) - MAX_PROBLEMS} more")
        with self.transaction() as db:
            db.execute(
                "UPDATE sources SET item_problems = ? WHERE id = ?",
                (json.dumps(kept, ensure_ascii=False), source_id),
            )

    def source_notes(self: _HasDB, source_id: str) -> SourceNotes:
        """The wait and item problems of a source (empty for one never polled)."""
        row = self.db.execute(
            "SELECT wait_until, wait_reason, item_problems FROM sources WHERE id = ?", (source_id,)
        ).fetchone()
        if row is None:
            return SourceNotes(None, None, ())
        until = dt.datetime.fromisoformat(row[0]) if row[0] else None
        return SourceNotes(until, row[1], tuple(json.loads(row[2] or "[]")))

    def cached_robots(self: _HasDB, origin: str) -> CachedRobots | None:
        """The last robots.txt stored for ``scheme://host[:port]``, fresh or not."""
        row = self.db.execute(
            "SELECT status, body, fetched_at, expires_at FROM robots_cache WHERE origin = ?",
            (origin,),
        ).fetchone()
        if row is None:
            return None
        fetched, expires = (dt.datetime.fromisoformat(v) for v in (row[2], row[3]))
        return CachedRobots(origin, int(row[0]), row[1], fetched, expires)

    def save_robots(self: _HasDB, robots: CachedRobots) -> None:
        """Store (or replace) the robots.txt of an origin."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO robots_cache(origin, status, body, fetched_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(origin) DO UPDATE SET status = excluded.status,"
                " body = excluded.body, fetched_at = excluded.fetched_at,"
                " expires_at = excluded.expires_at",
                (
                    robots.origin,
                    robots.status,
                    robots.body,
                    _ts(robots.fetched_at),
                    _ts(robots.expires_at),
                ),
            )
