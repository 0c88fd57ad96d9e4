"""The delivery ledger (the outbox) and the mail transport's health.

A delivery is one digest for one subscriber, frozen at planning time with its items (release row
and revision), then claimed under a lease, sent, and marked sent, retried, uncertain or failed —
so a digest is planned once and sent at most once across crashes (DESIGN, delivery semantics).
The transport's health is one row: failing since when, how often in a row, the last error.

Times here are passed in by the caller (``now``): planning and sending run on the application's
clock, which the tests set.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable

from monitor.models import (
    Attachment,
    Delivery,
    DeliveryItem,
    PlannedItem,
    PlanningWindow,
    SeenRevision,
    SubscriberDeliveries,
    TransportHealth,
    Watermarks,
)
from monitor.store.db import Database, parse_ts, ts
from monitor.store.releases import revision_texts_sql
from monitor.store.subscribers import advance_window

#: Deliveries are ``pending`` until ``sent`` or ``failed`` (the ``status`` column).
STATUSES = ("pending", "sent", "failed")


class DeliveryRepository:
    """Reads and writes of ``deliveries``, ``delivery_items`` and ``transport_health``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- planning ------------------------------------------------------------------------------

    def candidate_releases(
        self, email: str, window: PlanningWindow, through: tuple[int, int]
    ) -> list[PlannedItem]:
        """Releases this subscriber may be due, oldest first.

        New: stored after the window's ``planned_row`` and up to ``through[0]``, and never
        planned for them. Updated: a revision stored in the window, and an earlier revision was
        already planned for them — so a correction is only ever announced to someone who saw the
        original. Order is by row id, never by wall-clock time (see
        :class:`monitor.models.Watermarks`).
        """
        email = email.lower()
        # rowid: SQLite's implicit row number of release_revisions (PostgreSQL: an identity column).
        rows = self.db.conn.execute(
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
                email,
                window.planned_revision_row,
                through[1],
                email,
                email,
            ),
        ).fetchall()
        items = (PlannedItem(r[0], r[1], bool(r[2])) for r in rows)
        return sorted(items, key=lambda item: item.row_id)

    def plan_delivery(
        self,
        email: str,
        digest_key: str,
        message_id: str,
        items: Iterable[tuple[int, int, bool]],
        *,
        through: tuple[int, int],
        now: dt.datetime,
        allow_empty: bool = False,
    ) -> bool:
        """Freeze a digest and advance the subscriber's window to ``through`` (the
        watermarks the items were chosen under), atomically; idempotent per key.

        ``items`` are :class:`monitor.models.PlannedItem` (row id, revision, updated) in digest
        order. With no items only the window moves (nothing to send). Returns True if a delivery
        was created by this call.
        """
        email = email.lower()
        planned = list(items)
        with self.db.transaction() as conn:
            created = False
            if planned or allow_empty:
                cursor = conn.execute(  # ON CONFLICT DO NOTHING: SQLite ≥ 3.24 and PostgreSQL
                    "INSERT INTO deliveries(subscriber, digest_key, message_id, created_at, next_attempt_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(subscriber, digest_key) DO NOTHING",
                    (email, digest_key, message_id, ts(now), ts(now)),
                )
                created = cursor.rowcount == 1
                if created:
                    conn.executemany(
                        "INSERT INTO delivery_items(delivery_id, subscriber, release_id, revision, updated, "
                        "position) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        [
                            (cursor.lastrowid, email, row_id, revision, updated, position)
                            for position, (row_id, revision, updated) in enumerate(planned)
                        ],
                    )
            advance_window(conn, email, _watermarks(through), now)
        return created

    def has_delivery(self, email: str, digest_key: str) -> bool:
        """Whether this digest period was already planned for the subscriber."""
        row = self.db.conn.execute(
            "SELECT 1 FROM deliveries WHERE subscriber = ? AND digest_key = ?",
            (email.lower(), digest_key),
        ).fetchone()
        return row is not None

    # -- sending -------------------------------------------------------------------------------

    def claim_delivery(self, now: dt.datetime, lease: dt.timedelta) -> Delivery | None:
        """Take the oldest due delivery for ``lease``; a crashed sender's lease simply expires."""
        with self.db.transaction() as conn:
            row = conn.execute(  # UPDATE ... RETURNING: SQLite ≥ 3.35 and PostgreSQL
                "UPDATE deliveries SET lease_until = ?, attempts = attempts + 1 WHERE id = ("
                " SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?"
                " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT 1) RETURNING *",
                (ts(now + lease), ts(now), ts(now)),
            ).fetchone()
        return None if row is None else _delivery_from_row(row)

    def release_leases(self) -> int:
        """Free the leases of sends interrupted by a crash; only for the state lock's holder.
        Returns how many were freed."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE deliveries SET lease_until = NULL WHERE status = 'pending' AND lease_until IS NOT NULL"
            )
        return cursor.rowcount

    def delivery_items(self, delivery_id: int) -> list[DeliveryItem]:
        """The releases of a planned delivery, in planned order."""
        rows = self.db.conn.execute(
            "SELECT release_id, updated FROM delivery_items WHERE delivery_id = ? ORDER BY position",
            (delivery_id,),
        )
        return [DeliveryItem(r[0], bool(r[1])) for r in rows]

    def last_seen_revision(
        self, email: str, row_id: int, *, before_delivery: int | None = None
    ) -> SeenRevision | None:
        """The latest revision of a release planned for ``email`` in a delivery older than
        ``before_delivery`` (any delivery when None): what the reader last saw, to say what an
        Updated item changed. None if they never got it."""
        row = self.db.conn.execute(
            f"SELECT {revision_texts_sql('rv', 'r')} FROM release_revisions rv "
            "JOIN releases r ON r.id = rv.release_id "
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

    def mark_sent(self, delivery_id: int, now: dt.datetime) -> None:
        """The server (or the Maildir) accepted the message: never send it again."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET status = 'sent', sent_at = ?, lease_until = NULL, last_error = NULL "
                "WHERE id = ?",
                (ts(now), delivery_id),
            )

    def mark_retry(self, delivery_id: int, error: str, next_attempt_at: dt.datetime) -> None:
        """A temporary failure: keep it pending, try again at ``next_attempt_at``."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET lease_until = NULL, last_error = ?, next_attempt_at = ? WHERE id = ?",
                (error[:2000], ts(next_attempt_at), delivery_id),
            )

    def mark_uncertain(
        self, delivery_id: int, error: str, next_attempt_at: dt.datetime, *, give_up: bool
    ) -> None:
        """The server took the data but never answered: count it; retry, or stop (``give_up``)."""
        status = "failed" if give_up else "pending"
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET status = ?, uncertain = uncertain + 1, lease_until = NULL, "
                "last_error = ?, next_attempt_at = ? WHERE id = ?",
                (status, error[:2000], ts(next_attempt_at), delivery_id),
            )

    def mark_failed(self, delivery_id: int, error: str) -> None:
        """A permanent failure (e.g. 550 for the recipient): give up on this one delivery."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET status = 'failed', lease_until = NULL, last_error = ? WHERE id = ?",
                (error[:2000], delivery_id),
            )

    # -- reports -------------------------------------------------------------------------------

    def delivery_counts(self) -> dict[str, int]:
        """Deliveries by state: pending, sent, failed."""
        counts = dict.fromkeys(STATUSES, 0)
        for status, count in self.db.conn.execute(
            "SELECT status, COUNT(*) FROM deliveries GROUP BY status"
        ):
            counts[status] = count
        return counts

    def deliveries(self, *, status: str | None = None, limit: int = 50) -> list[Delivery]:
        """Recent deliveries, newest first; only those in ``status`` when given."""
        sql, args = "SELECT * FROM deliveries", []
        if status:
            sql, args = sql + " WHERE status = ?", [status]
        rows = self.db.conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
        return [_delivery_from_row(r) for r in rows]

    def subscriber_deliveries(self) -> dict[str, SubscriberDeliveries]:
        """Per address: the last digest sent and the pending and failed deliveries."""
        rows = self.db.conn.execute(
            "SELECT subscriber, MAX(sent_at), "
            "SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) "
            "FROM deliveries GROUP BY subscriber"
        )
        return {
            r[0]: SubscriberDeliveries(parse_ts(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in rows
        }

    # -- transport health ----------------------------------------------------------------------

    def transport_health(self) -> TransportHealth:
        """The mail transport's recorded state (one row)."""
        row = self.db.conn.execute("SELECT * FROM transport_health WHERE id = 1").fetchone()
        return TransportHealth(
            failing_since=parse_ts(row["failing_since"]),
            last_failure_at=parse_ts(row["last_failure_at"]),
            last_success_at=parse_ts(row["last_success_at"]),
            consecutive_failures=row["consecutive_failures"],
            last_error=row["last_error"],
            alerted_at=parse_ts(row["alerted_at"]),
        )

    def record_transport_success(self, now: dt.datetime) -> None:
        """The transport delivered: it is healthy again (the alert state is kept for alerts)."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE transport_health SET failing_since = NULL, consecutive_failures = 0, "
                "last_success_at = ? WHERE id = 1",
                (ts(now),),
            )

    def record_transport_failure(self, error: str, now: dt.datetime) -> TransportHealth:
        """The transport could not deliver (not one recipient's fault); returns the new state."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE transport_health SET failing_since = COALESCE(failing_since, ?), "
                "consecutive_failures = consecutive_failures + 1, last_failure_at = ?, "
                "last_error = ? WHERE id = 1",
                (ts(now), ts(now), error[:2000]),
            )
        return self.transport_health()

    def set_transport_alerted(self, alerted: bool, now: dt.datetime) -> None:
        """Remember that the operator was told the transport fails (or, False, that it recovered)."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE transport_health SET alerted_at = ? WHERE id = 1",
                (ts(now) if alerted else None,),
            )


def _watermarks(through: tuple[int, int]) -> Watermarks:
    return Watermarks(int(through[0]), int(through[1]))


def _delivery_from_row(row: sqlite3.Row) -> Delivery:
    created, next_attempt = parse_ts(row["created_at"]), parse_ts(row["next_attempt_at"])
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
        sent_at=parse_ts(row["sent_at"]),
        last_error=row["last_error"],
        uncertain=row["uncertain"],
    )
