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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple, TypeVar

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
from monitor.store.db import Database, marks, parse_ts, ts
from monitor.store.releases import revision_texts_sql
from monitor.store.subscribers import advance_window, advance_windows

T = TypeVar("T")

#: Deliveries are ``pending`` until ``sent`` or ``failed`` (the ``status`` column).
STATUSES = ("pending", "sent", "failed")


#: Accepted by the server (or the Maildir): never sent again. Completed by a WHERE on ids.
_MARK_SENT = "UPDATE deliveries SET status = 'sent', sent_at = ?, lease_until = NULL, last_error = NULL WHERE "


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
             WHERE r.id IN (SELECT v.release_id FROM release_revisions v
                             WHERE v.rowid > ? AND v.rowid <= ? AND v.revision > 1)
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

    def candidates_for(
        self, windows: Mapping[str, PlanningWindow], through: tuple[int, int]
    ) -> dict[str, list[PlannedItem]]:
        """:meth:`candidate_releases` of many subscribers at once (address → items, oldest
        first), with a handful of queries whatever their number.

        The releases stored and revised after the lowest of the windows are read once, each
        by a range of row ids (never a scan of the archive); what each subscriber was already
        planned comes from one query on ``delivery_items`` for those releases only. The rule
        per subscriber is :meth:`candidate_releases`' own.
        """
        if not windows:
            return {}
        conn = self.db.conn
        low_row = min(w.planned_row for w in windows.values())
        low_revision = min(w.planned_revision_row for w in windows.values())
        new = conn.execute(
            "SELECT id, revision FROM releases WHERE baseline = 0 AND id > ? AND id <= ? "
            "ORDER BY id",
            (low_row, through[0]),
        ).fetchall()
        # rowid: release_revisions.id, its INTEGER PRIMARY KEY (PostgreSQL: an identity column).
        revised: dict[int, int] = {
            r[0]: r[1]
            for r in conn.execute(
                "SELECT release_id, MAX(rowid) FROM release_revisions "
                "WHERE rowid > ? AND rowid <= ? AND revision > 1 GROUP BY release_id",
                (low_revision, through[1]),
            )
        }
        current: dict[int, int] = {}
        for part in _chunks(sorted(revised)):
            current.update(
                (r[0], r[1])
                for r in conn.execute(
                    f"SELECT id, revision FROM releases WHERE id IN ({marks(part)})", part
                )
            )
        planned: dict[tuple[str, int], set[int]] = {}
        emails = sorted({e.lower() for e in windows})
        release_ids = sorted({r[0] for r in new} | revised.keys())
        for who in _chunks(emails):
            for which in _chunks(release_ids):
                for email, release_id, revision in conn.execute(
                    "SELECT subscriber, release_id, revision FROM delivery_items "
                    f"WHERE subscriber IN ({marks(who)}) AND release_id IN ({marks(which)})",
                    [*who, *which],
                ):
                    planned.setdefault((email, release_id), set()).add(revision)
        found: dict[str, list[PlannedItem]] = {}
        for address, window in windows.items():
            email = address.lower()
            items = [
                PlannedItem(row_id, revision, False)
                for row_id, revision in new
                if row_id > window.planned_row and (email, row_id) not in planned
            ]
            for row_id, last_rowid in revised.items():
                seen = planned.get((email, row_id))
                revision = current.get(row_id)
                if (
                    last_rowid > window.planned_revision_row
                    and seen
                    and revision is not None
                    and min(seen) < revision
                    and revision not in seen
                ):
                    items.append(PlannedItem(row_id, revision, True))
            items.sort(key=lambda item: item.row_id)
            found[address] = items
        return found

    def plan_deliveries(
        self, plans: Sequence[DeliveryPlan], *, through: tuple[int, int], now: dt.datetime
    ) -> set[str]:
        """:meth:`plan_delivery` for many subscribers in one transaction; returns the addresses
        (lower-case) for which a delivery was created.

        Each subscriber's digest and window move together as in :meth:`plan_delivery`; a crash
        before the commit plans none of them, and the next planning plans them all (nothing is
        sent before it is planned, so nothing is lost or doubled).
        """
        created: set[str] = set()
        stamp = ts(now)
        wanted = {plan.email.lower(): plan for plan in plans if plan.items or plan.allow_empty}
        rows = list(wanted.values())
        with self.db.transaction() as conn:
            ids: dict[str, int] = {}
            for start in range(0, len(rows), _CHUNK):
                part = rows[start : start + _CHUNK]
                # Many rows per statement; RETURNING names the rows created (ON CONFLICT DO
                # NOTHING returns none for a period planned already): SQLite ≥ 3.35, PostgreSQL.
                ids.update(
                    (r[1], r[0])
                    for r in conn.execute(
                        "INSERT INTO deliveries(subscriber, digest_key, message_id, created_at, "
                        f"next_attempt_at) VALUES {', '.join(['(?, ?, ?, ?, ?)'] * len(part))} "
                        "ON CONFLICT(subscriber, digest_key) DO NOTHING RETURNING id, subscriber",
                        [
                            value
                            for plan in part
                            for value in (
                                plan.email.lower(),
                                plan.digest_key,
                                plan.message_id,
                                stamp,
                                stamp,
                            )
                        ],
                    ).fetchall()
                )
            conn.executemany(
                "INSERT INTO delivery_items(delivery_id, subscriber, release_id, revision, updated, "
                "position) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (ids[email], email, row_id, revision, updated, position)
                    for email, plan in wanted.items()
                    if email in ids
                    for position, (row_id, revision, updated) in enumerate(plan.items)
                ],
            )
            advance_windows(conn, (plan.email for plan in plans), _watermarks(through), now)
            created.update(ids)
        return created

    def planned_periods(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (address, digest key) pairs were planned already (lower-case)."""
        wanted = {(email.lower(), key) for email, key in pairs}
        found: set[tuple[str, str]] = set()
        by_key: dict[str, list[str]] = {}
        for email, key in wanted:
            by_key.setdefault(key, []).append(email)
        for key, emails in by_key.items():
            for part in _chunks(sorted(emails)):
                found.update(
                    (r[0], key)
                    for r in self.db.conn.execute(
                        "SELECT subscriber FROM deliveries WHERE digest_key = ? "
                        f"AND subscriber IN ({marks(part)})",
                        (key, *part),
                    )
                )
        return found

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

    def claim_deliveries(self, now: dt.datetime, lease: dt.timedelta, limit: int) -> list[Delivery]:
        """Take up to ``limit`` of the oldest due deliveries for ``lease``, in one transaction,
        oldest first; each counts an attempt (see :meth:`release_claims` for those never tried).
        """
        with self.db.transaction() as conn:
            rows = conn.execute(  # UPDATE ... RETURNING: SQLite ≥ 3.35 and PostgreSQL
                "UPDATE deliveries SET lease_until = ?, attempts = attempts + 1 WHERE id IN ("
                " SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?"
                " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT ?) RETURNING *",
                (ts(now + lease), ts(now), ts(now), limit),
            ).fetchall()
        return sorted((_delivery_from_row(r) for r in rows), key=lambda d: d.id)

    def release_claims(self, delivery_ids: Sequence[int]) -> None:
        """Give back claimed deliveries that were never tried (the pass stopped first): no
        lease, and the attempt their claim counted taken back."""
        if not delivery_ids:
            return
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET lease_until = NULL, attempts = attempts - 1 "
                f"WHERE status = 'pending' AND id IN ({marks(delivery_ids)})",
                list(delivery_ids),
            )

    def release_leases(self) -> int:
        """Free the leases a process that stopped left (a send it interrupted, and the rest of
        its claimed batch, never tried); only for the state lock's holder. Returns how many."""
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

    def items_of_deliveries(self, delivery_ids: Sequence[int]) -> dict[int, list[DeliveryItem]]:
        """:meth:`delivery_items` of several deliveries in one query (each in planned order)."""
        found: dict[int, list[DeliveryItem]] = {i: [] for i in delivery_ids}
        if not delivery_ids:
            return found
        rows = self.db.conn.execute(
            "SELECT delivery_id, release_id, updated FROM delivery_items "
            f"WHERE delivery_id IN ({marks(delivery_ids)}) ORDER BY delivery_id, position",
            list(delivery_ids),
        )
        for r in rows:
            found[r[0]].append(DeliveryItem(r[1], bool(r[2])))
        return found

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
        """The server (or the Maildir) accepted the message: never send it again.

        One statement, committed on its own (autocommit: one round of the write lock instead of
        BEGIN, UPDATE, COMMIT) — the SMTP sender writes this once per message.
        """
        self.db.conn.execute(_MARK_SENT + "id = ?", (ts(now), delivery_id))

    def mark_all_sent(self, delivery_ids: Sequence[int], now: dt.datetime) -> None:
        """:meth:`mark_sent` for several deliveries, in one transaction."""
        if not delivery_ids:
            return
        with self.db.transaction() as conn:
            conn.execute(_MARK_SENT + f"id IN ({marks(delivery_ids)})", (ts(now), *delivery_ids))

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


class DeliveryPlan(NamedTuple):
    """One subscriber's digest to freeze (:meth:`DeliveryRepository.plan_deliveries`). A plan
    with no ``items`` and not ``allow_empty`` creates no delivery, only moves the subscriber's
    window; its ``message_id`` may be empty."""

    email: str
    digest_key: str
    message_id: str
    items: Sequence[tuple[int, int, bool]]  # PlannedItem: row id, revision, updated
    allow_empty: bool = False


#: Values per ``IN (...)`` list: far below SQLite's limit of bound parameters (32,766).
_CHUNK = 500


def _chunks(values: Sequence[T]) -> Iterator[list[T]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


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
