"""The request handler behind :class:`.server.SiteServer`: routing, gate, faults, 304s.

Kept apart from the server's public API so the misbehaviours (resets, truncation, endless
bodies) can be read in one place. Every body that could be large is streamed in chunks and
stops as soon as the client hangs up, so a "50 MB" fault never holds 50 MB anywhere.
"""

from __future__ import annotations

import re
import secrets
import socket
import struct
import time
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from hashlib import sha1
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

from monitor.localsite.pages import render_empty_listing

if TYPE_CHECKING:
    from monitor.localsite.server import Fault, SiteServer

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
_BOARD_PATH = re.compile(r"^/(?P<site>\w+)/brd/(?P<board>m_\d+)/(?P<action>list|view|down)\.do$")
_SEQ = re.compile(r"(?:^|[?&;])seq=(\d+)")
_GATE_COOKIE = "TMOSHCooKie"


@dataclass(frozen=True)
class LoggedRequest:
    """One request the server received; ``status`` is what it answered (None: no answer)."""

    method: str
    path: str  # path with query string, as sent
    headers: CaseInsensitiveDict[str]
    status: int | None


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
        self._logged = False
        status: int | None = None
        try:
            fault = self.site.take_fault(self.path)
            if fault is not None:
                status = self._apply_fault(fault)
            elif self.site.cookie_gate and not self._has_gate_cookie():
                status = self._gate()
            else:
                status = self._serve(self._route())
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client hung up; nothing to answer
        finally:
            if not self._logged:
                self._record(status)

    def _record(self, status: int | None) -> None:
        """Log the request *before* answering, so a test that got its answer sees the entry."""
        self._logged = True
        headers = CaseInsensitiveDict(dict(self.headers.items()))
        self.site.record(LoggedRequest(self.command, self.path, headers, status))

    def _route(self) -> Page:
        canned = self.site.canned_page(self.path)
        if canned is not None:
            return canned
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
            return self._serve(self._route())
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


def _int(values: list[str] | None, default: int) -> int:
    try:
        return int(values[0]) if values else default
    except ValueError:
        return default


def _attachment(board: str, seq: str) -> Page:
    return Page(200, f"attachment of {board}/{seq}".encode(), "application/octet-stream")
