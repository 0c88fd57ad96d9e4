"""Parsing of the boards' RSS feeds: links to identity, GMT to the ministry's KST calendar.

The real feed, the recorded site's feed and a quirk feed are pinned by golden JSON records
(``UPDATE_GOLDEN=1`` rewrites them); the tests below name each quirk explicitly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import ListingEmptyError, ParseError
from monitor.parse.board import parse_article
from monitor.parse.feed import parse_feed

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "parse" / "golden" / "rss"
FEED_URL = "http://www.mofa.go.kr/www/brd/rss.do?brdId=302"
TEST_HOST = "http://127.0.0.1:8123"

FEEDS = {
    "press_releases_brdId302": DATA / "rss" / "press_releases_brdId302.xml",
    "site_rss_brdId302": DATA / "site" / "rss_brdId302.xml",
    "feed_quirks": DATA / "rss" / "feed_quirks.xml",
}


def to_jsonable(value: Any) -> Any:
    """Records as JSON data: dates as ISO strings, tuples as lists, no empty ``problems``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "problems" or getattr(value, f.name)
        }
    if isinstance(value, tuple | list):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def feed(items: str, channel_extra: str = "") -> bytes:
    """A small RSS 2.0 document around ``items``, as the server sends it (bytes)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">'
        f"<channel><title>t</title>{channel_extra}{items}</channel></rss>"
    ).encode()


def item(link: str, pub_date: str = "Fri, 26 Jun 2026 08:00:03 GMT", body: str = "") -> str:
    return f"<item><title>T</title><link>{link}</link>{body}<pubDate>{pub_date}</pubDate></item>"


ARTICLE = "http://www.mofa.go.kr/www/brd/m_5676/view.do?seq=1"


class TestGolden:
    @pytest.mark.parametrize("name", sorted(FEEDS))
    def test_feed(self, name: str) -> None:
        """Each feed parses to its reviewed golden listing."""
        actual = to_jsonable(parse_feed(FEEDS[name].read_bytes(), FEED_URL))
        golden = GOLDEN / f"{name}.json"
        if os.environ.get("UPDATE_GOLDEN") == "1":
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(json.dumps(actual, ensure_ascii=False, indent=2) + "\n", "utf-8")
        assert actual == json.loads(golden.read_text("utf-8"))


class TestRealFeed:
    def test_three_items_with_kst_dates(self) -> None:
        """The trimmed real feed: three releases, feed order kept, dates on the KST calendar."""
        listing = parse_feed(FEEDS["press_releases_brdId302"].read_bytes(), FEED_URL)
        assert [(e.board, e.seq, e.date) for e in listing.entries] == [
            ("m_5676", 323320, dt.date(2026, 6, 26)),
            ("m_5676", 323319, dt.date(2026, 7, 14)),
            ("m_5676", 323318, dt.date(2026, 3, 13)),
        ]
        assert listing.total is None
        first = listing.entries[0]
        assert first.url == "http://www.mofa.go.kr/eng/brd/m_5676/view.do?seq=323320"
        assert first.body is not None
        assert first.body.startswith("The government of the Republic of Korea has decided")

    def test_links_point_to_the_configured_host(self) -> None:
        """With a mirror or test server as source, links point there, under the English site."""
        source = f"{TEST_HOST}/www/brd/rss.do?brdId=302"
        listing = parse_feed(FEEDS["press_releases_brdId302"].read_bytes(), source)
        assert listing.entries[0].url == f"{TEST_HOST}/eng/brd/m_5676/view.do?seq=323320"

    def test_site_feed_agrees_with_the_article_pages(self) -> None:
        """Feed and pages give the same title, date and text (the feed's text is flattened)."""
        listing = parse_feed(FEEDS["site_rss_brdId302"].read_bytes(), FEED_URL)
        assert len(listing.entries) == 24
        for entry in listing.entries:
            page = DATA / "site" / "eng" / "brd" / entry.board / f"view_seq{entry.seq}.html"
            article = parse_article(page.read_text("utf-8"), entry.url)
            assert (entry.title, entry.date) == (article.title, article.date)
            assert entry.body is not None
            assert entry.body.replace("\n", " ") == article.body.replace("\n", " ")


class TestQuirks:
    def test_quirk_feed(self) -> None:
        """BOM, ``:443`` and ``/www/`` links, ``&amp;amp;``, brdId fallback, duplicates, no link."""
        listing = parse_feed(FEEDS["feed_quirks"].read_bytes(), FEED_URL)
        assert [(e.board, e.seq) for e in listing.entries] == [
            ("m_5676", 322359),
            ("m_5676", 322312),
            ("m_5676", 322013),
        ]
        assert listing.entries[0].title == (
            "MOFA Spokesperson’s Statement on the Agreement between Israel and Hamas"
        )

    @pytest.mark.parametrize(
        ("pub_date", "expected"),
        [
            pytest.param("Thu, 23 Nov 2023 16:30:00 GMT", dt.date(2023, 11, 24), id="next-day"),
            pytest.param("Thu, 23 Nov 2023 14:59:59 GMT", dt.date(2023, 11, 23), id="same-day"),
            pytest.param("Thu, 23 Nov 2023 15:00:00 +0000", dt.date(2023, 11, 24), id="midnight"),
            pytest.param("Fri, 24 Nov 2023 08:00:00 +0900", dt.date(2023, 11, 24), id="kst"),
            pytest.param("Thu, 23 Nov 2023 16:30:00", dt.date(2023, 11, 24), id="no-zone-is-gmt"),
            pytest.param("yesterday", None, id="unparseable"),
        ],
    )
    def test_pubdate_to_kst_calendar_date(self, pub_date: str, expected: dt.date | None) -> None:
        """``pubDate`` is GMT; the ministry's date is the KST (UTC+9) calendar day."""
        listing = parse_feed(feed(item(ARTICLE, pub_date)), FEED_URL)
        assert listing.entries[0].date == expected

    @pytest.mark.parametrize(
        "data",
        [
            pytest.param(b"\xef\xbb\xbf" + FEEDS["press_releases_brdId302"].read_bytes(),
                         id="bom-bytes"),
            pytest.param("\ufeff" + FEEDS["press_releases_brdId302"].read_text("utf-8"),
                         id="bom-str"),
            pytest.param(FEEDS["press_releases_brdId302"].read_text("utf-8"), id="str"),
        ],
    )  # fmt: skip
    def test_bom_and_text_input(self, data: bytes | str) -> None:
        """Bytes are decoded as ``utf-8-sig``; text input works too."""
        assert len(parse_feed(data, FEED_URL).entries) == 3

    @pytest.mark.parametrize(
        ("source", "link", "ref"),
        [
            pytest.param(FEED_URL, "http://www.mofa.go.kr/eng/view.do?seq=5", ("m_5676", 5),
                         id="302-press-releases"),
            pytest.param(FEED_URL.replace("302", "303"), "/view.do?seq=6", ("m_5679", 6),
                         id="303-briefings"),
            pytest.param(FEED_URL.replace("302", "235"), "/view.do?seq=7", ("m_4080", 7),
                         id="235-korean"),
            pytest.param(FEED_URL.replace("302", "303"),
                         "http://www.mofa.go.kr:443/www/brd/m_5676/view.do?seq=8", ("m_5676", 8),
                         id="link-board-wins"),
        ],
    )  # fmt: skip
    def test_board_from_brd_id_when_the_link_lacks_it(
        self, source: str, link: str, ref: tuple[str, int]
    ) -> None:
        """The feed's ``brdId`` names the board only when the link does not."""
        entry = parse_feed(feed(item(link)), source).entries[0]
        assert (entry.board, entry.seq) == ref

    def test_html_content_becomes_paragraphs(self) -> None:
        """``content:encoded`` HTML goes through the article normaliser."""
        body = (
            "<content:encoded><![CDATA[<p>1.&nbsp;One<br>line.</p>"
            "<p>2. Two\u200b.</p>]]></content:encoded>"
        )
        entry = parse_feed(feed(item(ARTICLE, body=body)), FEED_URL).entries[0]
        assert entry.body == "1. One line.\n2. Two."

    def test_plain_description_keeps_paragraphs(self) -> None:
        """Plain text keeps ``\\n`` paragraphs; an escaped ``\\r\\n`` inside a sentence is a space."""
        body = "<description>1. One&#13;\ncontinued.\n2. Two &amp;amp; three.</description>"
        entry = parse_feed(feed(item(ARTICLE, body=body)), FEED_URL).entries[0]
        assert entry.body == "1. One continued.\n2. Two & three."

    def test_item_without_text_has_empty_body(self) -> None:
        """No ``content:encoded`` nor ``description``: an empty text, not None."""
        assert parse_feed(feed(item(ARTICLE)), FEED_URL).entries[0].body == ""


class TestErrors:
    def test_empty_channel(self) -> None:
        """A feed without items is an alarm, like an empty listing."""
        with pytest.raises(ListingEmptyError, match=r"0 items"):
            parse_feed((DATA / "rss" / "feed_empty_channel.xml").read_bytes(), FEED_URL)

    def test_items_without_article_links(self) -> None:
        """Items that link no article count as no items."""
        with pytest.raises(ListingEmptyError, match=r"2 items but none links an article"):
            parse_feed(feed(item("http://example.org/") + item("")), FEED_URL)

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00garbage", "not well-formed XML", id="garbage"),
            pytest.param(b"", "not well-formed XML", id="empty"),
            pytest.param(b"<html><body><p>Error</p></body></html>", "expected an RSS 2.0 feed",
                         id="html-page"),
            pytest.param(b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>',
                         "expected an RSS 2.0 feed", id="atom"),
        ],
    )  # fmt: skip
    def test_not_rss(self, data: bytes, message: str) -> None:
        """Anything but RSS 2.0 is a ParseError naming the feed URL."""
        with pytest.raises(ParseError, match=message) as info:
            parse_feed(data, FEED_URL)
        assert type(info.value) is ParseError
        assert FEED_URL in str(info.value)
