"""The connection every repository of the store shares: transactions, migrations, settings, time.

The SQLite-specific parts of the store live here and are marked: the PRAGMAs of :meth:`open`,
``BEGIN IMMEDIATE``, ``PRAGMA user_version`` as the schema version. The repositories
(``releases``, ``sources``, ``subscribers``, ``deliveries``) write standard SQL where they can and
comment the few SQLite dialect bits they keep (``ON CONFLICT``, ``rowid``, ``RETURNING``), so a
PostgreSQL backend replaces this module and those comments, not the callers.

Timestamps are stored as ISO 8601 text in UTC with microseconds (sortable as text); every stamp
the store makes reads the injected :data:`monitor.clock.Clock`.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from monitor.clock import Clock, system_clock
from monitor.closing import Closing
from monitor.errors import StoreError
from monitor.store.migrations import COMPACT_AFTER, MIGRATIONS

log = logging.getLogger(__name__)


def ts(value: dt.datetime) -> str:
    """A timestamp as stored: ISO 8601, UTC, microseconds."""
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def ts_or_none(value: dt.datetime | None) -> str | None:
    """:func:`ts`, passing None through."""
    return None if value is None else ts(value)


def parse_ts(value: str | None) -> dt.datetime | None:
    """A stored timestamp back as an aware datetime (None stays None)."""
    return None if value is None else dt.datetime.fromisoformat(value)


def marks(values: Sequence[object]) -> str:
    """``?, ?, ?``: one placeholder per value, for ``IN (...)`` lists."""
    return ", ".join("?" * len(values))


class Database(Closing):
    """One SQLite connection with its schema migrated, and the clock the store stamps with.

    Not shared between threads: open one each. Raises :class:`StoreError` when the file cannot be
    opened, a migration fails, or the file was written by a newer schema.
    """

    def __init__(self, path: Path, *, clock: Clock = system_clock) -> None:
        self.path = path
        self.clock = clock
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are explicit (see :meth:`transaction`).
            self.conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the state database {path}: {exc}") from exc
        self.conn.row_factory = sqlite3.Row
        # SQLite only: write-ahead log so readers never block the writer, a 30 s wait on a busy
        # file, foreign keys (off by default in SQLite), and fsync at checkpoints only.
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def now(self) -> dt.datetime:
        """The injected clock's time (aware UTC)."""
        return self.clock()

    def close(self) -> None:
        """Close the connection; the WAL is checkpointed by SQLite."""
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction; ``IMMEDIATE`` (SQLite) takes the write lock at once, so two
        writers queue instead of deadlocking on a lock upgrade."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        """The number of migrations applied (SQLite keeps it in ``PRAGMA user_version``)."""
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        fresh = self.schema_version == 0
        compact = False
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
                with self.transaction() as conn:
                    migration(conn)
                    conn.execute(f"PRAGMA user_version = {number}")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: migration {number} failed: {exc}") from exc
            compact = compact or (not fresh and migration in COMPACT_AFTER)
        if compact:
            self._compact()
        if self.schema_version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer mofa-monitor (schema {self.schema_version}); upgrade"
            )

    def _compact(self) -> None:
        """``VACUUM`` after a migration that freed much of the file (SQLite only). It rewrites the
        whole file and needs about its size again in free disk space while it runs; a failure
        leaves the database as it was (still correct, only larger) and is logged."""
        pages, free = (
            int(self.conn.execute(f"PRAGMA {name}").fetchone()[0])
            for name in ("page_count", "freelist_count")
        )
        if not pages or free < pages // 4:
            return
        log.info("compacting %s: the migration freed %d of its %d pages", self.path, free, pages)
        try:
            self.conn.execute("VACUUM")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            log.warning(
                "could not compact %s (%s); it stays correct, only larger: run "
                "`sqlite3 %s VACUUM` while mofa-monitor is stopped to reclaim the space",
                self.path,
                exc,
                self.path,
            )

    # -- settings ------------------------------------------------------------------------------

    def setting(self, key: str) -> str | None:
        """A small persistent value (e.g. the generated unsubscribe secret)."""
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_setting_once(self, key: str, value: str) -> str:
        """Store ``value`` unless a value exists; return the stored one (race-free)."""
        with self.transaction() as conn:
            conn.execute(  # ON CONFLICT: SQLite and PostgreSQL both accept this form
                "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (key, value),
            )
        return self.setting(key) or value
