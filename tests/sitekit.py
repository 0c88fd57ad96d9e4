"""The test suite's local ministry site: the packaged demo board plus what only tests need.

:class:`monitor.localsite.SiteServer` ships the board ``mofa-monitor demo`` runs. Tests also need
the site to misbehave and to be watched, so this subclass (same name, a superset of its API) adds:

- two modes: ``"dynamic"`` (the packaged board, rendered from release records) and
  ``"recorded"`` (serve a folder of recorded pages, ``root``, as stored);
- a thread-safe request log (:attr:`SiteServer.requests`), for assertions about what the client
  sent;
- fault injection per path (:meth:`SiteServer.fault`), with bodies streamed, never built whole;
- canned answers for exact targets (:meth:`SiteServer.canned`) and a feed with a UTF-8 BOM.

Typical use (fixtures ``site``, ``live_site`` and ``make_site`` in ``conftest.py``)::

    live_site.fault("/eng/brd/m_5676/list.do", 503, retry_after=1, times=2)
    assert [r.status for r in live_site.requests_to("/eng/")][-1] == 200
"""

from __future__ import annotations

import fnmatch
import re
import socket
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from requests.structures import CaseInsensitiveDict

from monitor.localsite import server as packaged
from monitor.localsite.handler import Page, SiteHandler, not_found
from monitor.localsite.pages import render_empty_listing, render_listing
from monitor.localsite.server import ALLOW_ALL, CORPUS, Release, load_corpus

__all__ = [
    "ALLOW_ALL",
    "CORPUS",
    "Fault",
    "FaultKind",
    "LoggedRequest",
    "Page",
    "Release",
    "SiteServer",
    "load_corpus",
]

Mode = Literal["recorded", "dynamic"]
FaultKind = Literal[
    "status",
    "slow",
    "reset",
    "truncated",
    "huge",
    "huge_chunked",
    "non_html",
    "redirect_loop",
    "empty_listing",
    "trickle_headers",
    "trickle_body",
]

HUGE_BYTES = 50_000_000
_CHUNK = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"
_PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n\x00\x00\x00trailer\n"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class LoggedRequest:
    """One request the server received; ``status`` is what it answered (None: no answer)."""

    method: str
    path: str  # path with query string, as sent
    headers: CaseInsensitiveDict[str]
    status: int | None


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


class FaultyHandler(SiteHandler):
    """The packaged handler, plus faults (before the gate), canned pages and the request log."""

    @property
    def site(self) -> SiteServer:
        return self.server.site  # type: ignore[attr-defined,no-any-return]

    def answer(self) -> int | None:
        fault = self.site.take_fault(self.path)
        if fault is not None:
            return self._apply_fault(fault)
        return super().answer()

    def route(self) -> Page:
        canned = self.site.canned_page(self.path)
        return canned if canned is not None else super().route()

    def answered(self, status: int | None) -> None:
        """Log the request *before* answering, so a test that got its answer sees the entry."""
        headers = CaseInsensitiveDict(dict(self.headers.items()))
        self.site.record(LoggedRequest(self.command, self.path, headers, status))

    # -- faults -----------------------------------------------------------------------------

    def _apply_fault(self, fault: Fault) -> int | None:
        kind = fault.kind
        if kind == "status":
            status = fault.status or 500
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            body = f"<html><body><h1>{status}</h1></body></html>".encode()
            return self._respond(status, body, "text/html;charset=UTF-8", headers)
        if kind == "slow":
            time.sleep(fault.delay)
            return self._serve(self.route())
        if kind in ("trickle_headers", "trickle_body"):
            return self._trickle(kind, fault.delay)
        if kind == "reset":
            self._reset()
            return None
        if kind == "redirect_loop":
            return self._respond(302, b"", None, {"Location": self.path})
        if kind == "non_html":
            return self._respond(200, _PDF, "application/pdf", {})
        if kind == "empty_listing":
            return self._respond(200, render_empty_listing("m_5676").encode(), "text/html", {})
        return self._stream_fault(kind)

    def _reset(self) -> None:
        """Drop the connection with a TCP RST and no answer, like a flaky load balancer."""
        self._record(None)
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _trickle(self, kind: FaultKind, every: float) -> int:
        """One byte every ``every`` seconds, forever: in the headers, or in the body after them.

        Each byte arrives well within a client's read timeout, so only a total deadline per
        request (or an interruption) ends it; stops when the client hangs up.
        """
        self._record(200)
        self.close_connection = True
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html;charset=UTF-8\r\n"
        if kind == "trickle_body":
            self.wfile.write(head + b"Content-Length: 1000000\r\n\r\n<html>")
        else:
            self.wfile.write(head + b"X-Slow: ")
        try:
            while True:
                time.sleep(every)
                self.wfile.write(b"x")
                self.wfile.flush()
        except OSError:
            return 200

    def _stream_fault(self, kind: FaultKind) -> int:
        self._record(200)
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/html;charset=UTF-8")
        self.send_header("Connection", "close")
        if kind == "truncated":
            body = b"<html><body><p>This page is cut short"
            self.send_header("Content-Length", str(len(body) + 10_000))
            self.end_headers()
            self.wfile.write(body)
            return 200
        if kind == "huge":
            self.send_header("Content-Length", str(HUGE_BYTES))
        self.end_headers()
        self._stream(HUGE_BYTES)
        return 200

    def _stream(self, total: int) -> None:
        """Write ``total`` bytes of filler in 64 KiB chunks; stop when the client hangs up."""
        sent = 0
        while sent < total:
            chunk = _CHUNK[: total - sent]
            try:
                self.wfile.write(chunk)
            except OSError:
                return
            sent += len(chunk)


class SiteServer(packaged.SiteServer):
    """The test site: the packaged board, a recorded mode, faults, canned pages, a request log."""

    handler_class: ClassVar[type[SiteHandler]] = FaultyHandler

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
        super().__init__(cookie_gate=cookie_gate, robots_txt=robots_txt)
        self.root = root or Path()
        self.mode: Mode = mode
        self.feed_bom = feed_bom  # prefix the feed with a UTF-8 BOM, as the site may
        self._log: list[LoggedRequest] = []
        self._faults: list[Fault] = []
        self._canned: dict[str, Page] = {}

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

    # -- the dynamic board only in dynamic mode ---------------------------------------------

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
        self._require_dynamic()
        return super().publish(seq, title, date, body, board=board, attachments=attachments)

    def seed(self, releases: Iterable[Release]) -> None:
        self._require_dynamic()
        super().seed(releases)

    def _require_dynamic(self) -> None:
        if self.mode != "dynamic":
            raise RuntimeError("publishing needs SiteServer(mode='dynamic')")

    # -- routes: recorded files in recorded mode --------------------------------------------

    def listing(self, site: str, board: str, page: int, srch_fr: str, srch_to: str) -> Page:
        if self.mode == "recorded":
            return self._recorded_listing(site, board, page)
        return super().listing(site, board, page, srch_fr, srch_to)

    def article(self, site: str, board: str, seq: int) -> Page:
        if self.mode == "recorded":
            return self._file(self._board_dir(site, board) / f"view_seq{seq}.html")
        return super().article(site, board, seq)

    def feed(self, brd_id: int) -> Page:
        if self.mode == "recorded":
            page = self._file(self._feed_file(brd_id), "text/xml")  # the site sends no charset
        else:
            page = super().feed(brd_id)
        if self.feed_bom and page.status == 200:
            return replace(page, body=_BOM + page.body)
        return page

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
