"""One odd answer costs one URL: redirects with raw bytes or malformed hosts (fetch stage).

Each case serves the answer from the local site (127.0.0.1) and polls through the real App,
store and fetcher, or fetches through the real :class:`~monitor.fetch.http.Fetcher`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import FetchError, RetryLaterError
from monitor.fetch.http import (
    Fetcher,
    FetchSettings,
    HTTPStatusError,
    browser_location,
    build_user_agent,
)
from monitor.fetch.payload import decode_body
from monitor.localsite import SiteServer
from monitor.schedule.app import App

pytestmark = pytest.mark.timeout(60)

LIST = "/eng/brd/m_5676/list.do"
VIEW = "/eng/brd/m_5676/view.do?seq={}"
EUC_KR = "외교".encode("euc-kr")  # b"\xbf\xdc\xb1\xb3": not UTF-8


def latin1(raw: bytes) -> str:
    """Header text that the test server sends as exactly these bytes (http.server: Latin-1)."""
    return raw.decode("latin-1")


#: Location headers that made requests/urllib3 raise something other than a RequestException.
MALFORMED_LOCATIONS = {
    "bad_ipv6": "http://[::1/x",
    "bad_ipv6_scheme_relative": "//[::1/x",
    "label_of_70_characters": "http://" + "a" * 70 + ".example/x",
    "empty_label": "http://a..example/x",
    "latin1_byte_in_host": latin1("http://\xe9xample.org/x".encode("latin-1")),
    "huge_port": "http://127.0.0.1:" + "9" * 5000 + "/x",
}


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[service]
state_dir = "state"
request_delay = "0s"
timeout = "2s"

[[sources]]
id = "src"
url = "{url}"
every = "2s"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def board(make_site: Callable[..., SiteServer]) -> SiteServer:
    site = make_site(mode="dynamic")
    site.publish(500001, "First Release on Trade", "2026-06-01", "1. First text.")
    return site


@pytest.fixture
def app(board: SiteServer, tmp_path: Path) -> Iterator[App]:
    application = App(load_config(write_config(tmp_path, board.list_url())))
    yield application
    application.close()


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    settings = FetchSettings(
        build_user_agent(None), request_delay=0.0, retries=0, connect_timeout=2, read_timeout=2
    )
    with Fetcher(settings) as f:
        yield f


class TestRedirectLikeABrowser:
    def test_raw_euc_kr_bytes_in_location_are_percent_encoded_and_followed(
        self, board: SiteServer, fetcher: Fetcher
    ) -> None:
        board.publish(500002, "Second Release", "2026-06-02", "1. Text.")
        target = VIEW.format(500002) + "&q="
        board.canned(
            "/moved", b"", status=302, headers={"Location": latin1(target.encode() + EUC_KR)}
        )
        board.canned(target + "%BF%DC%B1%B3", b"<html><body>moved here</body></html>")
        result = fetcher.get(board.url("/moved"))
        assert result.url.endswith("q=%BF%DC%B1%B3")
        assert "moved here" in (result.text or "")

    def test_utf8_location_is_still_read_as_utf8(self) -> None:
        assert browser_location("/a?q=외교".encode()) == "/a?q=외교"

    def test_controls_and_spaces_are_percent_encoded_with_the_raw_bytes(self) -> None:
        assert browser_location(b"/a b?\x1b=" + EUC_KR) == "/a%20b?%1B=%BF%DC%B1%B3"

    @pytest.mark.parametrize("location", MALFORMED_LOCATIONS.values(), ids=MALFORMED_LOCATIONS)
    def test_a_malformed_location_is_one_fetch_error(
        self, board: SiteServer, fetcher: Fetcher, location: str
    ) -> None:
        board.canned("/moved", b"", status=302, headers={"Location": location})
        with pytest.raises(FetchError, match=r"/moved: "):
            fetcher.get(board.url("/moved"))


class TestOneArticleCostsOneRow:
    @pytest.mark.parametrize(
        "location",
        MALFORMED_LOCATIONS.values(),
        ids=MALFORMED_LOCATIONS,
    )
    def test_the_other_new_releases_are_stored_and_the_source_stays_up(
        self, board: SiteServer, app: App, location: str
    ) -> None:
        app.tick(send=False)
        for seq in (500002, 500003, 500004):
            board.publish(seq, f"Release {seq} on cooperation", "2026-06-03", "1. Text.")
        board.canned(VIEW.format(500003), b"", status=302, headers={"Location": location})
        outcome = app.poller.poll_all().outcomes[0]
        assert outcome.error is None
        assert sorted(outcome.new) == ["m_5676-500002", "m_5676-500004"]
        assert app.store.release("m_5676-500003") is None  # retried on a later poll
        health = app.store.source("src")
        assert health is not None and health.consecutive_failures == 0

    def test_an_article_redirecting_with_raw_euc_kr_bytes_is_followed_and_stored(
        self, board: SiteServer, app: App
    ) -> None:
        app.tick(send=False)
        for seq in (500002, 500003, 500004):
            board.publish(seq, f"Release {seq} on cooperation", "2026-06-03", "1. Text.")
        location = latin1(VIEW.format(500003).encode() + b"&q=" + EUC_KR)
        board.canned(VIEW.format(500003), b"", status=302, headers={"Location": location})
        outcome = app.poller.poll_all().outcomes[0]
        assert outcome.error is None
        assert sorted(outcome.new) == ["m_5676-500002", "m_5676-500003", "m_5676-500004"]
        assert any(r.path.endswith("&q=%BF%DC%B1%B3") for r in board.requests)

    def test_a_malformed_redirect_of_the_listing_is_one_clear_line(
        self, board: SiteServer, app: App
    ) -> None:
        board.canned(LIST, b"", status=302, headers={"Location": "http://[::1/x"})
        board.canned(LIST + "?page=1", b"", status=302, headers={"Location": "http://[::1/x"})
        outcome = app.poller.poll_all().outcomes[0]
        assert outcome.error is not None
        assert "internal error" not in outcome.error
        assert "request failed" in outcome.error and "\n" not in outcome.error


class TestRetryAfterOfAnyShape:
    @pytest.fixture
    def waits(self) -> list[float]:
        return []

    @pytest.fixture
    def polite(self, waits: list[float]) -> Iterator[Fetcher]:
        settings = FetchSettings(
            build_user_agent(None), request_delay=0.0, retries=1, backoff_factor=0.01
        )
        with Fetcher(settings, sleep=waits.append) as f:
            yield f

    @pytest.mark.parametrize("digits", [13, 30, 5000])
    def test_thousands_of_digits_mean_a_very_long_wait(
        self, board: SiteServer, polite: Fetcher, digits: int
    ) -> None:
        board.fault(LIST, 503, retry_after="9" * digits, times=None)
        with pytest.raises(RetryLaterError) as caught:
            polite.get(board.list_url())
        assert caught.value.seconds >= 10**12
        assert len(str(caught.value)) < 300

    @pytest.mark.parametrize("value", ["-5", "30.5", "soon", "\xef\xbc\x91"])
    def test_an_unreadable_value_is_ignored_and_the_status_kept(
        self, board: SiteServer, polite: Fetcher, waits: list[float], value: str
    ) -> None:
        board.fault(LIST, 503, retry_after=value, times=None)
        with pytest.raises(HTTPStatusError, match=r"^HTTP 503 for ") as caught:
            polite.get(board.list_url())
        assert caught.value.status == 503
        assert all(w < 1 for w in waits)  # backoff, not a wait the value implied

    def test_a_poll_told_to_wait_forever_is_deferred_not_an_internal_error(
        self, board: SiteServer, app: App
    ) -> None:
        board.fault(LIST, 503, retry_after="9" * 5000, times=None)
        outcome = app.poller.poll_all().outcomes[0]
        assert outcome.error is None or "internal error" not in outcome.error
        before = len(board.requests_to(LIST))
        app.poller.poll_all()
        assert len(board.requests_to(LIST)) == before  # the wait is honoured across polls


TITLE = "북한 외교부 대변인 논평 – Korea’s “Statement”"


class TestCharsetsBrowsersRefuse:
    @pytest.mark.parametrize(
        ("content_type", "meta", "codec"),
        [
            ("text/html; charset=utf-7", None, "utf-7"),
            ("text/html; charset=UTF7", None, "utf-7"),
            ("text/html", "utf-7", "utf-7"),
            ("text/html; charset=iso-2022-kr", None, "iso2022_kr"),
            ("text/html; charset=csISO2022KR", None, "iso2022_kr"),
        ],
    )
    def test_the_page_is_refused_not_stored_as_mojibake(
        self, content_type: str, meta: str | None, codec: str
    ) -> None:
        head = f'<meta charset="{meta}">' if meta else ""
        page = f"<html><head>{head}</head><body><h1>{TITLE}</h1></body></html>"
        body = page.encode(codec, errors="xmlcharrefreplace")
        with pytest.raises(FetchError, match=r"browsers refuse to decode"):
            decode_body(body, content_type, url="http://x/view.do?seq=1")

    def test_a_configured_encoding_still_wins(self) -> None:
        body = f"<html><body>{TITLE}</body></html>".encode("utf-7")
        text, _ = decode_body(body, "text/html; charset=utf-7", "utf-7")
        assert TITLE in text

    def test_one_refused_article_costs_its_row(self, board: SiteServer, app: App) -> None:
        app.tick(send=False)
        for seq in (500002, 500003):
            board.publish(seq, f"Release {seq} on cooperation", "2026-06-03", "1. Text.")
        body = f"<html><body><h1>{TITLE}</h1></body></html>".encode("utf-7")
        board.canned(VIEW.format(500003), body, content_type="text/html; charset=utf-7")
        outcome = app.poller.poll_all().outcomes[0]
        assert outcome.error is None and outcome.new == ["m_5676-500002"]
        assert app.store.release("m_5676-500003") is None
