"""Tests for monitor.fetch.http against the local copy of the site; ``responses`` for decoding only."""

from __future__ import annotations

import logging
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
import responses
from sitekit import SiteServer

from monitor import __version__
from monitor.errors import FetchError, RobotsDisallowedError
from monitor.fetch.http import (
    ROBOTS_TTL,
    Fetcher,
    FetchSettings,
    HTTPStatusError,
    build_user_agent,
)

pytestmark = pytest.mark.timeout(30)

LIST = "/eng/brd/m_5676/list.do"
UA = build_user_agent("ops@example.org")


class FakeTime:
    """Injected clock and sleep: records every pause and advances time instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_fetcher(fake_time: FakeTime) -> Any:
    """Fetchers with test-friendly settings (no delay, tiny backoff, fake sleep); closed after."""
    fetchers: list[Fetcher] = []

    def factory(**overrides: Any) -> Fetcher:
        options: dict[str, Any] = {
            "request_delay": 0.0,
            "backoff_factor": 0.01,
            "retries": 2,
            "connect_timeout": 2.0,
            "read_timeout": 2.0,
        }
        options.update(overrides)
        fetcher = Fetcher(
            FetchSettings(UA, **options), sleep=fake_time.sleep, clock=fake_time.clock
        )
        fetchers.append(fetcher)
        return fetcher

    yield factory
    for fetcher in fetchers:
        fetcher.close()


def statuses(site: SiteServer, path: str) -> list[int | None]:
    return [r.status for r in site.requests if r.path == path]


class TestUserAgent:
    def test_names_tool_version_and_contact(self) -> None:
        """The site's operators can see who we are and how to reach us."""
        assert (
            build_user_agent("ops@example.org") == f"mofa-monitor/{__version__} (+ops@example.org)"
        )

    def test_without_contact(self) -> None:
        """No contact configured: just the tool and version, no empty parentheses."""
        assert build_user_agent(None) == f"mofa-monitor/{__version__}"
        assert build_user_agent("  ") == f"mofa-monitor/{__version__}"

    def test_sent_on_every_request(self, site: SiteServer, make_fetcher: Any) -> None:
        """robots.txt, the gate's 307 and the page itself all carry our User-Agent."""
        make_fetcher().get(site.list_url())
        assert {r.headers["User-Agent"] for r in site.requests} == {UA}


class TestSettings:
    @pytest.mark.parametrize(
        "field,value",
        [("read_timeout", 0), ("request_delay", -1), ("max_body_bytes", 0), ("retries", -1)],
    )
    def test_rejects_nonsense(self, field: str, value: float) -> None:
        """Settings are checked when built, not when the first request misbehaves."""
        with pytest.raises(ValueError):
            FetchSettings(UA, **{field: value})


class TestCookieGate:
    def test_session_passes_gate(self, site: SiteServer, make_fetcher: Any) -> None:
        """The first answer is a 307 setting TMOSHCooKie; the replay with the cookie gets 200."""
        result = make_fetcher().get(site.list_url())
        assert result.status == 200
        assert "f_view('323319')" in (result.text or "")
        assert statuses(site, LIST) == [200]  # robots.txt already collected the cookie
        assert statuses(site, "/robots.txt") == [307, 200]
        assert "TMOSHCooKie=" in site.requests_to(LIST)[0].headers["Cookie"]

    def test_gate_on_page_when_robots_off(self, site: SiteServer, make_fetcher: Any) -> None:
        """Without robots.txt the page itself is gated: 307, then 200 on the same URL."""
        result = make_fetcher(respect_robots=False).get(site.list_url())
        assert result.status == 200
        assert result.url == site.list_url()
        assert statuses(site, LIST) == [307, 200]


class TestRetries:
    def test_503_with_retry_after_then_success(
        self, site: SiteServer, make_fetcher: Any, fake_time: FakeTime
    ) -> None:
        """A 503 with Retry-After is waited out (through the injected sleep) and retried."""
        site.fault(LIST, 503, retry_after=2)
        result = make_fetcher().get(site.list_url())
        assert result.status == 200
        assert statuses(site, LIST) == [503, 200]
        assert fake_time.sleeps == [2.0]

    def test_500_twice_then_success(
        self, site: SiteServer, make_fetcher: Any, fake_time: FakeTime
    ) -> None:
        """Server errors are retried with (tiny, in tests) exponential backoff."""
        site.fault(LIST, 500, times=2)
        assert make_fetcher().get(site.list_url()).status == 200
        assert statuses(site, LIST) == [500, 500, 200]
        assert fake_time.sleeps == [pytest.approx(0.02)]  # first retry is immediate

    def test_429_honours_retry_after(
        self, site: SiteServer, make_fetcher: Any, fake_time: FakeTime, caplog: Any
    ) -> None:
        """Rate limiting: we wait as long as the server asks and log the retry at DEBUG (the
        poll's outcome is what a user is told; a retry that worked is not news)."""
        site.fault(LIST, 429, retry_after=7)
        with caplog.at_level(logging.DEBUG, logger="monitor.fetch.http"):
            assert make_fetcher().get(site.list_url()).status == 200
        assert fake_time.sleeps == [7.0]
        retries = [r for r in caplog.records if "429" in r.getMessage()]
        assert [r.levelno for r in retries] == [logging.DEBUG]

    def test_retries_exhausted_names_status(self, site: SiteServer, make_fetcher: Any) -> None:
        """After the last retry the final status becomes a FetchError naming status and URL."""
        site.fault(LIST, 503, times=None)
        with pytest.raises(HTTPStatusError, match="HTTP 503") as info:
            make_fetcher(retries=2).get(site.list_url())
        assert info.value.status == 503
        assert site.list_url() in str(info.value)
        assert statuses(site, LIST) == [503, 503, 503]

    def test_retry_after_over_cap_gives_up(
        self, site: SiteServer, make_fetcher: Any, fake_time: FakeTime
    ) -> None:
        """A server asking us to come back in an hour fails the fetch instead of hanging it."""
        site.fault(LIST, 503, retry_after=3600)
        with pytest.raises(FetchError, match=r"retry after 3600 s \(Retry-After\)"):
            make_fetcher().get(site.list_url())
        assert fake_time.sleeps == []

    def test_404_is_not_retried(self, site: SiteServer, make_fetcher: Any) -> None:
        """A missing page will not appear by asking again."""
        with pytest.raises(HTTPStatusError) as info:
            make_fetcher().get(site.view_url(999))
        assert info.value.status == 404
        assert statuses(site, "/eng/brd/m_5676/view.do?seq=999") == [404]

    def test_connection_reset_then_success(self, site: SiteServer, make_fetcher: Any) -> None:
        """An intermittent reset (reported for the real site) costs one retry, not the poll."""
        site.fault(LIST, "reset")
        assert make_fetcher().get(site.list_url()).status == 200
        assert statuses(site, LIST) == [None, 200]

    def test_connection_reset_always(self, site: SiteServer, make_fetcher: Any) -> None:
        """Resets that never stop become a FetchError after the retries."""
        site.fault(LIST, "reset", times=None)
        with pytest.raises(FetchError, match="connection failed after 2 retries"):
            make_fetcher(retries=2).get(site.list_url())
        assert statuses(site, LIST) == [None, None, None]


class TestTimeouts:
    def test_read_timeout(self, site: SiteServer, make_fetcher: Any) -> None:
        """A server slower than the read timeout fails quickly with a clear message."""
        site.fault(LIST, "slow", times=None, delay=1.0)
        started = time.monotonic()
        with pytest.raises(FetchError, match="timed out"):
            make_fetcher(read_timeout=0.2, retries=1).get(site.list_url())
        assert time.monotonic() - started < 1.5

    def test_one_slow_answer_is_retried(self, site: SiteServer, make_fetcher: Any) -> None:
        """A single slow answer is retried like any transient failure."""
        site.fault(LIST, "slow", delay=0.6)
        assert make_fetcher(read_timeout=0.2, retries=1).get(site.list_url()).status == 200


class TestBodies:
    def test_truncated_body(self, site: SiteServer, make_fetcher: Any) -> None:
        """Content-Length larger than what arrived is an error, never a partial page."""
        site.fault(LIST, "truncated")
        with pytest.raises(FetchError, match="truncated"):
            make_fetcher().get(site.list_url())

    @pytest.mark.parametrize("kind", ["huge", "huge_chunked"])
    def test_huge_body_aborts_fast_with_bounded_memory(
        self, site: SiteServer, make_fetcher: Any, kind: str
    ) -> None:
        """50 MB (declared or streamed) stops at the 5 MB cap, quickly and without buffering it."""
        site.fault(LIST, kind)  # type: ignore[arg-type]
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(FetchError, match="response larger than 5 MB"):
                make_fetcher().get(site.list_url())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert time.monotonic() - started < 5
        assert peak < 15_000_000

    def test_custom_cap(self, site: SiteServer, make_fetcher: Any) -> None:
        """The cap is a setting: an ordinary page over it fails."""
        with pytest.raises(FetchError, match="response larger than 1000 bytes"):
            make_fetcher(max_body_bytes=1000, respect_robots=False).get(site.list_url())

    def test_non_html(self, site: SiteServer, make_fetcher: Any) -> None:
        """A PDF where a page was expected is a failure, not an empty listing."""
        site.fault(LIST, "non_html")
        with pytest.raises(FetchError, match="expected an HTML page, got application/pdf"):
            make_fetcher().get(site.list_url())

    def test_non_html_is_fine_with_expect_any(self, site: SiteServer, make_fetcher: Any) -> None:
        """get_bytes() hands over whatever arrived, for callers that decide themselves."""
        site.fault(LIST, "non_html")
        raw = make_fetcher().get_bytes(site.list_url())
        assert raw.content is not None and raw.content.startswith(b"%PDF")
        assert raw.content_type == "application/pdf"

    def test_empty_listing_is_still_html(self, site: SiteServer, make_fetcher: Any) -> None:
        """A 200 page without a table is HTML; judging it is the parser's job (ListingEmptyError)."""
        site.fault(LIST, "empty_listing")
        result = make_fetcher().get(site.list_url())
        assert "<table" not in (result.text or "")


class TestRedirects:
    def test_redirect_loop(self, site: SiteServer, make_fetcher: Any) -> None:
        """A loop ends after max_redirects hops with a message that says so."""
        site.fault(LIST, "redirect_loop", times=None)
        with pytest.raises(FetchError, match="redirect loop"):
            make_fetcher(max_redirects=3).get(site.list_url())
        assert statuses(site, LIST) == [302] * 4


class TestRobots:
    def test_disallowed(self, site: SiteServer, make_fetcher: Any) -> None:
        """A Disallow for everyone stops the fetch before the page is requested."""
        site.robots_txt = "User-agent: *\nDisallow: /eng/\n"
        with pytest.raises(RobotsDisallowedError, match=r"robots\.txt"):
            make_fetcher().get(site.list_url())
        assert site.requests_to("/eng/") == []

    @pytest.mark.parametrize(
        "robots,allowed",
        [
            ("User-agent: mofa-monitor\nDisallow: /\n", False),
            ("User-agent: otherbot\nDisallow: /\n", True),
            ("User-agent: *\nDisallow: /kor/\n", True),
        ],
        ids=["our-agent-banned", "other-agent-banned", "other-path-banned"],
    )
    def test_rules_by_agent(
        self, site: SiteServer, make_fetcher: Any, robots: str, allowed: bool
    ) -> None:
        """Rules are matched against our product token, ``mofa-monitor``."""
        site.robots_txt = robots
        fetcher = make_fetcher()
        if allowed:
            assert fetcher.get(site.list_url()).status == 200
        else:
            with pytest.raises(RobotsDisallowedError):
                fetcher.get(site.list_url())

    def test_missing_robots_allows(self, site: SiteServer, make_fetcher: Any) -> None:
        """404 means the site has no rules (RFC 9309)."""
        site.robots_txt = None
        assert make_fetcher().get(site.list_url()).status == 200
        assert statuses(site, "/robots.txt") == [307, 404]

    def test_robots_server_error_allows_with_warning(
        self, site: SiteServer, make_fetcher: Any, caplog: Any
    ) -> None:
        """A failing robots.txt must not stop monitoring a flaky site; we say so in the log."""
        site.fault("/robots.txt", 500, times=None)
        with caplog.at_level(logging.WARNING, logger="monitor.fetch.http"):
            assert make_fetcher(retries=0).get(site.list_url()).status == 200
        assert any("allowing all" in r.getMessage() for r in caplog.records)

    def test_a_304_to_an_unconditional_request_keeps_the_last_rules(
        self, site: SiteServer, make_fetcher: Any, fake_time: FakeTime, caplog: Any
    ) -> None:
        """A 304 carries no rules (nothing was asked conditionally): the copy we had still
        applies, as for a 5xx, rather than "no rules" as for a 404."""
        site.robots_txt = "User-agent: *\nDisallow: /eng/brd/m_5676/view.do\n"
        fetcher = make_fetcher(retries=0)
        fetcher.get(site.list_url())
        fake_time.now += ROBOTS_TTL + 1
        site.fault("/robots.txt", 304, times=None)
        with (
            caplog.at_level(logging.WARNING, logger="monitor.fetch.http"),
            pytest.raises(RobotsDisallowedError),
        ):
            fetcher.get(site.view_url(322002))
        assert statuses(site, "/robots.txt")[-1] == 304
        assert any("using the last copy" in r.getMessage() for r in caplog.records)

    def test_fetched_once_per_host(self, site: SiteServer, make_fetcher: Any) -> None:
        """robots.txt is cached for the Fetcher's lifetime, not fetched per page."""
        fetcher = make_fetcher()
        fetcher.get(site.list_url())
        fetcher.get(site.view_url(322002))
        fetcher.get(site.list_url(page=2))
        assert statuses(site, "/robots.txt") == [307, 200]

    def test_refetched_after_ttl(
        self, site: SiteServer, make_fetcher: Any, fake_time: FakeTime
    ) -> None:
        """A day later the rules are read again; the site may have changed them."""
        fetcher = make_fetcher()
        fetcher.get(site.list_url())
        fake_time.now += ROBOTS_TTL + 1
        fetcher.get(site.list_url())
        assert statuses(site, "/robots.txt") == [307, 200, 200]

    def test_can_be_switched_off(self, site: SiteServer, make_fetcher: Any) -> None:
        """respect_robots=False skips robots.txt entirely."""
        site.robots_txt = "User-agent: *\nDisallow: /\n"
        assert make_fetcher(respect_robots=False).get(site.list_url()).status == 200
        assert site.requests_to("/robots.txt") == []


class TestRequestDelay:
    def test_pause_between_requests_to_same_host(
        self, site: SiteServer, make_fetcher: Any, fake_time: FakeTime
    ) -> None:
        """Each request after the first waits request_delay (robots.txt counts too)."""
        fetcher = make_fetcher(request_delay=1.0)
        fetcher.get(site.list_url())  # robots.txt, then the page after 1 s
        fetcher.get(site.view_url(322002))
        assert fake_time.sleeps == [1.0, 1.0]

    def test_time_already_spent_counts(
        self, site: SiteServer, make_fetcher: Any, fake_time: FakeTime
    ) -> None:
        """Time spent parsing between requests is subtracted from the pause."""
        fetcher = make_fetcher(request_delay=1.0, respect_robots=False)
        fetcher.get(site.list_url())
        fake_time.now += 0.4
        fetcher.get(site.list_url(page=2))
        fake_time.now += 5
        fetcher.get(site.list_url(page=3))
        assert fake_time.sleeps == [pytest.approx(0.6)]

    def test_hosts_are_paced_separately(
        self, make_site: Callable[..., SiteServer], make_fetcher: Any, fake_time: FakeTime
    ) -> None:
        """The delay protects each host; a second host does not wait for the first."""
        one, two = make_site(), make_site()
        fetcher = make_fetcher(request_delay=1.0, respect_robots=False)
        fetcher.get(one.list_url())
        fetcher.get(two.list_url())
        assert fake_time.sleeps == []


class TestConditionalGet:
    def test_feed_not_modified(self, site: SiteServer, make_fetcher: Any) -> None:
        """With the ETag from last time the server answers 304 and we report "not modified"."""
        fetcher = make_fetcher()
        first = fetcher.get(site.feed_url(), expect="xml")
        assert first.etag and first.last_modified and not first.not_modified
        again = fetcher.get(site.feed_url(), etag=first.etag, expect="xml")
        assert (again.status, again.not_modified, again.text) == (304, True, None)
        assert site.requests_to("/www/brd/rss.do")[-1].headers["If-None-Match"] == first.etag

    def test_last_modified_only(self, site: SiteServer, make_fetcher: Any) -> None:
        """If-Modified-Since works on its own for servers without ETags."""
        fetcher = make_fetcher()
        first = fetcher.get(site.list_url())
        again = fetcher.get(site.list_url(), last_modified=first.last_modified)
        assert again.not_modified

    def test_changed_feed_is_fetched(self, live_site: SiteServer, make_fetcher: Any) -> None:
        """After a new release the old validators no longer match: a full 200 with new text."""
        fetcher = make_fetcher()
        first = fetcher.get(live_site.feed_url(), expect="xml")
        live_site.publish(500001, "Brand New Release", "2026-08-02", "1. News.")
        again = fetcher.get(live_site.feed_url(), etag=first.etag, expect="xml")
        assert again.status == 200 and "Brand New Release" in (again.text or "")
        assert again.etag != first.etag


class TestDecoding:
    """Byte-level cases the local server has no reason to produce; ``responses`` fakes them."""

    URL = "https://www.mofa.go.kr/eng/brd/m_5676/view.do?seq=1"

    def fetch(self, body: bytes, content_type: str = "text/html", **settings: Any) -> Any:
        with responses.RequestsMock() as mock:
            mock.add(responses.GET, self.URL, body=body, content_type=content_type)
            with Fetcher(FetchSettings(UA, respect_robots=False, request_delay=0, **settings)) as f:
                return f.get(self.URL)

    def test_utf8(self) -> None:
        """What the site serves: strict UTF-8 decodes as such."""
        result = self.fetch("<p>외교부 – press</p>".encode())
        assert (result.text, result.encoding) == ("<p>외교부 – press</p>", "utf-8")

    def test_utf8_bom_is_dropped(self) -> None:
        """The feed may start with a BOM; it must not reach the parser."""
        result = self.fetch(b"\xef\xbb\xbf<rss/>", "text/xml")
        assert (result.text, result.encoding) == ("<rss/>", "utf-8-sig")

    def test_utf16_bom(self) -> None:
        """A UTF-16 byte-order mark selects UTF-16 before any guessing."""
        result = self.fetch("<p>한국</p>".encode("utf-16"))
        assert (result.text, result.encoding) == ("<p>한국</p>", "utf-16")

    def test_cp949_labelled_utf8(self, caplog: Any) -> None:
        """A lying UTF-8 label: strict UTF-8 fails, CP949 works, and the lie is logged."""
        body = '<meta charset="utf-8"><p>보도자료</p>'.encode("cp949")
        with caplog.at_level(logging.WARNING):
            result = self.fetch(body, "text/html; charset=UTF-8")
        assert (result.text, result.encoding) == ('<meta charset="utf-8"><p>보도자료</p>', "cp949")
        assert any("labelled UTF-8 but is CP949" in r.getMessage() for r in caplog.records)

    def test_cp949_labelled_latin1(self) -> None:
        """A Latin-1 label decodes anything, so Hangul under it is read as CP949, not mojibake."""
        body = '<meta charset="iso-8859-1"><p>보도자료</p>'.encode("cp949")
        result = self.fetch(body, "text/html; charset=ISO-8859-1")
        assert (result.text, result.encoding) == (
            '<meta charset="iso-8859-1"><p>보도자료</p>',
            "cp949",
        )

    def test_true_latin1_stays_latin1(self) -> None:
        """A Western page correctly labelled Latin-1 is not taken for Korean."""
        result = self.fetch(
            "<p>Communiqué de presse</p>".encode("latin-1"), "text/html; charset=ISO-8859-1"
        )
        assert (result.text, result.encoding) == ("<p>Communiqué de presse</p>", "iso8859-1")

    def test_declared_euc_kr(self) -> None:
        """A correct non-UTF-8 label is used as declared."""
        result = self.fetch('<meta charset="euc-kr"><p>외교부</p>'.encode("euc-kr"))
        assert (result.text, result.encoding) == ('<meta charset="euc-kr"><p>외교부</p>', "euc_kr")

    def test_configured_encoding_wins(self) -> None:
        """A per-source override is trusted (but still decoded strictly)."""
        result = self.fetch("<p>café</p>".encode("latin-1"), encoding="latin-1")
        assert (result.text, result.encoding) == ("<p>café</p>", "iso8859-1")

    def test_undecodable_is_an_error(self) -> None:
        """Bytes that are neither UTF-8 nor CP949 fail loudly instead of becoming mojibake."""
        with pytest.raises(FetchError, match="cannot decode the body as UTF-8 or CP949"):
            self.fetch(b"<p>\xff\xff</p>")

    def test_binary_labelled_html(self) -> None:
        """NUL bytes in a "text/html" answer mean it is not a page."""
        with pytest.raises(FetchError, match="got binary data"):
            self.fetch(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

    def test_text_without_markup(self) -> None:
        """A 200 whose body has no markup at all is foreign, e.g. an error string."""
        with pytest.raises(FetchError, match="expected an HTML page, got 'Service busy'"):
            self.fetch(b"Service busy")

    def test_declared_length_over_cap(self) -> None:
        """Content-Length is checked before reading a byte."""
        with responses.RequestsMock() as mock:
            mock.add(
                responses.GET,
                self.URL,
                body=b"<p>small</p>",
                headers={"Content-Length": "6000000"},
                auto_calculate_content_length=False,
            )
            with (
                Fetcher(FetchSettings(UA, respect_robots=False, request_delay=0)) as f,
                pytest.raises(FetchError, match="Content-Length 6000000"),
            ):
                f.get(self.URL)
