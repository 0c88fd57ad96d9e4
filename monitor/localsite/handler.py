"""The request handler behind :class:`.server.SiteServer`: routing, cookie gate, 304s.

Three hooks let a subclass change the answers without copying the plumbing (the test suite's
fault injection and request log in ``tests/sitekit.py`` use them): :meth:`SiteHandler.answer`
(the whole answer, before the gate), :meth:`SiteHandler.route` (the page for a path) and
:meth:`SiteHandler.answered` (called with the status just before it is sent).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from hashlib import sha1
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from monitor.localsite.server import SiteServer

_BOARD_PATH = re.compile(r"^/(?P<site>\w+)/brd/(?P<board>m_\d+)/(?P<action>list|view|down)\.do$")
_SEQ = re.compile(r"(?:^|[?&;])seq=(\d+)")
_GATE_COOKIE = "TMOSHCooKie"


@dataclass(frozen=True)
class Page:
    """What a route answers before conditional-GET and gate logic."""

    status: int
    body: bytes
    content_type: str | None = "text/html;charset=UTF-8"  # None: no Content-Type header
    last_modified: float | None = None  # epoch seconds; with an ETag when set
    headers: tuple[tuple[str, str], ...] = ()  # extra headers, sent as given


def not_found() -> Page:
    return Page(404, b"<html><body><h1>404 Not Found</h1></body></html>")


class SiteHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, like the real site; idle connections time out after 5 s."""

    protocol_version = "HTTP/1.1"
    timeout = 5
    disable_nagle_algorithm = True  # headers and body go out in two writes; avoid 40 ms stalls
    server_version = "Apache"
    sys_version = ""

    @property
    def site(self) -> SiteServer:
        return self.server.site  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request stderr line; the site keeps its own log."""

    def do_HEAD(self) -> None:
        self._handle(send_body=False)

    def do_GET(self) -> None:
        self._handle(send_body=True)

    # -- dispatch ---------------------------------------------------------------------------

    def _handle(self, *, send_body: bool) -> None:
        self._send_body = send_body
        self._answered = False
        status: int | None = None
        try:
            status = self.answer()
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client hung up; nothing to answer
        finally:
            if not self._answered:
                self._record(status)

    def answer(self) -> int | None:
        """Answer the request; the status sent, or None when none was. The gate comes first."""
        if self.site.cookie_gate and not self._has_gate_cookie():
            return self._gate()
        return self._serve(self.route())

    def answered(self, status: int | None) -> None:
        """Hook: the request is about to be answered with ``status`` (None: no answer at all)."""

    def _record(self, status: int | None) -> None:
        """Call :meth:`answered` once per request, *before* the answer goes out."""
        self._answered = True
        self.answered(status)

    def route(self) -> Page:
        """The page for ``self.path``: robots.txt, the feed, or a board's list/view/down."""
        split = urlsplit(self.path)
        query = parse_qs(split.query)
        if split.path == "/robots.txt":
            return self.site.robots()
        if split.path == "/www/brd/rss.do":
            return self.site.feed(_int(query.get("brdId"), 0))
        match = _BOARD_PATH.match(split.path)
        if match is None:
            return not_found()
        site, board, action = match.group("site", "board", "action")
        if action == "list":
            page = max(1, _int(query.get("page"), 1))
            fr, to = query.get("srchFr", [""])[0], query.get("srchTo", [""])[0]
            return self.site.listing(site, board, page, fr, to)
        seq = _SEQ.search(split.query)
        if seq is None:
            return not_found()
        if action == "view":
            return self.site.article(site, board, int(seq.group(1)))
        return _attachment(board, seq.group(1))

    # -- normal answers ---------------------------------------------------------------------

    def _has_gate_cookie(self) -> bool:
        return f"{_GATE_COOKIE}=" in (self.headers.get("Cookie") or "")

    def _gate(self) -> int:
        """The site's first answer: 307 to the same URL, setting the cookies, empty body."""
        self._record(307)
        self.send_response(307)
        self.send_header("Location", self.path)
        self.send_header("Set-Cookie", f"{_GATE_COOKIE}={secrets.token_hex(8)}; Path=/")
        self.send_header("Set-Cookie", f"JSESSIONID={secrets.token_hex(12)}; Path=/; HttpOnly")
        self.send_header("Content-Length", "0")
        self.end_headers()
        return 307

    def _serve(self, page: Page) -> int:
        headers: dict[str, str] = dict(page.headers)
        if page.status == 200 and page.last_modified is not None:
            etag = '"' + sha1(page.body).hexdigest()[:20] + '"'
            headers |= {"ETag": etag, "Last-Modified": formatdate(page.last_modified, usegmt=True)}
            if self._not_modified(etag, page.last_modified):
                return self._respond(304, b"", None, headers)
        return self._respond(page.status, page.body, page.content_type, headers)

    def _not_modified(self, etag: str, last_modified: float) -> bool:
        """RFC 9110 §13.1: If-None-Match wins; If-Modified-Since only without it."""
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return "*" in tags or etag in tags
        ims = self.headers.get("If-Modified-Since")
        if ims is None:
            return False
        try:
            return parsedate_to_datetime(ims).timestamp() >= int(last_modified)
        except (TypeError, ValueError):
            return False

    def _respond(
        self, status: int, body: bytes, content_type: str | None, headers: dict[str, str]
    ) -> int:
        self._record(status)
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self._send_body and body:
            self.wfile.write(body)
        return status


def _int(values: list[str] | None, default: int) -> int:
    try:
        return int(values[0]) if values else default
    except ValueError:
        return default


def _attachment(board: str, seq: str) -> Page:
    return Page(200, f"attachment of {board}/{seq}".encode(), "application/octet-stream")
