"""The only module that speaks HTTP: every politeness and robustness rule lives here, once.

The ministry's site needs care: its first answer is a ``307`` that sets a ``TMOSHCooKie`` cookie
(so a cookie-keeping session is required), connection resets happen, and a Korean site may serve
bytes whose charset label is wrong. Toward the site we promise: our own User-Agent, robots.txt
honoured (with its HTTP caching, RFC 9309 §2.4), a pause between two requests to the same host,
bounded retries that respect ``Retry-After`` (a longer wait is handed to the caller as
:class:`RetryLaterError`, to be honoured across polls), and conditional GET. Toward the rest of
the program we promise: either a fully received, strictly decoded page of the kind asked for,
within ``read_timeout`` per answer in total, or a :class:`~monitor.errors.FetchError` whose
message says what went wrong — never a partial page and never mojibake — and, once the cancel
event is set, an immediate :class:`FetchInterrupted`.

A :class:`Fetcher` is made per source with plain parameters (:class:`FetchSettings`), so this
module knows nothing about the config file. It is not thread-safe: one source, one thread.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import http.client
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import requests
import urllib3.exceptions
from protego import Protego
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from monitor import __version__
from monitor.clock import Clock, system_clock
from monitor.closing import Closing
from monitor.errors import FetchError, RetryLaterError, RobotsDisallowedError
from monitor.fetch.payload import Expect, check_kind, check_markup, decode_body
from monitor.fetch.retry import (
    PoliteRetry,
    RequestInterrupted,
    RetryAfterTooLong,
    current_scope,
    delta_seconds,
)
from monitor.models import CachedRobots

log = logging.getLogger(__name__)


#: Statuses worth another try: overload and transient server trouble.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Statuses whose ``Retry-After`` asks the client to come back later (RFC 9110 §10.2.3, RFC 6585).
WAIT_STATUSES = frozenset({429, 503})
#: robots.txt is cached at most this long (RFC 9309 §2.4), less when its HTTP caching says so.
ROBOTS_TTL = 24 * 3600.0
#: ...and at least this long, whatever the server says, so it is not fetched before every page.
ROBOTS_MIN_TTL = 60.0
#: A robots.txt that forbids a URL we want is read again this soon: a lifted ban is seen.
ROBOTS_DISALLOW_TTL = 3600.0
#: A robots.txt that could not be fetched (5xx, network) is tried again this soon.
ROBOTS_FAILURE_TTL = 900.0
#: RFC 9309 asks crawlers to parse at least 500 KiB of robots.txt; more is not a robots file.
ROBOTS_MAX_BYTES = 512 * 1024
_CHUNK = 64 * 1024
_ACCEPT = {
    "html": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
    "xml": "application/rss+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5",
    "any": "*/*",
}


def build_user_agent(contact: str | None) -> str:
    """Our User-Agent: the tool and, when configured, how the site's operators can reach us."""
    if contact and contact.strip():
        return f"mofa-monitor/{__version__} (+{contact.strip()})"
    return f"mofa-monitor/{__version__}"


@dataclass(frozen=True)
class FetchSettings:
    """How one source is fetched; defaults are what public scrapers of the site found polite."""

    user_agent: str
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    request_delay: float = 1.0
    max_body_bytes: int = 5_000_000
    max_redirects: int = 5
    retries: int = 3
    backoff_factor: float = 1.0
    respect_robots: bool = True
    encoding: str | None = None
    #: A server asking us to wait longer than this (Retry-After) makes the fetch fail instead.
    retry_after_cap: float = 120.0

    def __post_init__(self) -> None:
        # Settings come from validated config; a bad value here is a programming error.
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.request_delay < 0 or self.backoff_factor < 0 or self.retry_after_cap < 0:
            raise ValueError("request_delay, backoff_factor and retry_after_cap must be >= 0")
        if self.max_body_bytes <= 0 or self.max_redirects < 0 or self.retries < 0:
            raise ValueError("max_body_bytes must be positive, max_redirects and retries >= 0")
        if not self.user_agent.strip():
            raise ValueError("user_agent must not be empty")


@dataclass(frozen=True)
class FetchResult:
    """A page fully received and decoded (``text``), or "not modified" (``text`` is None).

    ``url`` is the final URL after redirects — the one relative links resolve against.
    ``etag`` / ``last_modified`` are the validators to send next time (``last_modified`` only
    when it is a strong validator, :func:`strong_last_modified`). ``encoding`` is the codec
    that decoded the body ("" for a 304). ``elapsed`` is wall time in seconds, retries included.
    """

    url: str
    status: int
    text: str | None
    not_modified: bool
    etag: str | None
    last_modified: str | None
    encoding: str
    elapsed: float
    content_type: str | None = None


@dataclass(frozen=True)
class FetchedBytes:
    """Raw body and headers, for callers (feed parsers) that decode themselves."""

    url: str
    status: int
    content: bytes | None
    not_modified: bool
    etag: str | None
    last_modified: str | None
    content_type: str | None
    elapsed: float
    #: Seconds a ``Retry-After`` header asked for (None without one).
    retry_after: float | None = None
    #: Freshness lifetime its HTTP caching headers give (RFC 9111 §4.2.1), None if they say none.
    cache_seconds: float | None = None


class HTTPStatusError(FetchError):
    """The server answered with a 4xx/5xx status after retries; ``status`` tells which."""

    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status} for {url}")
        self.status = status
        self.url = url


class FetchInterrupted(FetchError):
    """The fetch was stopped because the process is stopping (the cancel event was set)."""


class RobotsStore(Protocol):
    """Where robots.txt copies outlive the process (the state database)."""

    def cached_robots(self, origin: str) -> CachedRobots | None: ...

    def save_robots(self, robots: CachedRobots) -> None: ...


@dataclass
class _RobotsEntry:
    parser: Protego
    expires: float  # on the Fetcher's clock
    failed: bool = False
    cached: CachedRobots | None = None  # what is kept in the state, when it is


# -- interruptible requests ----------------------------------------------------------------


class _Exchange:
    """The sockets of one request in flight, shut down at its deadline or on cancel.

    A read timeout bounds each ``recv``, not the answer: a server that trickles one byte a
    second never trips it. So each HTTP exchange (headers and body) gets a total deadline of
    the read timeout, counted from when its response is awaited, and a watcher thread shuts the
    socket down at that deadline — or at once when the cancel event is set — which wakes the
    blocked read in this thread. Registered by the connection classes below.
    """

    def __init__(self, timeout: float, cancel: threading.Event | None) -> None:
        self.timeout = timeout
        self.cancel = cancel
        self.deadline = float("inf")
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="fetch-deadline", daemon=True)
        self._watcher.start()

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def arm(self, sock: socket.socket | None) -> None:
        """A response is awaited on ``sock``: its exchange must end within ``timeout``."""
        if sock is None:
            return
        with self._lock:
            self.deadline = time.monotonic() + self.timeout
            self.expired = False
            if sock not in self._sockets:
                self._sockets.append(sock)
        if self.cancelled:
            self._abort()

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            if self.cancelled or time.monotonic() > self.deadline:
                with self._lock:
                    self.expired = self.expired or not self.cancelled
                    self.deadline = float("inf")
                self._abort()

    def _abort(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._done.set()


class _ArmedHTTPConnection(HTTPConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        scope = current_scope()
        if isinstance(scope, _Exchange):
            scope.arm(self.sock)
        return super().getresponse(*args, **kwargs)


class _ArmedHTTPSConnection(HTTPSConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        scope = current_scope()
        if isinstance(scope, _Exchange):
            scope.arm(self.sock)
        return super().getresponse(*args, **kwargs)


class _ArmedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _ArmedHTTPConnection


class _ArmedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _ArmedHTTPSConnection


#: Location bytes kept as they are when percent-encoding a non-UTF-8 one: printable ASCII.
_URL_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


def browser_location(raw: bytes) -> str:
    """A ``Location`` header's bytes as the URL a browser follows.

    UTF-8 is read as UTF-8 (requests then percent-encodes the non-ASCII). Any other bytes —
    Korean CMSs send raw EUC-KR in a query string, some hosts a raw Latin-1 byte — are
    percent-encoded byte for byte, as the WHATWG URL parser does for code points outside
    ASCII, so the server gets back exactly the bytes it sent (URL Standard, "percent-encode
    after encoding"). Spaces and control characters are percent-encoded too.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return quote(raw, safe=_URL_SAFE)


class _BrowserRedirectSession(requests.Session):
    """A session that follows a redirect whose ``Location`` is not UTF-8, as browsers do.

    requests decodes the header (received as Latin-1 by http.client) as UTF-8 and raises
    UnicodeDecodeError on anything else; see :func:`browser_location`.
    """

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        if not resp.is_redirect:
            return None
        location: str = resp.headers["location"]
        try:
            raw = location.encode("latin-1")  # http.client decoded the header bytes so
        except UnicodeEncodeError:  # not from http.client: already text
            return location
        return browser_location(raw)


class _ArmedAdapter(HTTPAdapter):
    """requests' adapter whose connections register their socket with the exchange in flight."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _ArmedHTTPPool, "https": _ArmedHTTPSPool}


class Fetcher(Closing):
    """One polite HTTP client per source: cookies, retries, delays, robots.txt, size cap.

    ``sleep`` and ``clock`` are injectable so tests can check the politeness without waiting;
    ``wall`` is the process clock (:data:`monitor.clock.Clock`) for robots.txt copies kept in
    ``robots_store`` and for ``Retry-After`` dates; ``clock`` is monotonic, for delays only.
    Setting ``cancel`` (the service does on SIGTERM) ends the request in flight at once and
    every later one: waits are interruptible and sockets are shut down. Each HTTP exchange is
    bounded by ``read_timeout`` in total, not per read. Use as a context manager or call
    :meth:`close`.
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Clock = system_clock,
        cancel: threading.Event | None = None,
        robots_store: RobotsStore | None = None,
    ) -> None:
        self.settings = settings
        self.cancel = cancel
        self._sleep = sleep or self._interruptible_sleep
        self._clock = clock
        self._wall = wall
        self._robots_store = robots_store
        self._last_request: dict[str, float] = {}
        self._robots: dict[str, _RobotsEntry] = {}
        self._session = self._make_session()

    def _make_session(self) -> requests.Session:
        s = self.settings
        retry = PoliteRetry(
            total=s.retries,
            backoff_factor=s.backoff_factor,
            backoff_max=s.retry_after_cap,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=True,
            raise_on_status=False,  # we turn the final status into a FetchError ourselves
            sleep=self._sleep,
            retry_after_cap=s.retry_after_cap,
            cancel=self.cancel,
        )
        session = _BrowserRedirectSession()
        session.max_redirects = s.max_redirects
        session.headers["User-Agent"] = s.user_agent
        adapter = _ArmedAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    # -- public API -------------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        expect: Expect = "html",
    ) -> FetchResult:
        """Fetch ``url`` and decode it; raise FetchError unless it is a whole page of ``expect``.

        Pass the validators from the previous result to get ``not_modified=True`` cheaply.
        """
        raw = self.get_bytes(url, etag=etag, last_modified=last_modified, expect=expect)
        if raw.not_modified or raw.content is None:
            return _result(raw, None, "")
        check_kind(raw.content, raw.content_type, expect, raw.url)
        text, encoding = decode_body(raw.content, raw.content_type, self.settings.encoding, raw.url)
        check_markup(text, expect, raw.url)
        return _result(raw, text, encoding)

    def get_bytes(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        expect: Expect = "any",
    ) -> FetchedBytes:
        """Fetch ``url`` with all the politeness of :meth:`get`, but return the raw body."""
        if self.settings.respect_robots:
            self._check_robots(url)
        headers = {"Accept": _ACCEPT[expect]}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        raw = self._request(url, headers, self.settings.max_body_bytes)
        if raw.status in WAIT_STATUSES and raw.retry_after is not None:
            raise RetryLaterError(
                f"HTTP {raw.status} for {raw.url}: the server asked us to come back in "
                f"{raw.retry_after:.0f} s (Retry-After)",
                raw.retry_after,
            )
        if raw.status >= 400:
            raise HTTPStatusError(raw.status, raw.url)
        if raw.not_modified and not (etag or last_modified):
            # A 304 answers a conditional request only (RFC 9110 §15.4.5); without one there is
            # no copy it could refer to, and taking it for "unchanged" would hide the page.
            raise FetchError(
                f"{raw.url}: answered 304 Not Modified to a request that was not conditional"
            )
        return raw

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def _interruptible_sleep(self, seconds: float) -> None:
        """``time.sleep`` that ends (raising) as soon as the cancel event is set."""
        if self.cancel is None:
            time.sleep(seconds)
        elif self.cancel.wait(seconds):
            raise RequestInterrupted()

    # -- one request ------------------------------------------------------------------------

    def _request(self, url: str, headers: Mapping[str, str], max_bytes: int) -> FetchedBytes:
        """One GET (redirects and retries included) after the per-host pause; body fully read."""
        host = _host_key(url)
        exchange: _Exchange | None = None
        try:
            self._check_cancel(url)
            self._wait_for_turn(host)
            self._check_cancel(url)
            started = time.perf_counter()
            exchange = _Exchange(self.settings.read_timeout, self.cancel)
            with current_scope.using(exchange):
                raw = self._send(url, headers, max_bytes, started)
            if exchange.cancelled or exchange.expired:  # a cut answer may still parse as whole
                raise FetchError(f"{url}: answer cut at its deadline")
            return raw
        except RequestInterrupted as exc:
            raise FetchInterrupted(f"{url}: interrupted, stopping") from exc
        except (requests.RequestException, FetchError) as exc:
            if exchange is not None and exchange.cancelled:
                raise FetchInterrupted(f"{url}: interrupted, stopping") from exc
            if exchange is not None and exchange.expired:
                raise FetchError(
                    f"{url}: timed out (no complete answer within {self.settings.read_timeout:g} s)"
                ) from exc
            if isinstance(exc, FetchError):
                raise
            raise FetchError(_describe(exc, url, self.settings)) from exc
        except (ValueError, urllib3.exceptions.HTTPError, http.client.HTTPException) as exc:
            # Whatever else requests/urllib3 raise while handling one URL or answer — a
            # Location with a malformed host (``http://[::1/x``, a 70-character label,
            # ``a..example``) raises ValueError/LocationParseError, not a RequestException —
            # fails this URL with one line, never the caller's whole source.
            if exchange is not None and exchange.cancelled:
                raise FetchInterrupted(f"{url}: interrupted, stopping") from exc
            raise FetchError(f"{url}: request failed: {_plain(exc)}") from exc
        except RetryAfterTooLong as exc:
            raise RetryLaterError(
                f"{url}: the server asked us to retry after {exc.seconds:.0f} s (Retry-After), "
                f"more than the {self.settings.retry_after_cap:.0f} s we wait within a poll",
                exc.seconds,
            ) from exc
        finally:
            if exchange is not None:
                exchange.close()
            self._last_request[host] = self._clock()

    def _check_cancel(self, url: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise FetchInterrupted(f"{url}: interrupted, stopping")

    def _send(
        self, url: str, headers: Mapping[str, str], max_bytes: int, started: float
    ) -> FetchedBytes:
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        with self._session.get(url, headers=headers, timeout=timeout, stream=True) as resp:
            content = None if resp.status_code == 304 else _read_capped(resp, max_bytes)
            elapsed = time.perf_counter() - started
            size = len(content) if content is not None else 0
            log.debug("GET %s -> %d, %d bytes, %.2f s", resp.url, resp.status_code, size, elapsed)
            return FetchedBytes(
                url=resp.url,
                status=resp.status_code,
                content=content,
                not_modified=resp.status_code == 304,
                etag=resp.headers.get("ETag") or None,
                last_modified=strong_last_modified(resp.headers, now=self._wall),
                content_type=resp.headers.get("Content-Type"),
                elapsed=elapsed,
                retry_after=retry_after_seconds(
                    resp.headers.get("Retry-After"), self._wall().timestamp()
                ),
                cache_seconds=freshness_seconds(resp.headers, now=self._wall),
            )

    def _wait_for_turn(self, host: str) -> None:
        """Keep ``request_delay`` between the end of one request and the start of the next.

        Measured from the end, so a slow server also gets a slower client. Redirect hops and
        urllib3 retries inside one request are paced by the server (cookie gate) or by backoff.
        """
        last = self._last_request.get(host)
        if last is None or self.settings.request_delay <= 0:
            return
        wait = last + self.settings.request_delay - self._clock()
        if wait > 0:
            self._sleep(wait)

    # -- robots.txt -------------------------------------------------------------------------

    def _check_robots(self, url: str) -> None:
        key = _origin(url)
        entry = self._robots_for(key)
        if robots_allow(entry.parser, url, self.settings.user_agent):
            return
        # A ban is read again within the hour (sooner if its caching says so), so a lifted one
        # does not keep the source down for a day.
        entry.expires = min(entry.expires, self._clock() + ROBOTS_DISALLOW_TTL)
        if self._robots_store is not None and entry.cached is not None:
            soon = self._wall() + dt.timedelta(seconds=ROBOTS_DISALLOW_TTL)
            if soon < entry.cached.expires_at:  # later processes re-check as soon
                entry.cached = replace(entry.cached, expires_at=soon)
                self._robots_store.save_robots(entry.cached)
        raise RobotsDisallowedError(
            f"robots.txt of {_host_key(url)} disallows {url} for our User-Agent; "
            "set respect_robots = false only if the site owner agrees"
        )

    def _robots_for(self, key: str) -> _RobotsEntry:
        entry = self._robots.get(key)
        if entry is None:
            entry = self._stored_robots(key)
        if entry is None or entry.expires <= self._clock():
            entry = self._fetch_robots(key)
        self._robots[key] = entry
        return entry

    def _stored_robots(self, key: str) -> _RobotsEntry | None:
        """The copy a previous process kept, on this Fetcher's clock, if still fresh."""
        if self._robots_store is None:
            return None
        cached = self._robots_store.cached_robots(key)
        if cached is None:
            return None
        left = (cached.expires_at - self._wall()).total_seconds()
        parser = _robots_parser(key, cached.status, cached.body)
        return _RobotsEntry(parser, self._clock() + left, cached=cached)

    def _fetch_robots(self, key: str) -> _RobotsEntry:
        """Fetch and parse robots.txt through the session (same UA, timeouts, cookies, pause).

        404/410 (and other 4xx) mean "no rules" (RFC 9309 §2.3.1.3). For a 5xx, a 3xx that
        is not a redirect (a 304 to this unconditional request), or a network
        failure RFC 9309 says "assume disallow"; we keep using the last copy we had (RFC 9309
        §2.4 allows a cached copy while the file is unreachable) or, without one, allow and log
        a warning, because the site is known to be flaky and a failed robots.txt would otherwise
        stop monitoring. Either way it is tried again after :data:`ROBOTS_FAILURE_TTL`. A host
        that cannot be reached at all (name not resolved, connection refused) raises the
        FetchError: the page would fail too, and one failure is reported, not two.
        A fetched copy is fresh for its HTTP caching lifetime (``Cache-Control: max-age``,
        ``Expires``, else 10 % of its age since ``Last-Modified``), clamped to
        [:data:`ROBOTS_MIN_TTL`, :data:`ROBOTS_TTL`] (RFC 9309 §2.4: at most 24 h).
        """
        robots_url = key + "/robots.txt"
        now = self._clock()
        try:
            raw = self._request(robots_url, {"Accept": "text/plain,*/*;q=0.5"}, ROBOTS_MAX_BYTES)
            # a 3xx left after redirects are followed (a 304 to this unconditional request) has
            # no rules to read: as unavailable as a 5xx, not the "no rules" of a 4xx
            problem = (
                None if raw.status < 300 or 400 <= raw.status < 500 else f"answered {raw.status}"
            )
        except FetchInterrupted:
            raise
        except FetchError as exc:
            if _unreachable(exc):  # the pages cannot be reached either: fail once, not twice
                raise
            raw, problem = None, str(exc)
        if raw is None or problem is not None:
            previous = self._robots.get(key) or self._stored_robots(key)
            what = "using the last copy" if previous else "allowing all for now"
            log.warning("robots.txt %s unavailable (%s); %s", robots_url, problem, what)
            if previous is None:
                return _RobotsEntry(Protego.parse(""), now + ROBOTS_FAILURE_TTL, failed=True)
            return _RobotsEntry(previous.parser, now + ROBOTS_FAILURE_TTL, failed=True)
        body = "" if raw.status >= 400 or not raw.content else _robots_text(raw.content)
        lifetime = ROBOTS_TTL if raw.cache_seconds is None else raw.cache_seconds
        ttl = max(ROBOTS_MIN_TTL, min(ROBOTS_TTL, lifetime))
        fetched = self._wall()
        cached = CachedRobots(key, raw.status, body, fetched, fetched + dt.timedelta(seconds=ttl))
        if self._robots_store is not None:
            self._robots_store.save_robots(cached)
        return _RobotsEntry(_robots_parser(key, raw.status, body), now + ttl, cached=cached)


# -- helpers -------------------------------------------------------------------------------


def _result(raw: FetchedBytes, text: str | None, encoding: str) -> FetchResult:
    return FetchResult(
        url=raw.url,
        status=raw.status,
        text=text,
        not_modified=text is None,
        etag=raw.etag,
        last_modified=raw.last_modified,
        encoding=encoding,
        elapsed=raw.elapsed,
        content_type=raw.content_type,
    )


def _host_key(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _robots_text(content: bytes) -> str:
    """Rules are ASCII; a stray byte must not cost us the whole file."""
    return content.decode("utf-8-sig", errors="replace")


def _robots_parser(origin: str, status: int, body: str) -> Protego:
    """The rules of one origin's robots.txt; a 4xx answer or an empty file allows all
    (RFC 9309 §2.3.1.3). ``origin`` is kept for the signature callers use."""
    del origin
    return Protego.parse("" if status >= 400 else body)


def robots_allow(rules: Protego, url: str, user_agent: str) -> bool:
    """Whether ``rules`` let ``user_agent`` fetch ``url``, as RFC 9309 says.

    Read by Protego (the parser Scrapy uses): the group of the most specific matching
    user-agent, else ``*`` (§2.2.1); the longest matching rule wins, Allow on a tie (§2.2.2);
    ``*`` and ``$`` in patterns (§2.2.3); percent-encoding compared canonically.
    """
    return bool(rules.can_fetch(url, user_agent))


_MAX_AGE_RE = re.compile(r"(?:^|,)\s*(s-maxage|max-age)\s*=\s*\"?(\d{1,12})", re.IGNORECASE)
_NO_CACHE_RE = re.compile(r"(?:^|,)\s*(no-store|no-cache)\b", re.IGNORECASE)


def freshness_seconds(headers: Mapping[str, str], *, now: Clock = system_clock) -> float | None:
    """The freshness lifetime the response's caching headers give, in seconds (RFC 9111 §4.2).

    ``Cache-Control: no-store``/``no-cache`` → 0; ``s-maxage``/``max-age``; else ``Expires``
    minus ``Date``; else the heuristic 10 % of ``Date`` minus ``Last-Modified`` (§4.2.2);
    else None (the headers say nothing).
    """
    control = headers.get("Cache-Control") or ""
    if _NO_CACHE_RE.search(control):
        return 0.0
    ages = dict((name.lower(), int(value)) for name, value in _MAX_AGE_RE.findall(control))
    if ages:
        return float(ages["s-maxage"] if "s-maxage" in ages else ages.get("max-age", 0))
    date = _http_date(headers.get("Date")) or now().timestamp()
    expires = headers.get("Expires")
    if expires is not None:
        when = _http_date(expires)
        return max(0.0, when - date) if when is not None else 0.0  # invalid Expires: stale
    modified = _http_date(headers.get("Last-Modified"))
    if modified is not None:
        return max(0.0, (date - modified) / 10)
    return None


#: A ``Last-Modified`` at least this long before the answer's ``Date`` is a strong validator
#: (RFC 9110 §8.8.2.2); a closer one may stand for two versions changed within one second.
STRONG_LAST_MODIFIED_GAP = 60.0


def strong_last_modified(headers: Mapping[str, str], *, now: Clock = system_clock) -> str | None:
    """The ``Last-Modified`` value to send as ``If-Modified-Since`` next time, or None.

    A modification date has one-second resolution: a page changed twice within the second it
    was read keeps the same ``Last-Modified``, and a conditional request with it would get a
    ``304`` for a page never seen. RFC 9110 §8.8.2.2 deduces a date is strong when it is at
    least 60 s before the ``Date`` of the answer (our clock when the server sends no ``Date``);
    a weaker one, an unparsable one, or one in the future is not kept.
    """
    value = headers.get("Last-Modified")
    modified = _http_date(value)
    if value is None or modified is None:
        return None
    date = _http_date(headers.get("Date")) or now().timestamp()
    return value if date - modified >= STRONG_LAST_MODIFIED_GAP else None


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now`` (epoch): delta-seconds or an HTTP-date."""
    if value is None:
        return None
    seconds = delta_seconds(value)
    if seconds is not None:
        return seconds
    when = _http_date(value.strip())
    return None if when is None else max(0.0, when - now)


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def _format_mb(n: int) -> str:
    return f"{n / 1_000_000:g} MB" if n >= 1_000_000 else f"{n} bytes"


def _read_capped(resp: requests.Response, max_bytes: int) -> bytes:
    """Read the body, giving up (and dropping the connection) as soon as it exceeds the cap."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        resp.close()
        raise FetchError(f"{resp.url}: response larger than {_format_mb(max_bytes)} "
                         f"(Content-Length {declared})")  # fmt: skip
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_content(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            resp.close()
            raise FetchError(f"{resp.url}: response larger than {_format_mb(max_bytes)}")
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(exc: requests.RequestException, url: str, settings: FetchSettings) -> str:
    """A message a user can act on, for each way requests/urllib3 can fail."""
    text = str(exc)
    if isinstance(exc, requests.TooManyRedirects):
        return f"{url}: redirect loop (more than {settings.max_redirects} redirects)"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or "IncompleteRead" in text:
        return f"{url}: response body truncated (connection closed before the whole page arrived)"
    if isinstance(exc, requests.Timeout) or "timed out" in text.lower():
        return (f"{url}: timed out (connect timeout {settings.connect_timeout:g} s, read timeout "
                f"{settings.read_timeout:g} s, {settings.retries} retries)")  # fmt: skip
    if isinstance(exc, requests.ConnectionError):
        return f"{url}: connection failed after {settings.retries} retries: {_reason(exc)}"
    return f"{url}: request failed: {_reason(exc)}"


def _plain(exc: BaseException) -> str:
    """An exception's message on one line, with its type when the message is empty."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _unreachable(exc: FetchError) -> bool:
    """Whether no connection could be made at all (name not resolved, refused) — not a slow
    host nor one that dropped a connection, which the flaky site does."""
    cause = exc.__cause__
    inner = cause.args[0] if isinstance(cause, requests.ConnectionError) and cause.args else None
    return isinstance(getattr(inner, "reason", None), urllib3.exceptions.NewConnectionError)


def _reason(exc: Exception) -> str:
    """The innermost useful message (urllib3 wraps the socket error in MaxRetryError); a host
    that cannot be resolved or connected to is said in words, not as urllib3's repr."""
    inner = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", inner)
    conn = getattr(reason, "conn", None)
    where = f"{getattr(conn, 'host', '?')}:{getattr(conn, 'port', '?')}"
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return f"cannot resolve {getattr(conn, 'host', 'the host')} (no network, or DNS failing?)"
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        cause = reason.__cause__ or reason.__context__
        why = getattr(cause, "strerror", None) or "failed"
        return f"cannot connect to {where}: {why}"
    return str(reason)
