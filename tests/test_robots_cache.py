"""robots.txt caching (RFC 9309 §2.4): at most 24 h, less when its HTTP caching says so.

Against the local site with an injected clock: the file's ``Cache-Control``/``Expires`` decide
when it is read again, a ban is re-checked within the hour, a failed fetch keeps the last copy
and is retried soon, and the copy is kept in the state database so one-shot runs honour it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sitekit import SiteServer

from monitor.errors import RobotsDisallowedError
from monitor.fetch.http import (
    ROBOTS_DISALLOW_TTL,
    ROBOTS_FAILURE_TTL,
    ROBOTS_MIN_TTL,
    ROBOTS_TTL,
    Fetcher,
    FetchSettings,
    freshness_seconds,
)
from monitor.models import CachedRobots
from monitor.store.sqlite import Store

ALLOW = b"User-agent: *\nAllow: /\n"
DENY = b"User-agent: *\nDisallow: /\n"


class Clocks:
    """A monotonic clock and a wall clock that advance together, and a sleep that advances them."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = 1_790_000_000.0

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def fetcher_for(clocks: Clocks) -> Iterator[Callable[..., Fetcher]]:
    made: list[Fetcher] = []

    def factory(store: Store | None = None) -> Fetcher:
        fetcher = Fetcher(
            FetchSettings("test-agent", request_delay=0, retries=0),
            sleep=clocks.sleep,
            clock=lambda: clocks.mono,
            wall=lambda: dt.datetime.fromtimestamp(clocks.wall, dt.UTC),
            robots_store=store,
        )
        made.append(fetcher)
        return fetcher

    yield factory
    for fetcher in made:
        fetcher.close()


@pytest.fixture
def site(make_site: Callable[..., SiteServer]) -> SiteServer:
    server = make_site(mode="dynamic", cookie_gate=False)
    server.publish(1, "A Release", "2026-06-01", "1. Text.")
    return server


def robots(site: SiteServer, body: bytes, **headers: str) -> None:
    site.canned(
        "/robots.txt",
        body,
        content_type="text/plain",
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )


def robots_reads(site: SiteServer) -> int:
    return len(site.requests_to("/robots.txt"))


class TestHttpCaching:
    def test_max_age_decides_when_it_is_read_again(
        self, site: SiteServer, fetcher_for: Callable[..., Fetcher], clocks: Clocks
    ) -> None:
        robots(site, ALLOW, Cache_Control="public, max-age=300")
        fetcher = fetcher_for()
        fetcher.get(site.list_url())
        clocks.advance(299)
        fetcher.get(site.list_url())
        assert robots_reads(site) == 1
        clocks.advance(2)
        fetcher.get(site.list_url())
        assert robots_reads(site) == 2

    def test_a_ban_added_later_is_seen_when_the_copy_expires(
        self, site: SiteServer, fetcher_for: Callable[..., Fetcher], clocks: Clocks
    ) -> None:
        robots(site, ALLOW, Cache_Control="max-age=600")
        fetcher = fetcher_for()
        fetcher.get(site.list_url())
        robots(site, DENY, Cache_Control="max-age=600")
        clocks.advance(601)
        with pytest.raises(RobotsDisallowedError):
            fetcher.get(site.list_url())

    def test_never_longer_than_a_day(
        self, site: SiteServer, fetcher_for: Callable[..., Fetcher], clocks: Clocks
    ) -> None:
        robots(site, ALLOW, Cache_Control="max-age=31536000")
        fetcher = fetcher_for()
        fetcher.get(site.list_url())
        clocks.advance(ROBOTS_TTL + 1)
        fetcher.get(site.list_url())
        assert robots_reads(site) == 2

    def test_no_store_is_read_again_but_not_before_every_page(
        self, site: SiteServer, fetcher_for: Callable[..., Fetcher], clocks: Clocks
    ) -> None:
        robots(site, ALLOW, Cache_Control="no-store")
        fetcher = fetcher_for()
        fetcher.get(site.list_url())
        fetcher.get(site.view_url(1))
        assert robots_reads(site) == 1
        clocks.advance(ROBOTS_MIN_TTL + 1)
        fetcher.get(site.list_url())
        assert robots_reads(site) == 2

    @pytest.mark.parametrize(
        ("headers", "seconds"),
        [
            ({"Cache-Control": "max-age=120"}, 120.0),
            ({"Cache-Control": "max-age=120, s-maxage=60"}, 60.0),
            ({"Cache-Control": "no-cache"}, 0.0),
            (
                {
                    "Date": "Mon, 30 Nov 2026 10:00:00 GMT",
                    "Expires": "Mon, 30 Nov 2026 11:00:00 GMT",
                },
                3600.0,
            ),
            ({"Date": "Mon, 30 Nov 2026 10:00:00 GMT", "Expires": "0"}, 0.0),
            (
                {
                    "Date": "Mon, 30 Nov 2026 10:00:00 GMT",
                    "Last-Modified": "Fri, 20 Nov 2026 10:00:00 GMT",
                },
                86400.0,  # RFC 9111 §4.2.2 heuristic: a tenth of the ten days since modified
            ),
            ({}, None),
        ],
    )
    def test_freshness_lifetime(self, headers: dict[str, str], seconds: float | None) -> None:
        assert freshness_seconds(headers) == seconds


class TestRecheckAfterFailures:
    def test_a_lifted_ban_is_seen_within_the_hour(
        self, site: SiteServer, fetcher_for: Callable[..., Fetcher], clocks: Clocks
    ) -> None:
        """No caching headers: a ban is still re-read within the hour, not a day later."""
        robots(site, DENY)
        fetcher = fetcher_for()
        with pytest.raises(RobotsDisallowedError):
            fetcher.get(site.list_url())
        robots(site, ALLOW)
        clocks.advance(ROBOTS_DISALLOW_TTL + 1)
        assert fetcher.get(site.list_url()).status == 200

    def test_an_unreachable_file_keeps_the_last_copy_and_is_tried_again_soon(
        self, site: SiteServer, fetcher_for: Callable[..., Fetcher], clocks: Clocks
    ) -> None:
        robots(site, DENY, Cache_Control="max-age=60")
        fetcher = fetcher_for()
        with pytest.raises(RobotsDisallowedError):
            fetcher.get(site.list_url())
        site.fault("/robots.txt", 503, times=1)
        clocks.advance(61)
        with pytest.raises(RobotsDisallowedError):  # the last copy still applies
            fetcher.get(site.list_url())
        robots(site, ALLOW)
        clocks.advance(ROBOTS_FAILURE_TTL + 1)
        assert fetcher.get(site.list_url()).status == 200


class TestPersistedAcrossProcesses:
    def test_a_one_shot_run_uses_the_fresh_copy_of_an_earlier_one(
        self,
        site: SiteServer,
        fetcher_for: Callable[..., Fetcher],
        clocks: Clocks,
        tmp_path: Path,
    ) -> None:
        robots(site, ALLOW, Cache_Control="max-age=3600")
        with Store(tmp_path / "state.sqlite3") as store:
            fetcher_for(store).get(site.list_url())
            clocks.advance(1800)
            fetcher_for(store).get(site.list_url())  # a new process: no fetch, still fresh
            assert robots_reads(site) == 1
            clocks.advance(1801)
            fetcher_for(store).get(site.list_url())
            assert robots_reads(site) == 2

    def test_a_persisted_ban_is_honoured_without_asking(
        self,
        site: SiteServer,
        fetcher_for: Callable[..., Fetcher],
        tmp_path: Path,
    ) -> None:
        robots(site, DENY, Cache_Control="max-age=3600")
        with Store(tmp_path / "state.sqlite3") as store:
            with pytest.raises(RobotsDisallowedError):
                fetcher_for(store).get(site.list_url())
            site.clear_requests()
            with pytest.raises(RobotsDisallowedError):
                fetcher_for(store).get(site.list_url())
            assert site.requests == []


def test_a_persisted_ban_is_rechecked_within_the_hour_by_later_processes(
    site: SiteServer, fetcher_for: Callable[..., Fetcher], clocks: Clocks, tmp_path: Path
) -> None:
    """A day-long copy that forbids us: a one-shot run an hour later reads the file again."""
    robots(site, DENY, Cache_Control="max-age=86400")
    with Store(tmp_path / "state.sqlite3") as store:
        with pytest.raises(RobotsDisallowedError):
            fetcher_for(store).get(site.list_url())
        robots(site, ALLOW, Cache_Control="max-age=86400")
        clocks.advance(ROBOTS_DISALLOW_TTL + 1)
        assert fetcher_for(store).get(site.list_url()).status == 200


def test_store_round_trip(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
    entry = CachedRobots("http://h:1", 200, "User-agent: *", now, now + dt.timedelta(hours=1))
    with Store(tmp_path / "s.sqlite3") as store:
        store.save_robots(entry)
        assert store.cached_robots("http://h:1") == entry
        assert store.cached_robots("http://other") is None
