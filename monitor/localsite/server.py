"""A local copy of the ministry's site on 127.0.0.1, for the tests that need real HTTP and the demo.

Tests must never touch the internet, yet the interesting failures are HTTP-level: the cookie
gate's ``307``, resets, ``Retry-After``, truncated or huge bodies, redirect loops. ``responses``
cannot produce those faithfully, so this is a real ``ThreadingHTTPServer`` with:

- two modes: ``"recorded"`` serves a folder of recorded pages (``root``) as stored;
  ``"dynamic"`` renders the board
  from release records (:mod:`monitor.localsite.pages`) so a test can :meth:`SiteServer.publish` between polls;
- the site's cookie gate (a ``307`` to the same URL setting ``TMOSHCooKie``), switchable;
- a thread-safe request log, for assertions about what the client sent;
- fault injection per path (:meth:`SiteServer.fault`), with bodies streamed, never built whole;
- ``ETag`` / ``Last-Modified`` on every page and feed, and ``304`` for conditional requests.

Routes: ``/{site}/brd/{board}/list.do?page=N`` (10 rows a page; past the end a "No posts" row;
``srchFr``/``srchTo`` filter in dynamic mode), ``/{site}/brd/{board}/view.do?seq=N`` (404 when
unknown), ``/{site}/brd/{board}/down.do``, ``/www/brd/rss.do?brdId=N``, ``/robots.txt``.

Typical use (fixtures ``site``, ``live_site`` and ``make_site`` in ``conftest.py``)::

    live_site.seed_from_corpus(limit=10)           # baseline: the 10 newest corpus releases
    live_site.publish_many(25)                     # 25 new ones on top → pages 1..4
    live_site.publish(322002, "Corrected", "2022-02-25", "1. New text.")   # an edit in place
    live_site.fault("/eng/brd/m_5676/list.do", 503, retry_after=1, times=2)
    assert [r.status for r in live_site.requests_to("/eng/")][-1] == 200
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from monitor.localsite.handler import FaultKind, LoggedRequest, Page, SiteHandler, not_found
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
Mode = Literal["recorded", "dynamic"]
_BASE_EPOCH = 1_780_000_000  # dynamic Last-Modified = this + state version (deterministic)

__all__ = ["ALLOW_ALL", "CORPUS", "Fault", "LoggedRequest", "Release", "SiteServer"]


@dataclass
class Fault:
    """An injected failure for requests whose path matches; ``times=None`` means forever."""

    pattern: str | re.Pattern[str]
    kind: FaultKind
    times: int | None = 1
    status: int | None = None
    retry_after: str | None = None
    delay: float = 2.0

    def matches(self, target: str) -> bool:
        """Regex: search the path+query. Glob: match path+query or path. Else: equal either."""
        path = urlsplit(target).path
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.search(target) is not None
        if any(c in self.pattern for c in "*?["):
            return fnmatch.fnmatchcase(target, self.pattern) or fnmatch.fnmatchcase(
                path, self.pattern
            )
        return self.pattern in (target, path)


class SiteServer:
    """The test site. Start with :meth:`start` or ``with``; see the module docstring."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        mode: Mode = "recorded",
        cookie_gate: bool = True,
        robots_txt: str | None = ALLOW_ALL,
        feed_bom: bool = False,
    ) -> None:
        if mode == "recorded" and root is None:
            raise ValueError("SiteServer(mode='recorded') needs root=<folder of recorded pages>")
        self.root = root or Path()
        self.mode: Mode = mode
        self.cookie_gate = cookie_gate  # attributes may be flipped while running
        self.robots_txt = robots_txt  # None → 404
        self.feed_bom = feed_bom  # prefix the feed with a UTF-8 BOM, as the site may
        self._lock = threading.RLock()  # re-entered by publish() inside at_once()
        self._log: list[LoggedRequest] = []
        self._faults: list[Fault] = []
        self._canned: dict[str, Page] = {}
        self._boards: dict[str, list[Release]] = {}
        self._version = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind 127.0.0.1 on an OS-assigned port and serve in a daemon thread."""
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), SiteHandler)
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

    # -- request log ------------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot of every request so far, in arrival order."""
        with self._lock:
            return list(self._log)

    def requests_to(self, path_prefix: str) -> list[LoggedRequest]:
        """Logged requests whose path (with query) starts with ``path_prefix``."""
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def record(self, entry: LoggedRequest) -> None:
        """Called by the handler for each answered (or dropped) request."""
        with self._lock:
            self._log.append(entry)

    # -- faults -----------------------------------------------------------------------------

    def fault(
        self,
        pattern: str | re.Pattern[str],
        kind: FaultKind | int,
        *,
        times: int | None = 1,
        retry_after: str | int | None = None,
        delay: float = 2.0,
    ) -> Fault:
        """Make the next ``times`` requests matching ``pattern`` fail as ``kind``.

        ``kind`` is a status code (500, 503, 429, 404, …; with optional ``retry_after``) or one
        of ``"slow"`` (wait ``delay`` s, at most 10, then answer normally), ``"reset"`` (close
        the socket, no answer), ``"truncated"`` (Content-Length larger than the body sent),
        ``"huge"`` (50 MB advertised, streamed until the client hangs up), ``"huge_chunked"``
        (same, no Content-Length), ``"non_html"`` (a PDF), ``"redirect_loop"`` (302 to itself),
        ``"empty_listing"`` (200 page without a table), ``"trickle_headers"`` /
        ``"trickle_body"`` (one byte every ``delay`` s, forever, in the headers or the body).
        Faults apply before the cookie gate.
        """
        status = kind if isinstance(kind, int) else None
        fault = Fault(
            pattern=pattern,
            kind="status" if isinstance(kind, int) else kind,
            times=times,
            status=status,
            retry_after=None if retry_after is None else str(retry_after),
            delay=min(delay, 10.0),
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def canned(
        self,
        target: str,
        body: bytes,
        *,
        status: int = 200,
        content_type: str | None = "text/html",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer ``target`` (path with query, exactly as requested) with these bytes and headers.

        For pages the recorded site does not have: odd charsets, ``<base href>``, redirects
        (``status=302`` with a ``Location`` header), cache headers on robots.txt. Faults and the
        cookie gate still apply first; conditional GET does not.
        """
        page = Page(status, body, content_type, headers=tuple((headers or {}).items()))
        with self._lock:
            self._canned[target] = page

    def canned_page(self, target: str) -> Page | None:
        """The canned answer for ``target``, if any (called by the handler)."""
        with self._lock:
            return self._canned.get(target)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, target: str) -> Fault | None:
        """The first active fault for ``target``, consuming one of its ``times``."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(target) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

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
        """Put a release at the top of its board (dynamic mode).

        Publishing an existing ``seq`` again edits it in place (same position), which is how a
        corrected release looks on the site.
        """
        release = Release(seq, title, date, body, board, tuple(attachments))
        self._require_dynamic()
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
        """Replace the dynamic boards with ``releases`` (each list given newest first)."""
        self._require_dynamic()
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
        """The dynamic board as the listing shows it, newest first."""
        with self._lock:
            return list(self._boards.get(board, []))

    def _require_dynamic(self) -> None:
        if self.mode != "dynamic":
            raise RuntimeError("publishing needs SiteServer(mode='dynamic')")

    # -- routes (called from handler threads) -----------------------------------------------

    def listing(self, site: str, board: str, page: int, srch_fr: str, srch_to: str) -> Page:
        if self.mode == "recorded":
            return self._recorded_listing(site, board, page)
        with self._lock:
            rows = [r for r in self._boards.get(board, []) if _in_range(r.date, srch_fr, srch_to)]
            version = self._version
        chunk = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        body = render_listing(board, chunk, page=page, total=len(rows))
        return Page(200, body.encode(), last_modified=_BASE_EPOCH + version)

    def article(self, site: str, board: str, seq: int) -> Page:
        if self.mode == "recorded":
            return self._file(self._board_dir(site, board) / f"view_seq{seq}.html")
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
        ctype = "text/xml"  # the site sends no charset
        bom = b"\xef\xbb\xbf" if self.feed_bom else b""
        if self.mode == "recorded":
            page = self._file(self._feed_file(brd_id), ctype)
            return replace(page, body=bom + page.body) if page.status == 200 else page
        board = FEED_BOARDS.get(brd_id)
        if board is None:
            return not_found()
        with self._lock:
            rows = list(self._boards.get(board, []))
            version = self._version
        xml = render_feed(rows, base_url=self.base_url, board=board)
        return Page(200, bom + xml.encode(), ctype, _BASE_EPOCH + version)

    def robots(self) -> Page:
        text = self.robots_txt
        if text is None:
            return not_found()
        return Page(200, text.encode(), "text/plain")

    # -- recorded files ---------------------------------------------------------------------

    def _board_dir(self, site: str, board: str) -> Path:
        """Files live under ``{site}/brd/{board}``; the feed's ``/www/`` links fall back to any."""
        wanted = self.root / site / "brd" / board
        if wanted.is_dir():
            return wanted
        return next(iter(sorted(self.root.glob(f"*/brd/{board}"))), wanted)

    def _recorded_listing(self, site: str, board: str, page: int) -> Page:
        folder = self._board_dir(site, board)
        path = folder / f"list_page{page}.html"
        if path.is_file():
            return self._file(path)
        first = folder / "list_page1.html"
        if not first.is_file():
            return not_found()
        found = re.search(r"Total <strong>(\d+)</strong>", first.read_text(encoding="utf-8"))
        total = int(found.group(1)) if found else 0
        return Page(200, render_listing(board, [], page=page, total=total).encode())

    def _feed_file(self, brd_id: int) -> Path:
        name = f"rss_brdId{brd_id}.xml"
        candidates = [self.root / name, *sorted(self.root.glob(f"*/brd/*/{name}"))]
        return next((p for p in candidates if p.is_file()), candidates[0])

    def _file(self, path: Path, content_type: str = "text/html;charset=UTF-8") -> Page:
        if not path.is_file():
            return not_found()
        return Page(200, path.read_bytes(), content_type, path.stat().st_mtime)


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
