"""One malformed feed item costs at most itself (parse stage, monitor.parse.feed)."""

from __future__ import annotations

import pytest

from monitor.errors import ParseError
from monitor.parse.feed import parse_feed

FEED_URL = "https://www.mofa.go.kr/www/brd/rss.do?brdId=302"


def feed(middle_title: str, *, cdata: bool = False) -> str:
    def item(seq: int, title: str) -> str:
        if cdata:
            title = f"<![CDATA[{title}]]>"
        return (
            f"<item><title>{title}</title>"
            f"<link>https://www.mofa.go.kr/www/brd/m_5676/view.do?seq={seq}</link>"
            f"<description>1. Text of {seq}.</description>"
            "<pubDate>Mon, 30 Nov 2026 08:00:00 GMT</pubDate></item>"
        )

    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>t</title>'
        + item(900001, "Good First")
        + item(900002, middle_title)
        + item(900003, "Good Third")
        + "</channel></rss>"
    )


@pytest.mark.parametrize(
    ("title", "stored"),
    [
        ("Title&nbsp;with&nbsp;nbsp", "Title with nbsp"),
        ("Title &rsquo;quoted&rsquo; &hellip;", "Title \u2019quoted\u2019 \u2026"),
        ("Trade & Investment", "Trade & Investment"),
        ("R&D &unknownname; x", "R&D &unknownname; x"),
        ("Already &amp; escaped &#8217; &#x2019;", "Already & escaped \u2019 \u2019"),
    ],
)
def test_html_references_and_bare_ampersands_cost_nothing(title: str, stored: str) -> None:
    listing = parse_feed(feed(title), FEED_URL)
    titles = {e.seq: e.title for e in listing.entries}
    assert titles == {900001: "Good First", 900002: stored, 900003: "Good Third"}
    assert listing.problems == ()


@pytest.mark.parametrize(
    ("title", "stored"),
    [
        ("Title <b>unclosed", "Title unclosed"),
        ("Title ]]> in the middle", "Title ]]> in the middle"),
        ("Title </description> odd", "Title odd"),
    ],
)
def test_a_malformed_item_is_read_leniently_and_reported(title: str, stored: str) -> None:
    listing = parse_feed(feed(title), FEED_URL)
    titles = {e.seq: e.title for e in listing.entries}
    assert titles[900001] == "Good First" and titles[900003] == "Good Third"
    assert titles[900002] == stored
    assert len(listing.problems) == 1 and "item 2 is not well-formed XML" in listing.problems[0]
    bodies = {e.seq: e.body for e in listing.entries}
    assert bodies[900003] == "1. Text of 900003."


def test_references_inside_cdata_are_left_to_the_html_reading() -> None:
    listing = parse_feed(feed("Trade & Investment &nbsp;x", cdata=True), FEED_URL)
    titles = {e.seq: e.title for e in listing.entries}
    assert titles[900002] == "Trade & Investment x"


def test_a_document_that_is_no_feed_at_all_is_still_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not well-formed XML"):
        parse_feed("<html><body>Trade & <b>Investment</body></html>", FEED_URL)
