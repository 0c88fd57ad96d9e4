"""Every use of the product's internals by the performance bench, in one place.

The bench drives the product through its public surface where it can (the ``mofa-monitor`` CLI in
a subprocess, :class:`App`, :class:`Store`, the config file). What it cannot reach that way —
planning and sending as two timed steps, the render functions it counts, the page parsers (and
the helpers the frozen pre-change parser in ``baseline_parse`` builds records with), the local
site's request handler — is imported here only, so moving modules means editing this file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from monitor import text as chars
from monitor.classify.summarize import summarize
from monitor.config import Config, load_config
from monitor.errors import ListingEmptyError, ParseError
from monitor.models import Article, Attachment, Listing, ListingEntry, Release
from monitor.parse.board import parse_article, parse_listing
from monitor.parse.urls import board_from_url, canonical_article_url, parse_seq, seq_from_url
from monitor.plan import outbox as _outbox
from monitor.render import digest as _digest
from monitor.schedule.app import App
from monitor.schedule.poll import content_hash
from monitor.store import Store
from tests.sitekit import FaultyHandler, SiteServer  # the stand-in site with recorded mode

__all__ = [
    "App",
    "Article",
    "Attachment",
    "Config",
    "CountingSite",
    "Listing",
    "ListingEmptyError",
    "ListingEntry",
    "ParseError",
    "RenderCounts",
    "Store",
    "StoreTimer",
    "board_from_url",
    "canonical_article_url",
    "chars",
    "count_renders",
    "load_config",
    "make_release",
    "parse_article",
    "parse_listing",
    "parse_seq",
    "plan",
    "poll",
    "send",
    "seq_from_url",
    "store_release",
]


def poll(app: App) -> int:
    """Poll every source once; returns the poll run id."""
    return app.poller.poll_all().run_id


def plan(app: App, poll_run: int | None) -> int:
    """Freeze every due digest (the planning half of :meth:`App.plan_and_send`); returns how
    many deliveries were planned."""
    return len(_outbox.plan_due(app.config, app.store, now=app.clock(), poll_run=poll_run))


def send(app: App) -> int:
    """Send every pending delivery over the configured transport (the sending half of
    :meth:`App.plan_and_send`); returns how many were sent."""
    with app.transport() as transport:
        report = _outbox.send_due(app.config, app.store, transport, app.theme_names, now=app.clock)
    return len(report.sent)


def make_release(seq: int, title: str, date: dt.date, body: str, url: str) -> Release:
    """A release of the English press board as the poller would build it."""
    return Release(
        id=f"m_5676-{seq}",
        source="mofa-en",
        board="m_5676",
        seq=seq,
        title=title,
        date=date,
        url=url,
        body=body,
        summary=summarize(body),
    )


def store_release(
    store: Store, release: Release, classification: Any, *, poll_run_id: int | None, baseline: bool
) -> int:
    """Write one release through :meth:`Store.insert_release`, as the poller does."""
    return store.insert_release(
        release,
        content_hash=content_hash(release.title, release.body),
        baseline=baseline,
        poll_run_id=poll_run_id,
        classification=classification,
    )


@dataclass
class RenderCounts:
    """Template renders (jinja2) and CSS inlinings done while counting."""

    renders: int = 0
    inlinings: int = 0


class _CountingInliner:
    def __init__(self, inner: Any, counts: RenderCounts) -> None:
        self._inner, self._counts = inner, counts

    def inline(self, html: str) -> str:
        self._counts.inlinings += 1
        return self._inner.inline(html)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextlib.contextmanager
def count_renders() -> Iterator[RenderCounts]:
    """Count every jinja2 template render and every CSS inlining in this process."""
    counts = RenderCounts()
    original_render = jinja2.Template.render
    original_inliner = _digest._inliner

    def render(self: jinja2.Template, *args: Any, **kwargs: Any) -> str:
        counts.renders += 1
        return original_render(self, *args, **kwargs)

    @functools.cache
    def inliner() -> _CountingInliner:
        return _CountingInliner(original_inliner(), counts)

    jinja2.Template.render = render  # type: ignore[method-assign]
    _digest._inliner = inliner  # type: ignore[assignment]
    try:
        yield counts
    finally:
        jinja2.Template.render = original_render  # type: ignore[method-assign]
        _digest._inliner = original_inliner


class _CountingHandler(FaultyHandler):
    """The local site's handler, counting every byte it writes to the socket."""

    def setup(self) -> None:
        super().setup()
        wfile, site = self.wfile, self.server.site  # type: ignore[attr-defined]

        class Counter:
            def write(self, data: bytes) -> int:
                site.add_bytes(len(data))
                return wfile.write(data)

            def __getattr__(self, name: str) -> Any:
                return getattr(wfile, name)

        self.wfile = Counter()  # type: ignore[assignment]


class CountingSite(SiteServer):
    """The local ministry site (monitor/localsite) that also counts bytes sent on the wire
    (status lines, headers and bodies)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bytes = 0
        self._bytes_lock = threading.Lock()

    def add_bytes(self, n: int) -> None:
        with self._bytes_lock:
            self._bytes += n

    @property
    def bytes_sent(self) -> int:
        with self._bytes_lock:
            return self._bytes

    handler_class = _CountingHandler


@dataclass
class StoreTimer:
    """Wall time spent inside :class:`Store` methods (outermost calls only) while installed."""

    seconds: float = 0.0
    calls: int = 0
    _depth: int = field(default=0, repr=False)

    def install(self, store: Store) -> None:
        import time

        for name in dir(type(store)):
            if name.startswith("_") or name in ("db", "path", "in_dir"):
                continue
            if isinstance(getattr(type(store), name, None), property):
                continue  # e.g. the injected clock: read-only, and not store work
            attr = getattr(store, name, None)
            if not callable(attr) or isinstance(attr, type):
                continue

            def wrapped(*args: Any, __fn: Callable[..., Any] = attr, **kwargs: Any) -> Any:
                if self._depth:
                    return __fn(*args, **kwargs)
                self._depth += 1
                start = time.perf_counter()
                try:
                    return __fn(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - start
                    self.calls += 1
                    self._depth -= 1

            setattr(store, name, wrapped)


def site_root() -> Path:
    """The recorded pages of the ministry's site shipped with the tests."""
    return Path(__file__).resolve().parents[2] / "tests" / "data" / "site"
