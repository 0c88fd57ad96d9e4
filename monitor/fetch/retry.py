"""The retry policy of :mod:`monitor.fetch.http`: urllib3's ``Retry``, made testable and firm.

urllib3 already retries the right failures (connection errors, read timeouts, listed statuses)
with exponential backoff. Two things are missing for a polite, well-tested monitor: sleeping
through an injected function (so tests need not wait, and can assert the waits), and refusing —
rather than silently clamping — a ``Retry-After`` longer than we are willing to wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Self

from urllib3.util.retry import Retry

log = logging.getLogger("monitor.fetch.http")  # retries are part of fetching; one logger to filter


#: A ``Retry-After`` of more digits than this is read as this many seconds (~31 700 years):
#: "very long", and capped by whoever honours it, instead of an integer Python refuses to build.
VERY_LONG = 10.0**12


def delta_seconds(value: str) -> float | None:
    """``Retry-After`` delta-seconds (RFC 9110 §10.2.3: ``1*DIGIT``, ASCII) as seconds.

    Any number of digits is accepted: more than twelve is :data:`VERY_LONG`. None when
    ``value`` is not delta-seconds (an HTTP-date, ``-5``, ``30.5``, ``soon``, ``１２``).
    """
    value = value.strip()
    if not value or not value.isascii() or not value.isdigit():
        return None
    return float(value) if len(value) <= 12 else VERY_LONG


class RetryAfterTooLong(Exception):
    """Raised inside urllib3's retry loop; turned into a FetchError by the Fetcher."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


class RequestInterrupted(Exception):
    """Raised inside urllib3's retry loop when the cancel event is set; the Fetcher reports it."""


class _CurrentScope(threading.local):
    """The request in flight in this thread (an object with ``cancelled``/``expired``), if any.

    urllib3 builds connections and retries deep inside requests; this is how they find the
    Fetcher's request without a parameter through every layer. One Fetcher is used by one
    thread, so a thread-local is exact.
    """

    scope: Any = None

    def __call__(self) -> Any:
        return self.scope

    @contextmanager
    def using(self, scope: Any) -> Iterator[None]:
        previous, self.scope = self.scope, scope
        try:
            yield
        finally:
            self.scope = previous


current_scope = _CurrentScope()


class PoliteRetry(Retry):
    """urllib3 ``Retry`` that sleeps through our injected ``sleep`` and logs each retry (DEBUG).

    urllib3 clamps ``Retry-After`` silently (``retry_after_max``); we would rather give up and
    say so than hang a poll for an hour, so a value above ``retry_after_cap`` aborts the fetch.
    """

    def __init__(
        self,
        *args: Any,
        sleep: Callable[[float], None] = time.sleep,
        retry_after_cap: float = 120.0,
        cancel: threading.Event | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retry_after_max", 10**9)  # we cap ourselves, loudly
        super().__init__(*args, **kwargs)
        self._sleep_fn = sleep
        self.retry_after_cap = retry_after_cap
        self.cancel = cancel

    def new(self, **kw: Any) -> Self:
        kw.setdefault("sleep", self._sleep_fn)
        kw.setdefault("retry_after_cap", self.retry_after_cap)
        kw.setdefault("cancel", self.cancel)
        return super().new(**kw)

    def increment(
        self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any
    ) -> Self:
        if self.cancel is not None and self.cancel.is_set():
            raise RequestInterrupted()  # stopping: no retry, whatever failed
        new = super().increment(method, url, *args, **kwargs)  # raises when exhausted
        last = new.history[-1] if new.history else None
        cause = (last.status or last.error) if last else "?"
        new.pending = f"{method} {url} after {cause}"  # type: ignore[attr-defined]  # typed as Self of Retry  # logged by sleep(), once the wait is known
        return new

    def parse_retry_after(self, retry_after: str) -> float:
        """Seconds from delta-seconds of any length or an HTTP-date; an unreadable value
        (``-5``, ``30.5``, ``soon``) is ignored — 0, so backoff applies — and the answer's
        status is what the caller reports, not urllib3's "Invalid Retry-After header"."""
        seconds = delta_seconds(retry_after)
        if seconds is not None:
            return seconds
        try:
            return super().parse_retry_after(retry_after)
        except Exception:  # urllib3: InvalidHeader for what is neither form
            log.debug("unreadable Retry-After %r ignored", retry_after[:80])
            return 0.0

    def _wait_seconds(self, response: Any) -> float:
        """Retry-After when the server sent one (refusing waits over the cap), else backoff."""
        if self.respect_retry_after_header and response is not None:
            seconds = self.get_retry_after(response)
            if seconds is not None and seconds > self.retry_after_cap:
                raise RetryAfterTooLong(seconds)
            if seconds:
                return seconds
        return self.get_backoff_time()

    def sleep_for_retry(self, response: Any) -> bool:
        seconds = self._wait_seconds(response)
        if seconds > 0:
            self._sleep_fn(seconds)
        return True

    def sleep(self, response: Any = None) -> None:
        seconds = self._wait_seconds(response)
        what = getattr(self, "pending", "request")
        # DEBUG: the caller reports the outcome once; a line per retry only helps a -v reader.
        log.debug("retrying %s in %.2f s (retry %d)", what, seconds, len(self.history))
        if seconds > 0:
            self._sleep_fn(seconds)
