"""Releases and their revisions: what was listed, stored, re-tagged and later corrected.

Tables ``releases``, ``release_revisions``, ``release_themes`` and ``listed``. A release is
identified by ``(board, seq)`` (the ministry's ids) and by its row id (the outbox refers to rows);
every change of title or body is a new revision row, never an overwrite of what a reader saw.

Each text is stored once. The release row holds the current title and body; the revision row of
the current revision holds neither (NULL: "the release row's"), and a revision row receives them
when a newer revision supersedes it. So an archive of releases never corrected holds one copy of
each text, and :func:`revision_texts_sql` reads any revision either way. Every revision row keeps
its own attachments (a short JSON list; NULL in rows stored before schema 2 recorded them).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence

from monitor.models import (
    Attachment,
    Classification,
    Evidence,
    Release,
    ReleaseText,
    StoredVersion,
    ThemeTag,
    Watermarks,
    release_id,
)
from monitor.store.db import Database, marks, parse_ts, ts


class ReleaseRepository:
    """Reads and writes of releases, revisions, theme tags and listing rows seen."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- listing rows --------------------------------------------------------------------------

    def known_seqs(self, board: str, seqs: Iterable[int]) -> set[int]:
        """Which of these seqs of a board are already stored."""
        return set(self.stored_titles(board, seqs))

    def stored_titles(self, board: str, seqs: Iterable[int]) -> dict[int, str]:
        """The title of each of these seqs of a board that is stored."""
        wanted = list(seqs)
        if not wanted:
            return {}
        rows = self.db.conn.execute(
            f"SELECT seq, title FROM releases WHERE board = ? AND seq IN ({marks(wanted)})",
            (board, *wanted),
        )
        return {int(r[0]): r[1] for r in rows}

    def listed_seqs(self, board: str, seqs: Iterable[int]) -> set[int]:
        """Which of these seqs were already seen in a listing (stored or not)."""
        wanted = list(seqs)
        if not wanted:
            return set()
        rows = self.db.conn.execute(
            f"SELECT seq FROM listed WHERE board = ? AND seq IN ({marks(wanted)})",
            (board, *wanted),
        )
        return {int(r[0]) for r in rows}

    def owed_listings(self, boards: Iterable[str]) -> dict[tuple[str, int], dt.datetime]:
        """Rows of these boards listed but never stored (their article failed) → first listed.

        Read through the partial index of rows marked ``owed`` when listed unstored, so the
        cost follows the failures, not the archive; rows stored since (a later poll, backfill)
        lose the mark here.
        """
        wanted = list(boards)
        if not wanted:
            return {}
        rows = self.db.conn.execute(
            "SELECT l.board, l.seq, l.first_listed_at, EXISTS (SELECT 1 FROM releases r "
            "WHERE r.board = l.board AND r.seq = l.seq) FROM listed l "
            f"WHERE l.owed = 1 AND l.board IN ({marks(wanted)})",
            wanted,
        ).fetchall()
        paid = [(r[0], int(r[1])) for r in rows if r[3]]
        if paid:
            with self.db.transaction() as conn:
                conn.executemany("UPDATE listed SET owed = 0 WHERE board = ? AND seq = ?", paid)
        return {(r[0], int(r[1])): dt.datetime.fromisoformat(r[2]) for r in rows if not r[3]}

    def mark_listed(self, entries: Iterable[tuple[str, int]]) -> None:
        """Remember listing rows seen (stamped with the store's clock), so the next poll knows
        where old rows begin."""
        now = ts(self.db.now())
        with self.db.transaction() as conn:
            conn.executemany(  # ON CONFLICT DO NOTHING: SQLite ≥ 3.24 and PostgreSQL alike
                "INSERT INTO listed(board, seq, first_listed_at, owed) VALUES (?, ?, ?, CASE WHEN "
                "EXISTS (SELECT 1 FROM releases r WHERE r.board = ? AND r.seq = ?) THEN 0 ELSE 1 END) "
                "ON CONFLICT DO NOTHING",
                [(board, seq, now, board, seq) for board, seq in entries],
            )

    # -- writing releases ----------------------------------------------------------------------

    def stored_version(self, board: str, seq: int) -> StoredVersion | None:
        """The stored hash and revision of a release, if seen."""
        row = self.db.conn.execute(
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
        """Store a new release with its tags, first seen now (the store's clock); returns its row
        id. Idempotent on (board, seq): a second insert returns the existing row."""
        now = ts(self.db.now())
        with self.db.transaction() as conn:
            cursor = conn.execute(
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
                    now,
                    baseline,
                    poll_run_id,
                    release.summary,
                ),
            )
            if cursor.rowcount == 0:
                existing = self.stored_version(release.board, release.seq)
                return existing.row_id if existing else 0
            row_id = int(cursor.lastrowid or 0)  # PostgreSQL: INSERT ... RETURNING id
            # The current revision's texts are the release row's (see the module's docstring).
            conn.execute(
                "INSERT INTO release_revisions(release_id, revision, content_hash, seen_at, "
                "attachments) VALUES (?, 1, ?, ?, ?)",
                (row_id, content_hash, now, _attachments_json(release.attachments)),
            )
            _write_tags(conn, row_id, classification)
        return row_id

    def update_release(
        self, row_id: int, release: Release, *, content_hash: str, classification: Classification
    ) -> int:
        """Record a changed title/body as a new revision (seen now, the store's clock) and mark
        the release updated; returns the new revision number."""
        now = ts(self.db.now())
        with self.db.transaction() as conn:
            revision = conn.execute(
                "SELECT revision + 1 FROM releases WHERE id = ?", (row_id,)
            ).fetchone()[0]
            # The superseded revision keeps its texts: copy them out of the release row first.
            conn.execute(
                "UPDATE release_revisions SET title = r.title, body = r.body FROM releases r "
                "WHERE r.id = ? AND release_revisions.release_id = r.id "
                "AND release_revisions.revision = r.revision AND release_revisions.title IS NULL",
                (row_id,),
            )
            conn.execute(
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
            conn.execute(
                "INSERT INTO release_revisions(release_id, revision, content_hash, seen_at, "
                "attachments) VALUES (?, ?, ?, ?, ?)",
                (row_id, revision, content_hash, now, _attachments_json(release.attachments)),
            )
            _write_tags(conn, row_id, classification)
        return int(revision)

    def retag_many(self, retagged: Sequence[tuple[int, Classification, str]]) -> None:
        """Replace the themes, countries and summary of releases given as (row id,
        classification, summary), in one transaction (``reclassify``, a page at a time)."""
        with self.db.transaction() as conn:
            for row_id, classification, summary in retagged:
                conn.execute("UPDATE releases SET summary = ? WHERE id = ?", (summary, row_id))
                _write_tags(conn, row_id, classification)

    def rebase_urls(self, old: str, new: str) -> int:
        """Replace the prefix ``old`` of release and attachment links by ``new`` (the demo's
        local board is gone once it exits; its releases are the ministry's own). Returns the
        number of releases changed."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE releases SET url = ? || substr(url, ?), attachments = replace(attachments, ?, ?) "
                "WHERE substr(url, 1, ?) = ?",
                (new, len(old) + 1, old, new, len(old), old),
            )
        return cursor.rowcount

    # -- reading releases ----------------------------------------------------------------------

    def releases(
        self,
        *,
        theme: str | None = None,
        since: dt.date | None = None,
        limit: int | None = None,
        board: str | None = None,
        seq: int | None = None,
    ) -> list[Release]:
        """Stored releases, newest first, as a list: :meth:`iter_releases` (see there)."""
        return list(self.iter_releases(theme=theme, since=since, limit=limit, board=board, seq=seq))

    def iter_releases(
        self,
        *,
        theme: str | None = None,
        since: dt.date | None = None,
        limit: int | None = None,
        board: str | None = None,
        seq: int | None = None,
        evidence: bool = True,
    ) -> Iterator[Release]:
        """Stored releases, newest first (by date, then first seen, then seq), one at a time.

        Every filter is optional and they combine: ``theme`` (a theme id of DESIGN §4),
        ``since`` (release date on or after), ``board`` and ``seq`` (the ministry's ids),
        ``limit`` (at most this many; None or 0 for all). ``evidence=False`` leaves each
        :class:`ThemeTag`'s evidence empty, for listings that show theme ids only (parsing the
        evidence is most of the cost of reading a release).

        Rows stream from one statement (the index ``releases_by_date`` gives the order, so the
        first release comes before the last row is read) and their tags are read per batch of
        :data:`BATCH` rows: memory stays flat whatever the size of the archive. The statement
        reads one snapshot of the database; it is held until the iterator is exhausted or
        closed, so iterate promptly (a reader left open keeps SQLite's write-ahead log from
        being checkpointed).
        """
        sql, args = listing_query(theme=theme, since=since, limit=limit, board=board, seq=seq)
        cursor = self.db.conn.execute(sql, args)
        try:
            while batch := cursor.fetchmany(BATCH):
                yield from self._with_tags(batch, evidence=evidence)
        finally:
            cursor.close()

    def release(self, public_id: str) -> Release | None:
        """One release by its public id (``m_5676-322002``) or bare seq when unambiguous."""
        board, _, seq = public_id.rpartition("-")
        if not (seq.isascii() and seq.isdigit()) or len(seq) > 19 or int(seq) >= 2**63:
            return None  # ASCII digits that fit an SQL BIGINT (int64), else no such release
        found = self.releases(board=board or None, seq=int(seq), limit=2)
        return found[0] if len(found) == 1 else None

    def releases_by_row(self, row_ids: Sequence[int]) -> dict[int, Release]:
        """Releases by database row id (the outbox refers to rows)."""
        if not row_ids:
            return {}
        rows = self.db.conn.execute(
            f"SELECT * FROM releases r WHERE r.id IN ({marks(row_ids)})", list(row_ids)
        ).fetchall()
        return dict(zip((r["id"] for r in rows), self._with_tags(rows), strict=True))

    def release_texts(self, *, after: int = 0, limit: int = 500) -> list[ReleaseText]:
        """Row id, title and body of up to ``limit`` releases with a row id above ``after``, by
        row id: one page of the archive for re-tagging after the rules change (page on with the
        last row id, so memory stays flat at any archive size)."""
        rows = self.db.conn.execute(
            "SELECT id, title, body FROM releases WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
        )
        return [ReleaseText(r[0], r[1], r[2]) for r in rows]

    def count_releases(self) -> int:
        """How many releases the archive holds."""
        return int(self.db.conn.execute("SELECT COUNT(*) FROM releases").fetchone()[0])

    def watermarks(self) -> Watermarks:
        """The last release row id and the last revision row: the monotonic "now" of what is
        stored (see :class:`monitor.models.Watermarks`)."""
        return current_watermarks(self.db.conn)

    def _with_tags(self, rows: list[sqlite3.Row], *, evidence: bool = True) -> list[Release]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        tags: dict[int, list[ThemeTag]] = {i: [] for i in ids}
        columns = "release_id, theme, score" + (", evidence" if evidence else "")
        for t in self.db.conn.execute(
            f"SELECT {columns} FROM release_themes WHERE release_id IN ({marks(ids)}) "
            "ORDER BY score DESC, theme",
            ids,
        ):
            found = (
                tuple(Evidence(term, where, n) for term, where, n in json.loads(t["evidence"]))
                if evidence
                else ()
            )
            tags[t["release_id"]].append(ThemeTag(t["theme"], t["score"], found))
        return [_release_from_row(r, tuple(tags[r["id"]])) for r in rows]


def revision_texts_sql(revision: str = "rv", release: str = "r") -> str:
    """The select list ``revision, title, body, attachments`` of a revision row aliased
    ``revision`` joined to its release row aliased ``release``: a row without texts (the current
    revision's) takes the release row's title and body. ``attachments`` is the revision's own
    (NULL where a revision stored before schema 2 did not record them)."""
    own = f"{revision}.title IS NOT NULL"
    return (
        f"{revision}.revision AS revision, "
        f"CASE WHEN {own} THEN {revision}.title ELSE {release}.title END AS title, "
        f"CASE WHEN {own} THEN {revision}.body ELSE {release}.body END AS body, "
        f"{revision}.attachments AS attachments"
    )


#: Rows per batch of :meth:`ReleaseRepository.iter_releases` (one tag query each).
BATCH = 256


def listing_query(
    *,
    theme: str | None = None,
    since: dt.date | None = None,
    limit: int | None = None,
    board: str | None = None,
    seq: int | None = None,
) -> tuple[str, list[object]]:
    """The statement and arguments of :meth:`ReleaseRepository.iter_releases`: ``SELECT *`` of
    the releases matching the filters, ordered as the listing. The order is the index
    ``releases_by_date`` read backwards, so neither ``--since`` nor an unfiltered listing scans
    or sorts the whole table."""
    conditions: list[str] = []
    args: list[object] = []
    if board is not None:
        conditions.append("r.board = ?")
        args.append(board)
    if seq is not None:
        conditions.append("r.seq = ?")
        args.append(seq)
    if theme:
        conditions.append(
            "EXISTS (SELECT 1 FROM release_themes t WHERE t.release_id = r.id AND t.theme = ?)"
        )
        args.append(theme)
    if since:
        conditions.append("r.date >= ?")
        args.append(since.isoformat())
    sql = "SELECT * FROM releases r"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    sql += " ORDER BY r.date DESC, r.first_seen_at DESC, r.seq DESC"
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    return sql, args


def current_watermarks(conn: sqlite3.Connection) -> Watermarks:
    """:meth:`ReleaseRepository.watermarks` on a connection (inside a caller's transaction)."""
    # rowid: release_revisions.id, its INTEGER PRIMARY KEY (PostgreSQL: an identity column).
    row = conn.execute(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM releases), "
        "(SELECT COALESCE(MAX(rowid), 0) FROM release_revisions)"
    ).fetchone()
    return Watermarks(int(row[0]), int(row[1]))


def _write_tags(conn: sqlite3.Connection, row_id: int, classification: Classification) -> None:
    conn.execute("DELETE FROM release_themes WHERE release_id = ?", (row_id,))
    conn.executemany(
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
    conn.execute(
        "UPDATE releases SET countries = ?, classifier_version = ? WHERE id = ?",
        (json.dumps(list(classification.countries)), classification.version, row_id),
    )


def _attachments_json(attachments: Iterable[Attachment]) -> str:
    return json.dumps([{"name": a.name, "url": a.url} for a in attachments], ensure_ascii=False)


def attachments_from_json(text: str) -> tuple[Attachment, ...]:
    """Attachments as stored by this module (a JSON list of ``{"name", "url"}``)."""
    return tuple(Attachment(a["name"], a["url"]) for a in json.loads(text))


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
        attachments=attachments_from_json(row["attachments"]),
        image_only=bool(row["image_only"]),
        first_seen_at=parse_ts(row["first_seen_at"]),
        updated_at=parse_ts(row["updated_at"]),
        revision=row["revision"],
    )
