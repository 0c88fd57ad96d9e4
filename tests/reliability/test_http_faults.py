"""Every HTTP fault class against the local site on 127.0.0.1, through one App, to the Maildir.

The promise for each: the fault costs at most the item it hit (a listing fault fails the
source's poll, an article fault only that article), it is reported as one line in the poll's
outcome and in what ``status`` and ``/healthz`` read, nothing bogus is stored, and once the
site is well again every release reaches the subscriber exactly once.

Each scenario: a 5-release baseline; three releases published; the fault injected (on the
listing, or on the middle release's article); one tick under the fault; the fault cleared; a
tick to recover; then the Maildir is tallied.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from faultkit import MaildirSink, Tally, rng
from sitekit import SiteServer

from monitor.config import load_config
from monitor.fetch.retry import PoliteRetry
from monitor.localsite.handler import Page
from monitor.localsite.pages import render_article
from monitor.ops.health import health_report
from monitor.schedule.app import App

LIST = "/eng/brd/m_5676/list.do"
READER = "desk@example.org"


def article_path(seq: int) -> str:
    return f"/eng/brd/m_5676/view.do?seq={seq}"


@dataclass(frozen=True)
class HttpFault:
    """One fault class: where it hits and how it is injected."""

    name: str
    target: str  # "listing" or "article"
    inject: Callable[[SiteServer, str], Any]
    error: str  # text the one-line error must contain ("" = any)
    transparent: bool = False  # retried within the same poll, invisible to the reader


def _status(code: int, retry_after: str | None = None) -> Callable[[SiteServer, str], Any]:
    return lambda site, path: site.fault(path, code, retry_after=retry_after, times=None)


def _kind(kind: str, delay: float = 2.0) -> Callable[[SiteServer, str], Any]:
    return lambda site, path: site.fault(path, kind, times=None, delay=delay)


def _serve(page: Callable[[SiteServer, int], Page]) -> Callable[[SiteServer, str], Any]:
    """Replace the article answer for ``path`` with ``page`` until faults are cleared."""

    def inject(site: SiteServer, path: str) -> None:
        seq = int(path.rpartition("=")[2])
        original = site.article

        def article(site_name: str, board: str, wanted: int) -> Page:
            if wanted == seq and getattr(site, "_custom_article", None) is article:
                return page(site, wanted)
            return original(site_name, board, wanted)

        site._custom_article = article  # type: ignore[attr-defined]
        site.article = article  # type: ignore[method-assign]

    return inject


def _error_page(site: SiteServer, seq: int) -> Page:
    """What a CMS shows with status 200 when its backend is down."""
    body = (
        "<!DOCTYPE html><html><head><title>Error</title></head><body>"
        "<h1>Service temporarily unavailable</h1><p>Please try again later.</p></body></html>"
    )
    return Page(200, body.encode())


def _undecodable(site: SiteServer, seq: int) -> Page:
    """An article labelled UTF-8 whose bytes are not UTF-8 in places."""
    release = next(r for r in site.releases() if r.seq == seq)
    html = render_article(release, older=None, newer=None).encode()
    return Page(200, html.replace(b"</p>", b"\xff\xfe\xc3(</p>", 1))


HTTP_FAULTS = [
    HttpFault(
        "503 with Retry-After, once",
        "listing",
        lambda s, p: s.fault(p, 503, retry_after=1),
        "",
        transparent=True,
    ),
    HttpFault("503 with Retry-After, persistent", "listing", _status(503, "0"), "503"),
    HttpFault("500 persistent", "listing", _status(500), "500"),
    HttpFault("429 with Retry-After", "listing", _status(429, "0"), "429"),
    HttpFault("read timeout (listing)", "listing", _kind("slow", 1.0), "timed out"),
    HttpFault("read timeout (article)", "article", _kind("slow", 1.0), "timed out"),
    HttpFault("connection reset (listing)", "listing", _kind("reset"), ""),
    HttpFault("connection reset (article)", "article", _kind("reset"), ""),
    HttpFault("truncated body (listing)", "listing", _kind("truncated"), ""),
    HttpFault("truncated body (article)", "article", _kind("truncated"), ""),
    HttpFault("50 MB body with Content-Length", "article", _kind("huge"), "larger than"),
    HttpFault("50 MB body, chunked (listing)", "listing", _kind("huge_chunked"), "larger than"),
    HttpFault("redirect loop", "article", _kind("redirect_loop"), "redirect"),
    HttpFault("a PDF where HTML was expected", "article", _kind("non_html"), "HTML"),
    HttpFault("200 error page (listing)", "listing", _kind("empty_listing"), "holds no releases"),
    HttpFault("200 error page (article)", "article", _serve(_error_page), ""),
    HttpFault("bytes invalid in the declared charset", "article", _serve(_undecodable), ""),
    HttpFault("404 article", "article", _status(404), "404"),
]


@pytest.fixture
def app(tmp_path: Path, live_site: SiteServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    # Exponential backoff (0, 2, 4 s) is tested in tests/test_fetch.py; here it would only
    # make each persistent fault cost 6 s. Retries still happen; a server's Retry-After is kept.
    monkeypatch.setattr(PoliteRetry, "get_backoff_time", lambda self: 0.0)
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[service]
state_dir = "state"
request_delay = "0s"
timeout = "0.5s"

[[sources]]
id = "mofa-en"
url = "{live_site.list_url()}"

[mail]
from = "MOFA Monitor <monitor@example.org>"
transport = "maildir"
maildir = "mail"

[[subscribers]]
email = "{READER}"
frequency = "immediate"
format = "text"
""",
        encoding="utf-8",
    )
    live_site.seed_from_corpus(limit=5)
    application = App(load_config(path))
    application.tick()  # the silent baseline
    yield application
    application.close()


@pytest.mark.parametrize("fault", HTTP_FAULTS, ids=[f.name for f in HTTP_FAULTS])
def test_http_fault(
    app: App,
    live_site: SiteServer,
    tmp_path: Path,
    fault: HttpFault,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, seed = rng(fault.name)
    tally = Tally(f"http: {fault.name}", seed, faults=1)
    news = live_site.publish_many(3, start_seq=800_001)
    victim = news[1]
    path = LIST if fault.target == "listing" else article_path(victim.seq)
    fault.inject(live_site, path)

    with caplog.at_level(logging.WARNING, logger="monitor"):
        hit = app.tick()
    outcome = hit.poll.outcomes[0]
    health = health_report(app.config, app.store, now=app.clock(), started_at=app.clock())
    if fault.transparent:
        assert outcome.error is None and len(outcome.new) == 3
    elif fault.target == "listing":
        assert outcome.error, outcome
        assert "\n" not in outcome.error and fault.error in outcome.error, outcome.error
        assert outcome.new == []
        source = app.store.source("mofa-en")
        assert source.consecutive_failures == 1 and source.last_error == outcome.error
        assert health.sources["mofa-en"]["consecutive_failures"] == 1
        assert app.store.count_releases() == 5  # nothing bogus stored
    else:
        assert outcome.error is None, outcome.error
        stored_victim = app.store.release(f"m_5676-{victim.seq}")
        if stored_victim is None:  # the article failed: only it, and it is owed a retry
            assert len(outcome.new) == 2
            assert outcome.article_failures == [live_site.view_url(victim.seq)]
            lines = [
                r.getMessage() for r in caplog.records if "will retry next poll" in r.getMessage()
            ]
            assert len(lines) == 1 and "\n" not in lines[0] and fault.error in lines[0], lines
        else:  # the parser salvaged it: then what was stored must be the release, cleanly
            assert stored_victim.title == victim.title
            assert "\ufffd" not in stored_victim.body or "\ufffd" not in stored_victim.title
        assert health.sources["mofa-en"]["consecutive_failures"] == 0

    live_site.clear_faults()
    live_site.__dict__.pop("article", None)  # undo a replaced article route
    started = time.monotonic()
    recovered = app.tick()
    assert recovered.poll.outcomes[0].error is None
    assert app.store.source("mofa-en").consecutive_failures == 0
    tally.count(MaildirSink(tmp_path / "mail").mails(), {READER: {release.seq for release in news}})
    tally.notes.append(f"recovery tick {time.monotonic() - started:.2f}s")
    tally.report()
    assert tally.lost == 0, tally
    assert tally.duplicates == 0, tally
    # Faults never hide a release behind a wrong date or title.
    for release in news:
        stored = app.store.release(f"m_5676-{release.seq}")
        assert stored is not None and stored.title == release.title
        assert stored.date == dt.date.fromisoformat(release.date)


def test_retry_after_is_honoured_by_the_next_poll(app: App, live_site: SiteServer) -> None:
    """After 503 + Retry-After: 3600 the listing is not asked again before that time."""
    live_site.fault(LIST, 503, retry_after=3600, times=None)
    first = app.tick().poll.outcomes[0]
    assert first.error
    asked = len(live_site.requests_to(LIST))
    for _ in range(3):
        app.tick()
    assert len(live_site.requests_to(LIST)) == asked


def test_declared_windows_1252_is_not_read_as_korean(app: App, live_site: SiteServer) -> None:
    """Curly apostrophes (0x92) in a page labelled windows-1252 stay apostrophes."""
    (release,) = [
        live_site.publish(
            800_101,
            "Korea’s Minister Meets Chile’s Foreign Minister",
            "2026-11-27",
            "1. Korea’s Minister met Chile’s Foreign Minister.\n2. They agreed to meet again.",
        )
    ]
    original = live_site.article

    def article(site_name: str, board: str, seq: int) -> Page:
        page = original(site_name, board, seq)
        if seq != release.seq:
            return page
        html = page.body.decode("utf-8").replace('<meta charset="UTF-8">', "")
        return Page(
            200, html.encode("windows-1252", "xmlcharrefreplace"), "text/html;charset=windows-1252"
        )

    live_site.article = article  # type: ignore[method-assign]
    app.tick()
    stored = app.store.release(f"m_5676-{release.seq}")
    assert stored is not None
    assert stored.title == release.title
    assert "Korea’s Minister met" in stored.body
