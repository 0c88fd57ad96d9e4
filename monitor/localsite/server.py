"""A local copy of the ministry's board on 127.0.0.1, for ``mofa-monitor demo`` (and the tests).

A real ``ThreadingHTTPServer`` that renders the board from release records
(:mod:`monitor.localsite.pages`), so the demo can :meth:`SiteServer.publish` between polls, with:

- the site's cookie gate (a ``307`` to the same URL setting ``TMOSHCooKie``), switchable;
- ``ETag`` / ``Last-Modified`` on every page and feed, and ``304`` for conditional requests;
- a ``robots.txt`` (allow all by default; ``None`` answers 404).

Routes: ``/{site}/brd/{board}/list.do?page=N`` (10 rows a page; past the end a "No posts" row;
``srchFr``/``srchTo`` filter), ``/{site}/brd/{board}/view.do?seq=N`` (404 when unknown),
``/{site}/brd/{board}/down.do``, ``/www/brd/rss.do?brdId=N``, ``/robots.txt``.

Only what the demo runs ships here. The test suite's misbehaviours (fault injection, serving a
folder of recorded pages, canned answers, the request log) live in ``tests/sitekit.py``, a
subclass of :class:`SiteServer` and of :class:`monitor.localsite.handler.SiteHandler` that
plugs into the hooks :attr:`SiteServer.handler_class`, ``SiteHandler.answer``,
``SiteHandler.route`` and ``SiteHandler.answered``.

Typical use::

    with SiteServer() as site:
        site.seed_from_corpus(limit=10)            # baseline: the 10 newest corpus releases
        site.publish_many(25)                      # 25 new ones on top → pages 1..4
        site.publish(322002, "Corrected", "2022-02-25", "1. New text.")   # an edit in place
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar, Self

from monitor.localsite.handler import Page, SiteHandler, not_found
from monitor.localsite.pages import (
    FEED_BOARDS,
    PAGE_SIZE,
    Release,
    render_article,
    render_feed,
    render_listing,
)

#: Real releases (texts of the ministry's press releases) that the dynamic board is seeded with.
CORPUS = Path(__file__).resolve().parent.parent / "data" / "demo_releases.jsonl"
ALLOW_ALL = "User-agent: *\nAllow: /\n"
_BASE_EPOCH = 1_780_000_000  # dynamic Last-Modified = this + state version (deterministic)

__all__ = ["ALLOW_ALL", "CORPUS", "Release", "SiteServer"]


class SiteServer:
    """The local board. Start with :meth:`start` or ``with``; see the module docstring."""

    #: The request handler class; a subclass may bring its own (the tests' faults do).
    handler_class: ClassVar[type[SiteHandler]] = SiteHandler

    def __init__(self, *, cookie_gate: bool = True, robots_txt: str | None = ALLOW_ALL) -> None:
        self.cookie_gate = cookie_gate  # attributes may be flipped while running
        self.robots_txt = robots_txt  # None → 404
        self._lock = threading.RLock()  # re-entered by publish() inside at_once()
        self._boards: dict[str, list[Release]] = {}
        self._version = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind 127.0.0.1 on an OS-assigned port and serve in a daemon thread."""
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class)
        httpd.daemon_threads = True
        httpd.site = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; handler threads are daemons and die with tests."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError("SiteServer is not running; call start()")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        """Absolute URL for a path on this server (``/eng/brd/m_5676/list.do?page=2``)."""
        return self.base_url + ("" if path.startswith("/") else "/") + path

    def list_url(self, board: str = "m_5676", page: int | None = None, site: str = "eng") -> str:
        """The board's listing URL, as a source config would hold it."""
        query = "" if page is None else f"?page={page}"
        return self.url(f"/{site}/brd/{board}/list.do{query}")

    def view_url(self, seq: int, board: str = "m_5676", site: str = "eng") -> str:
        """Canonical article URL on this server."""
        return self.url(f"/{site}/brd/{board}/view.do?seq={seq}")

    def feed_url(self, brd_id: int = 302) -> str:
        """The board's RSS feed URL (English press releases by default)."""
        return self.url(f"/www/brd/rss.do?brdId={brd_id}")

    # -- dynamic board ----------------------------------------------------------------------

    def publish(
        self,
        seq: int,
        title: str,
        date: str,
        body: str,
        *,
        board: str = "m_5676",
        attachments: Sequence[str] = (),
    ) -> Release:
        """Put a release at the top of its board.

        Publishing an existing ``seq`` again edits it in place (same position), which is how a
        corrected release looks on the site.
        """
        release = Release(seq, title, date, body, board, tuple(attachments))
        with self._lock:
            rows = self._boards.setdefault(board, [])
            for i, old in enumerate(rows):
                if old.seq == seq:
                    rows[i] = replace(release, hits=old.hits)
                    break
            else:
                rows.insert(0, release)
            self._version += 1
        return release

    @contextmanager
    def at_once(self) -> Iterator[None]:
        """Make everything published inside the block appear in one instant: requests for any
        board wait until the block ends (a poll never sees half of it)."""
        with self._lock:
            yield

    def publish_many(
        self,
        count: int,
        *,
        start_seq: int = 400_000,
        date: str = "2026-08-01",
        board: str = "m_5676",
    ) -> list[Release]:
        """Publish ``count`` synthetic releases (seq ``start_seq`` upward); returns them."""
        return [
            self.publish(
                seq,
                f"Synthetic Release {seq} on Cooperation",
                date,
                f"1. Synthetic release {seq} for tests.\n2. It has two paragraphs.",
                board=board,
            )
            for seq in range(start_seq, start_seq + count)
        ]

    def seed(self, releases: Iterable[Release]) -> None:
        """Replace the boards with ``releases`` (each list given newest first)."""
        with self._lock:
            self._boards = {}
            for r in releases:
                self._boards.setdefault(r.board, []).append(r)
            self._version += 1

    def seed_from_corpus(
        self, path: Path = CORPUS, *, board: str = "m_5676", limit: int | None = None
    ) -> list[Release]:
        """Seed ``board`` with the corpus' releases, newest first (the newest ``limit`` only)."""
        releases = sorted(load_corpus(path, board), key=lambda r: (r.date, r.seq), reverse=True)
        chosen = releases[:limit] if limit is not None else releases
        self.seed(chosen)
        return chosen

    def releases(self, board: str = "m_5676") -> list[Release]:
        """The board as the listing shows it, newest first."""
        with self._lock:
            return list(self._boards.get(board, []))

    # -- routes (called from handler threads) -----------------------------------------------

    def listing(self, site: str, board: str, page: int, srch_fr: str, srch_to: str) -> Page:
        with self._lock:
            rows = [r for r in self._boards.get(board, []) if _in_range(r.date, srch_fr, srch_to)]
            version = self._version
        chunk = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        body = render_listing(board, chunk, page=page, total=len(rows))
        return Page(200, body.encode(), last_modified=_BASE_EPOCH + version)

    def article(self, site: str, board: str, seq: int) -> Page:
        with self._lock:
            rows = list(self._boards.get(board, []))
            version = self._version
        for i, r in enumerate(rows):
            if r.seq == seq:
                older = rows[i + 1] if i + 1 < len(rows) else None
                newer = rows[i - 1] if i > 0 else None
                html = render_article(r, older=older, newer=newer)
                return Page(200, html.encode(), last_modified=_BASE_EPOCH + version)
        return not_found()

    def feed(self, brd_id: int) -> Page:
        board = FEED_BOARDS.get(brd_id)
        if board is None:
            return not_found()
        with self._lock:
            rows = list(self._boards.get(board, []))
            version = self._version
        xml = render_feed(rows, base_url=self.base_url, board=board)
        return Page(
            200, xml.encode(), "text/xml", _BASE_EPOCH + version
        )  # the site sends no charset

    def robots(self) -> Page:
        text = self.robots_txt
        if text is None:
            return not_found()
        return Page(200, text.encode(), "text/plain")


def _in_range(day: str, srch_fr: str, srch_to: str) -> bool:
    compact = day.replace("-", "").replace(".", "")
    return (not srch_fr or compact >= srch_fr) and (not srch_to or compact <= srch_to)


def load_corpus(path: Path = CORPUS, board: str | None = None) -> list[Release]:
    """Releases from a ``dev.jsonl``-style file (``seq, board, date, title, body``)."""
    releases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        if board is not None and item["board"] != board:
            continue
        names = tuple(a["name"] for a in item.get("attachments") or ())
        releases.append(
            Release(
                int(item["seq"]), item["title"], item["date"], item["body"], item["board"], names
            )
        )
    return releases
