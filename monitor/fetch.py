"""The only module that speaks HTTP: every politeness and robustness rule lives here, once.

The ministry's site needs care: its first answer is a ``307`` that sets a ``TMOSHCooKie`` cookie
(so a cookie-keeping session is required), connection resets happen, and a Korean site may serve
bytes whose charset label is wrong. Toward the site we promise: our own User-Agent, robots.txt
honoured, a pause between two requests to the same host, bounded retries that respect
``Retry-After``, and conditional GET. Toward the rest of the program we promise: either a fully
received, strictly decoded page of the kind asked for, or a :class:`~monitor.errors.FetchError`
whose message says what went wrong — never a partial page and never mojibake.

A :class:`Fetcher` is made per source with plain parameters (:class:`FetchSettings`), so this
module knows nothing about the config file. It is not thread-safe: one source, one thread.
"""

from __future__ import annotations

import logging
import time
import urllib.robotparser
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from monitor import __version__
from monitor.closing import Closing
from monitor.errors import FetchError, RobotsDisallowedError
from monitor.http_retry import PoliteRetry, RetryAfterTooLong
from monitor.payload import Expect, check_kind, check_markup, decode_body

log = logging.getLogger(__name__)


#: Statuses worth another try: overload and transient server trouble.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: robots.txt is cached this long; a failed fetch (allow-all) is retried sooner.
ROBOTS_TTL = 24 * 3600.0
ROBOTS_FAILURE_TTL = 3600.0
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
    ``etag`` / ``last_modified`` are the validators to send next time. ``encoding`` is the codec
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


class HTTPStatusError(FetchError):
    """The server answered with a 4xx/5xx status after retries; ``status`` tells which."""

    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status} for {url}")
        self.status = status
        self.url = url


@dataclass
class _RobotsEntry:
    parser: urllib.robotparser.RobotFileParser
    expires: float


class Fetcher(Closing):
    """One polite HTTP client per source: cookies, retries, delays, robots.txt, size cap.

    ``sleep`` and ``clock`` are injectable so tests can check the politeness without waiting.
    Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
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
        )
        session = requests.Session()
        session.max_redirects = s.max_redirects
        session.headers["User-Agent"] = s.user_agent
        adapter = HTTPAdapter(max_retries=retry)
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
        if raw.status >= 400:
            raise HTTPStatusError(raw.status, raw.url)
        return raw

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    # -- one request ------------------------------------------------------------------------

    def _request(self, url: str, headers: Mapping[str, str], max_bytes: int) -> FetchedBytes:
        """One GET (redirects and retries included) after the per-host pause; body fully read."""
        host = _host_key(url)
        self._wait_for_turn(host)
        started = time.perf_counter()
        try:
            return self._send(url, headers, max_bytes, started)
        except requests.RequestException as exc:
            raise FetchError(_describe(exc, url, self.settings)) from exc
        except RetryAfterTooLong as exc:
            raise FetchError(
                f"{url}: the server asked us to retry after {exc.seconds:.0f} s (Retry-After), "
                f"more than the {self.settings.retry_after_cap:.0f} s we wait; giving up"
            ) from exc
        finally:
            self._last_request[host] = self._clock()

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
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
                content_type=resp.headers.get("Content-Type"),
                elapsed=elapsed,
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
        parser = self._robots_for(url)
        if not parser.can_fetch(self.settings.user_agent, url):
            raise RobotsDisallowedError(
                f"robots.txt of {_host_key(url)} disallows {url} for our User-Agent; "
                "set respect_robots = false only if the site owner agrees"
            )

    def _robots_for(self, url: str) -> urllib.robotparser.RobotFileParser:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc.lower()}"
        entry = self._robots.get(key)
        if entry is None or entry.expires <= self._clock():
            entry = self._fetch_robots(key + "/robots.txt")
            self._robots[key] = entry
        return entry.parser

    def _fetch_robots(self, robots_url: str) -> _RobotsEntry:
        """Fetch and parse robots.txt through the session (same UA, timeouts, cookies, pause).

        404/410 (and other 4xx) mean "no rules" (RFC 9309). For a 5xx or a network failure
        RFC 9309 says "assume disallow"; we allow instead and log a warning, because the site is
        known to be flaky and one failed robots.txt would otherwise stop monitoring for a day.
        That decision is retried after an hour, not a day. A host that cannot be reached at all
        (name not resolved, connection refused) raises the FetchError: the page would fail too.
        """
        parser = urllib.robotparser.RobotFileParser(robots_url)
        now = self._clock()
        try:
            raw = self._request(robots_url, {"Accept": "text/plain,*/*;q=0.5"}, ROBOTS_MAX_BYTES)
        except FetchError as exc:
            if _unreachable(exc):  # the pages cannot be reached either: fail once, not twice
                raise
            log.warning("robots.txt unavailable (%s); allowing all for now", exc)
            parser.allow_all = True
            return _RobotsEntry(parser, now + ROBOTS_FAILURE_TTL)
        if raw.status >= 500:
            log.warning("robots.txt %s answered %d; allowing all for now", robots_url, raw.status)
            parser.allow_all = True
            return _RobotsEntry(parser, now + ROBOTS_FAILURE_TTL)
        if raw.status >= 400 or not raw.content:
            parser.allow_all = True
        else:
            # Rules are ASCII; a stray byte must not cost us the whole file.
            parser.parse(raw.content.decode("utf-8-sig", errors="replace").splitlines())
        return _RobotsEntry(parser, now + ROBOTS_TTL)


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
