"""Tests for the local test site itself, so other suites can trust what it serves."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import requests
from bs4 import BeautifulSoup
from sitekit import SiteServer

from conftest import SITE_DIR

pytestmark = pytest.mark.timeout(30)

F_VIEW = re.compile(r"f_view\('(\d+)'\)")


@pytest.fixture
def http() -> requests.Session:
    with requests.Session() as session:
        yield session


def rows(markup: str) -> list[tuple[int, str, str]]:
    """(seq, title, date) of each listing row, with the selectors the parsers use."""
    found = []
    for tr in BeautifulSoup(markup, "html.parser").select("table tbody tr"):
        anchor = tr.select_one("a[onclick]")
        if anchor is None:
            continue
        seq = int(F_VIEW.search(anchor["onclick"]).group(1))  # type: ignore[union-attr,arg-type]
        date = tr.select_one("td.date").get_text(strip=True)  # type: ignore[union-attr]
        found.append((seq, anchor.get_text(strip=True), date))
    return found


def article(markup: str) -> tuple[str, str, list[str]]:
    """(title, head text, body paragraphs) of an article page."""
    soup = BeautifulSoup(markup, "html.parser")
    head = soup.select_one(".board_detail .bo_head")
    title = head.select_one("h2").get_text(strip=True)  # type: ignore[union-attr]
    paragraphs = [p.get_text(" ", strip=True) for p in soup.select(".bo_con p")]
    return title, head.get_text(" ", strip=True), paragraphs  # type: ignore[union-attr]


class TestCookieGate:
    def test_client_without_cookie_jar_loops(
        self, site: SiteServer, http: requests.Session
    ) -> None:
        """Without sending the cookie back, every answer is the 307 again."""
        for _ in range(3):
            answer = http.get(site.list_url(), allow_redirects=False, cookies={})
            http.cookies.clear()
            assert answer.status_code == 307
            assert answer.headers["Location"] == "/eng/brd/m_5676/list.do"
            assert "TMOSHCooKie=" in answer.headers["Set-Cookie"]
            assert answer.content == b""

    def test_gate_can_be_disabled(self, make_site: Callable[..., SiteServer]) -> None:
        """cookie_gate=False answers the first request directly."""
        server = make_site(cookie_gate=False)
        assert requests.get(server.list_url(), allow_redirects=False).status_code == 200


class TestRecorded:
    def test_serves_files_as_stored(self, site: SiteServer, http: requests.Session) -> None:
        """Recorded mode returns the stored bytes unchanged."""
        stored = (SITE_DIR / "eng/brd/m_5676/list_page2.html").read_bytes()
        assert http.get(site.list_url(page=2)).content == stored

    def test_page_beyond_last_has_no_rows(self, site: SiteServer, http: requests.Session) -> None:
        """Like the site's "no posts" page: a table whose only row has no seq."""
        markup = http.get(site.list_url(page=9)).text
        assert rows(markup) == []
        assert "No posts" in markup and "Total <strong>24</strong>" in markup

    def test_missing_article_is_404(self, site: SiteServer, http: requests.Session) -> None:
        """An unknown seq is a 404, as on the site."""
        assert http.get(site.view_url(1)).status_code == 404

    def test_www_links_from_the_feed_resolve(
        self, site: SiteServer, http: requests.Session
    ) -> None:
        """The feed links articles under /www/; the same file answers there."""
        answer = http.get(site.url("/www/brd/m_5676/view.do?seq=322002"))
        assert answer.status_code == 200


class TestDynamic:
    def test_matches_recorded_markup(self, live_site: SiteServer, http: requests.Session) -> None:
        """Rendered pages read exactly like the recorded ones through the parsers' selectors."""
        recorded = SiteServer(mode="recorded", root=SITE_DIR, cookie_gate=False).start()
        try:
            for path in ("/eng/brd/m_5676/list.do", "/eng/brd/m_5676/list.do?page=3"):
                assert rows(http.get(live_site.url(path)).text) == rows(
                    requests.get(recorded.url(path)).text
                )
            for seq in (322002, 322003, 322013):
                ours = article(http.get(live_site.view_url(seq)).text)
                theirs = article(requests.get(recorded.view_url(seq)).text)
                assert ours[0] == theirs[0] and ours[2] == theirs[2]
                assert re.search(r"Date \d{4}-\d{2}-\d{2}", ours[1])
        finally:
            recorded.stop()

    def test_catch_up_pages(self, make_site: Callable[..., SiteServer]) -> None:
        """Baseline 10, then 25 more: all 35 reachable through pages 1..4, newest first."""
        server = make_site(mode="dynamic", cookie_gate=False)
        baseline = server.seed_from_corpus(limit=10)
        new = server.publish_many(25)
        seen = [r[0] for p in range(1, 5) for r in rows(requests.get(server.list_url(page=p)).text)]
        assert seen == [r.seq for r in reversed(new)] + [r.seq for r in baseline]
        assert rows(requests.get(server.list_url(page=5)).text) == []

    def test_publish_edits_in_place(self, live_site: SiteServer, http: requests.Session) -> None:
        """Publishing a known seq again changes its text, not its position."""
        before = [r.seq for r in live_site.releases()]
        live_site.publish(322002, "Corrected Title", "2022-02-25", "1. Corrected.")
        assert [r.seq for r in live_site.releases()] == before
        assert article(http.get(live_site.view_url(322002)).text)[0] == "Corrected Title"

    def test_feed_follows_the_board(self, live_site: SiteServer, http: requests.Session) -> None:
        """The dynamic feed lists a new release first, linking to this server."""
        live_site.publish(500000, "Fresh Release", "2026-08-01", "1. Body.")
        feed = http.get(live_site.feed_url()).text
        assert feed.index("Fresh Release") < feed.index("<item>", feed.index("Fresh Release"))
        assert f"{live_site.base_url}/www/brd/m_5676/view.do?seq=500000" in feed

    def test_feed_bom(self, make_site: Callable[..., SiteServer]) -> None:
        """feed_bom=True prefixes the feed with a UTF-8 BOM, as the site may."""
        server = make_site(mode="dynamic", cookie_gate=False, feed_bom=True)
        assert requests.get(server.feed_url()).content.startswith(b"\xef\xbb\xbf<?xml")

    def test_publish_needs_dynamic_mode(self, site: SiteServer) -> None:
        """Recorded pages are fixed; publishing there is a test bug."""
        with pytest.raises(RuntimeError, match="dynamic"):
            site.publish(1, "t", "2026-01-01", "b")


class TestFaults:
    def test_times_then_normal(self, site: SiteServer, http: requests.Session) -> None:
        """A fault applies ``times`` times, then the path is served normally."""
        site.fault("/eng/brd/m_5676/list.do", 500, times=2)
        codes = [http.get(site.list_url()).status_code for _ in range(3)]
        assert codes == [500, 500, 200]

    def test_glob_and_regex_patterns(self, site: SiteServer, http: requests.Session) -> None:
        """Globs match the path, regexes search path and query; clear_faults() ends all."""
        site.fault("/eng/brd/*/view.do*", 404, times=None)
        site.fault(re.compile(r"page=2\b"), 503, times=None)
        assert http.get(site.view_url(322002)).status_code == 404
        assert http.get(site.list_url(page=2)).status_code == 503
        assert http.get(site.list_url(page=1)).status_code == 200
        site.clear_faults()
        assert http.get(site.view_url(322002)).status_code == 200

    def test_retry_after_header(self, site: SiteServer, http: requests.Session) -> None:
        """A status fault can carry a Retry-After header."""
        site.fault("/www/brd/rss.do", 429, retry_after=30)
        answer = http.get(site.feed_url())
        assert (answer.status_code, answer.headers["Retry-After"]) == (429, "30")

    def test_request_log(self, site: SiteServer, http: requests.Session) -> None:
        """Each request is logged with its headers and the status it got."""
        http.get(site.list_url(), headers={"User-Agent": "probe/1"})
        log = site.requests_to("/eng/")
        assert [(r.method, r.status) for r in log] == [("GET", 307), ("GET", 200)]
        assert log[0].headers["user-agent"] == "probe/1"
        site.clear_requests()
        assert site.requests == []


def test_the_packaged_site_ships_only_what_the_demo_runs() -> None:
    """Faults, the recorded mode, canned pages and the request log are the tests' (sitekit)."""
    import monitor.localsite.handler
    import monitor.localsite.server as packaged

    test_only = {"fault", "take_fault", "canned", "requests", "requests_to", "record", "mode"}
    assert not test_only & set(dir(packaged.SiteServer))
    assert not {"Fault", "LoggedRequest", "FaultKind"} & set(dir(packaged))
    assert not hasattr(monitor.localsite.handler, "FaultKind")
    with packaged.SiteServer() as demo_site:  # the demo's board: dynamic, no root needed
        demo_site.publish(1, "A Release", "2026-06-01", "1. Text.")
        answer = requests.get(demo_site.list_url(), timeout=5)
        assert answer.status_code == 200 and "A Release" in answer.text
