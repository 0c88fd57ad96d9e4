"""Subscribers, suppressions and the subscription log.

- **Subscribers**: every address ever configured, when it was first seen, and its planning
  window (the release and revision rows after which its news starts; see
  :class:`monitor.models.PlanningWindow`).
- **Suppressions**: addresses that must not be mailed (they win over the config file), with how
  and by whom.
- **Subscription log**: every unsubscribe and resubscribe, append-only, for ``subscribers``.

Addresses are stored lower-case. Every stamp reads the store's clock unless the caller passes
``now`` (the operator's own command time).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable

from monitor.models import PlanningWindow, SubscriptionChange, Suppression, Watermarks
from monitor.store.db import Database, ts
from monitor.store.releases import current_watermarks

#: Move a subscriber's planning window forward to ``through``, never back. Portable SQL: CASE
#: instead of SQLite's two-argument MAX (PostgreSQL would say GREATEST).
_ADVANCE_WINDOW = (
    "UPDATE subscribers SET planned_until = ?, "
    "planned_row = CASE WHEN planned_row > ? THEN planned_row ELSE ? END, "
    "planned_revision_row = CASE WHEN planned_revision_row > ? THEN planned_revision_row ELSE ? END "
    "WHERE email = ?"
)


def advance_window(
    conn: sqlite3.Connection, email: str, through: Watermarks, now: dt.datetime
) -> None:
    """Move ``email``'s planning window to ``through`` (inside the caller's transaction)."""
    rows, revisions = through
    conn.execute(_ADVANCE_WINDOW, (ts(now), rows, rows, revisions, revisions, email.lower()))


def advance_windows(
    conn: sqlite3.Connection, emails: Iterable[str], through: Watermarks, now: dt.datetime
) -> None:
    """:func:`advance_window` for many addresses in one statement (the caller's transaction)."""
    rows, revisions = through
    stamp = ts(now)
    conn.executemany(
        _ADVANCE_WINDOW,
        [(stamp, rows, rows, revisions, revisions, email.lower()) for email in emails],
    )


class SubscriberRepository:
    """Reads and writes of ``subscribers``, ``suppressions`` and ``subscription_log``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def sync_subscribers(self, emails: Iterable[str]) -> None:
        """Record when each configured address was first seen (now, the store's clock); they get
        only releases stored later (by row order, see :class:`monitor.models.Watermarks`).

        ``emails`` is the whole configured list: an address missing from it is marked removed,
        and one that comes back after that starts anew from now (README: a subscriber receives
        only releases first seen after they were added), without the backlog of its absence.
        """
        now = ts(self.db.now())
        wanted = sorted({e.lower() for e in emails})
        with self.db.transaction() as conn:
            rows, revisions = current_watermarks(conn)
            conn.executemany(
                "UPDATE subscribers SET added_at = ?, added_row = ?, planned_row = ?, "
                "planned_revision_row = ?, removed_at = NULL "
                "WHERE email = ? AND removed_at IS NOT NULL",
                [(now, rows, rows, revisions, e) for e in wanted],
            )
            conn.executemany(  # ON CONFLICT DO NOTHING: SQLite ≥ 3.24 and PostgreSQL alike
                "INSERT INTO subscribers(email, added_at, added_row, planned_row, "
                "planned_revision_row) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(e, now, rows, rows, revisions) for e in wanted],
            )
            if wanted:
                conn.execute(
                    "UPDATE subscribers SET removed_at = ? WHERE removed_at IS NULL "
                    f"AND email NOT IN ({', '.join('?' * len(wanted))})",
                    (now, *wanted),
                )
            else:
                conn.execute(
                    "UPDATE subscribers SET removed_at = ? WHERE removed_at IS NULL", (now,)
                )

    def known_subscribers(self) -> dict[str, dt.datetime]:
        """Every address ever configured (lower-case) → when it was first seen."""
        rows = self.db.conn.execute("SELECT email, added_at FROM subscribers")
        return {r[0]: dt.datetime.fromisoformat(r[1]) for r in rows}

    def planning_window(self, email: str) -> PlanningWindow | None:
        """Where a subscriber's news starts: releases stored after ``planned_row`` are due."""
        row = self.db.conn.execute(
            "SELECT added_at, added_row, planned_row, planned_revision_row FROM subscribers "
            "WHERE email = ?",
            (email.lower(),),
        ).fetchone()
        if row is None:
            return None
        added = dt.datetime.fromisoformat(row[0])
        return PlanningWindow(added, row[1], max(row[1], row[2]), row[3])

    def planning_windows(self, emails: Iterable[str]) -> dict[str, PlanningWindow]:
        """:meth:`planning_window` of many addresses (lower-case keys; unknown ones absent)."""
        wanted = sorted({e.lower() for e in emails})
        found: dict[str, PlanningWindow] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            for row in self.db.conn.execute(
                "SELECT email, added_at, added_row, planned_row, planned_revision_row "
                f"FROM subscribers WHERE email IN ({', '.join('?' * len(part))})",
                part,
            ):
                added = dt.datetime.fromisoformat(row[1])
                found[row[0]] = PlanningWindow(added, row[2], max(row[2], row[3]), row[4])
        return found

    # -- suppressions --------------------------------------------------------------------------

    def suppress(self, email: str, reason: str, *, actor: str | None = None) -> bool:
        """Stop all mail to an address from now on; True if it was not suppressed before.

        ``reason`` says how (one of :data:`monitor.models.READER_REASONS` when the reader did it,
        else e.g. ``"operator"``); ``actor`` who, when an operator did it. Both are logged.
        """
        email = email.lower()
        now = ts(self.db.now())
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO suppressions(email, created_at, reason, actor) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (email, now, reason, actor),
            )
            if cursor.rowcount == 1:
                conn.execute(
                    "INSERT INTO subscription_log(email, at, action, how, actor) "
                    "VALUES (?, ?, 'unsubscribe', ?, ?)",
                    (email, now, reason, actor),
                )
        return cursor.rowcount == 1

    def suppressed(self) -> set[str]:
        """Addresses that unsubscribed; they win over the config file."""
        return {r[0] for r in self.db.conn.execute("SELECT email FROM suppressions")}

    def suppressions(self) -> dict[str, Suppression]:
        """Every suppression by (lower-case) address."""
        rows = self.db.conn.execute("SELECT * FROM suppressions")
        return {r["email"]: _suppression_from_row(r) for r in rows}

    def unsuppress(self, email: str, *, actor: str | None, now: dt.datetime) -> Suppression | None:
        """Lift a suppression; the address then gets only releases first seen from ``now``.

        Without moving the planning window, the first digest after a resubscription would carry
        everything published while the reader was away. Returns the lifted suppression, or None.
        """
        email = email.lower()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM suppressions WHERE email = ?", (email,)).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM suppressions WHERE email = ?", (email,))
            advance_window(conn, email, current_watermarks(conn), now)
            conn.execute(
                "INSERT INTO subscription_log(email, at, action, how, actor) "
                "VALUES (?, ?, 'resubscribe', 'operator', ?)",
                (email, ts(now), actor),
            )
        return _suppression_from_row(row)

    def last_subscription_changes(self) -> dict[str, SubscriptionChange]:
        """The latest unsubscribe/resubscribe of each address that ever had one."""
        rows = self.db.conn.execute(
            "SELECT * FROM subscription_log WHERE id IN "
            "(SELECT MAX(id) FROM subscription_log GROUP BY email)"
        )
        return {
            r["email"]: SubscriptionChange(
                r["action"], dt.datetime.fromisoformat(r["at"]), r["how"], r["actor"]
            )
            for r in rows
        }


def _suppression_from_row(row: sqlite3.Row) -> Suppression:
    return Suppression(
        email=row["email"],
        created_at=dt.datetime.fromisoformat(row["created_at"]),
        reason=row["reason"],
        actor=row["actor"],
    )
