"""Kinds of hostile page content, one class each: a bad item never costs its neighbours.

Listing rows and feed items are parsed one by one; whatever poisons one of them (a year-9999
date, a malformed IPv6 host, a seq or post count of thousands of digits, control characters,
entities escaped twice) is skipped or cleaned, and reported in ``Listing.problems``.
"""

from __future__ import annotations

import datetime as dt

import pytest

from monitor.errors import ParseError
from monitor.parse import board as mofa
from monitor.parse import feed as rss

LIST_URL = "https://www.mofa.go.kr/eng/brd/m_5676/list.do?page=1"
VIEW_URL = "https://www.mofa.go.kr/eng/brd/m_5676/view.do?seq=7"
FEED_URL = "http://127.0.0.1:8123/www/brd/rss.do?brdId=302"


def row(seq: str, title: str, date: str = "2026-06-01") -> str:
    return (
        f"<tr><td>{seq[:5]}</td><td class='left'><a href='#none' "
        f"onclick=\"f_view('{seq}');return false;\">{title}</a></td><td>{date}</td></tr>"
    )


def listing(*rows: str, total: str = "3") -> str:
    return (
        "<html><body><div class='board_total'>Total <strong>"
        f"{total}</strong></div><table><tbody>{''.join(rows)}</tbody></table></body></html>"
    )


def feed_item(
    seq: str, title: str = "Title", date: str = "Fri, 26 Jun 2026 08:00:03 GMT", link: str = ""
) -> str:
    link = link or f"http://www.mofa.go.kr:443/www/brd/m_5676/view.do?seq={seq}"
    return (
        f"<item><title>{title}</title><link>{link}</link>"
        f"<description>Body {seq}</description><pubDate>{date}</pubDate></item>"
    )


def feed(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>t</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def article(title: str, body: str = "<p>1. Text.</p>", head_extra: str = "") -> str:
    return (
        f"<html><head>{head_extra}</head><body><div class='board_detail'><div class='bo_head'>"
        f"<h2>{title}</h2><p>Date 2026-06-01</p></div><div class='bo_con'>{body}</div>"
        "</div></body></html>"
    )


class TestEntitiesEscapedTwice:
    """``&amp;#39;`` in the markup is ``&#39;`` after one unescaping: a second layer."""

    @pytest.mark.parametrize(
        ("escaped", "intended"),
        [
            ("Korea&amp;#39;s Position", "Korea's Position"),
            ("&amp;quot;Peace&amp;quot; Talks", '"Peace" Talks'),
            ("R&amp;amp;D Cooperation", "R&D Cooperation"),
            ("Minister&amp;#x2019;s Visit", "Minister’s Visit"),
            ("Vice&amp;nbsp;Minister", "Vice Minister"),
        ],
    )
    def test_listing_article_and_feed_agree(self, escaped: str, intended: str) -> None:
        """The board path (listing row and article page) and the feed path give one title."""
        from_listing = mofa.parse_listing(listing(row("7", escaped)), LIST_URL).entries[0].title
        from_article = mofa.parse_article(article(escaped), VIEW_URL).title
        from_feed = rss.parse_feed(feed(feed_item("7", escaped)), FEED_URL).entries[0].title
        assert from_listing == from_article == from_feed == intended

    @pytest.mark.parametrize(
        "title", ["R&amp;D and AT&amp;T", "Fish &amp; Chips &amp;c", "5 &lt; 6"]
    )
    def test_single_escaping_is_left_alone(self, title: str) -> None:
        """Text that was escaped once (an ampersand, a less-than sign) is not unescaped again."""
        from_listing = mofa.parse_listing(listing(row("7", title)), LIST_URL).entries[0].title
        from_feed = rss.parse_feed(feed(feed_item("7", title)), FEED_URL).entries[0].title
        assert from_listing == from_feed
        assert "&amp;" not in from_listing and "&lt;" not in from_listing


class TestPoisonedListingRows:
    def test_seq_of_thousands_of_digits_costs_only_its_row(self) -> None:
        """A seq beyond any integer key (and int()'s digit limit) is skipped; neighbours stay."""
        page = listing(row("1" * 5000, "Poisoned"), row("8", "Good A"), row("7", "Good B"))
        parsed = mofa.parse_listing(page, LIST_URL)
        assert [e.seq for e in parsed.entries] == [8, 7]

    def test_post_count_of_thousands_of_digits_is_ignored(self) -> None:
        parsed = mofa.parse_listing(listing(row("7", "Good"), total="9" * 5000), LIST_URL)
        assert parsed.total is None and [e.seq for e in parsed.entries] == [7]

    def test_year_9999_is_no_date(self) -> None:
        """A date no release can have is dropped rather than stored (it overflows later)."""
        parsed = mofa.parse_listing(listing(row("7", "Good", "9999-12-31")), LIST_URL)
        assert parsed.entries[0].date is None

    def test_control_characters_are_cleaned_from_one_title(self) -> None:
        """A NUL, ESC or BEL in a title is removed; the row and its neighbours are kept."""
        page = listing(row("8", "Statement\x00 on\x1b[2J Trade\x07"), row("7", "Good"))
        parsed = mofa.parse_listing(page, LIST_URL)
        assert [e.title for e in parsed.entries] == ["Statement on[2J Trade", "Good"]


class TestPoisonedFeedItems:
    def test_year_9999_date_is_reported_and_the_item_kept(self) -> None:
        """The OverflowError of 9999-12-31 + KST becomes a reported, missing date."""
        data = feed(
            feed_item("9", date="Fri, 31 Dec 9999 23:59:59 GMT"),
            feed_item("8", date="Fri, 26 Jun 2026 08:00:03 GMT"),
        )
        parsed = rss.parse_feed(data, FEED_URL)
        assert [(e.seq, e.date) for e in parsed.entries] == [(9, None), (8, dt.date(2026, 6, 26))]
        assert any("9999" in p for p in parsed.problems)

    def test_malformed_ipv6_link_is_salvaged_by_its_seq(self) -> None:
        """urlsplit rejects the host; the seq and the feed's brdId still name the release."""
        data = feed(feed_item("9", link="http://[::1/www/brd/m_5676/view.do?seq=9"), feed_item("8"))
        parsed = rss.parse_feed(data, FEED_URL)
        assert (parsed.entries[0].seq, parsed.entries[0].url) == (
            9,
            "http://127.0.0.1:8123/eng/brd/m_5676/view.do?seq=9",
        )

    def test_malformed_ipv6_link_without_seq_costs_only_its_item(self) -> None:
        data = feed(feed_item("9", link="http://[::1/www/brd/m_5676/view.do"), feed_item("8"))
        parsed = rss.parse_feed(data, FEED_URL)
        assert [e.seq for e in parsed.entries] == [8]
        assert len(parsed.problems) == 1 and "item 1" in parsed.problems[0]

    def test_seq_of_thousands_of_digits_costs_only_its_item(self) -> None:
        parsed = rss.parse_feed(feed(feed_item("1" * 5000), feed_item("8")), FEED_URL)
        assert [e.seq for e in parsed.entries] == [8]
        assert parsed.problems

    @pytest.mark.parametrize("poison", ["\x00", "\x1b", "\x07", "&#0;", "&#x1b;", "\x0b"])
    def test_control_character_in_one_title_does_not_break_the_feed(self, poison: str) -> None:
        """XML forbids these characters; one of them must not make the document unreadable."""
        data = feed(feed_item("9", f"Statement{poison} on Trade"), feed_item("8", "Good"))
        parsed = rss.parse_feed(data, FEED_URL)
        assert [(e.seq, e.title) for e in parsed.entries] == [
            (9, "Statement on Trade"),
            (8, "Good"),
        ]

    def test_still_a_parse_error_when_nothing_is_xml(self) -> None:
        with pytest.raises(ParseError):
            rss.parse_feed(b"<rss><channel><item>", FEED_URL)


class TestFeedDates:
    """Every date form a feed or a Korean CMS writes, read to the ministry's (KST) calendar."""

    @pytest.mark.parametrize(
        ("raw", "day"),
        [
            ("Fri, 26 Jun 2026 08:00:03 GMT", "2026-06-26"),
            ("Fri, 26 Jun 2026 20:00:03 GMT", "2026-06-27"),  # 05:00 next day in Seoul
            ("26 Jun 2026 20:00:03 +0000", "2026-06-27"),  # no weekday
            ("Fri, 26 Jun 2026 20:00 GMT", "2026-06-27"),  # no seconds
            ("Fri, 26 Jun 26 20:00:03 GMT", "2026-06-27"),  # two-digit year
            ("Sat, 27 Jun 2026 01:00:00 KST", "2026-06-27"),  # a zone name RFC 822 lacks
            ("Fri, 26 Jun 2026 23:30:00 +0900", "2026-06-26"),
            ("Fri, 26 Jun 2026 10:00:00 EST", "2026-06-27"),
            ("2026-06-26T20:00:03Z", "2026-06-27"),  # ISO 8601 / RFC 3339
            ("2026-06-26T20:00:03.123+00:00", "2026-06-27"),
            ("2026-06-26T23:30:00+09:00", "2026-06-26"),
            ("2026-06-26", "2026-06-26"),
            ("2026-06-26 23:30:00", "2026-06-26"),  # Korean CMS: Korea time, not UTC
            ("2026-06-26 01:30:00", "2026-06-26"),
            ("2026.06.26", "2026-06-26"),
            ("2026. 6. 26.", "2026-06-26"),
            ("2026년 6월 26일 오후 11:30", "2026-06-26"),
            ("Fri, 26 Jun 2026 20:00:03 +09:00", "2026-06-26"),  # a colon in the offset
            ("Fri, 26 Jun 2026 20:00:03 GMT+0900", "2026-06-26"),
            ("Friday, 26 June 2026 20:00:03 GMT", "2026-06-27"),  # words in full
            ("Fri Jun 26 20:00:03 2026", "2026-06-27"),  # asctime
            ("26 June 2026", "2026-06-26"),
            ("Jun 26, 2026", "2026-06-26"),
            ("2026/06/26 08:00", "2026-06-26"),
            ("20260626", "2026-06-26"),
        ],
    )
    def test_read(self, raw: str, day: str) -> None:
        parsed = rss.parse_feed(feed(feed_item("8", date=raw)), FEED_URL)
        assert parsed.entries[0].date == dt.date.fromisoformat(day)
        assert parsed.problems == ()

    @pytest.mark.parametrize(
        "raw", ["yesterday", "Fri, 32 Jun 2026 08:00:03 GMT", "2026-13-01", "99999-01-01"]
    )
    def test_unreadable_is_reported_not_dropped_silently(self, raw: str) -> None:
        parsed = rss.parse_feed(feed(feed_item("8", date=raw)), FEED_URL)
        assert parsed.entries[0].date is None
        assert len(parsed.problems) == 1 and "unreadable" in parsed.problems[0]

    def test_dc_date_when_no_pub_date(self) -> None:
        item = (
            "<item><title>T</title><link>http://x/www/brd/m_5676/view.do?seq=8</link>"
            '<dc:date xmlns:dc="http://purl.org/dc/elements/1.1/">2026-06-26T20:00:00Z</dc:date>'
            "</item>"
        )
        assert rss.parse_feed(feed(item), FEED_URL).entries[0].date == dt.date(2026, 6, 27)


class TestLinksResolveAsABrowser:
    def test_base_href_wins(self) -> None:
        page = article(
            "T",
            body="<p>Text</p><a href='down.do?brd_id=1&seq=7&file_seq=1'>a.pdf</a>",
            head_extra="<base href='https://files.example.org/eng/brd/m_5676/'>",
        )
        parsed = mofa.parse_article(page, VIEW_URL)
        assert [a.url for a in parsed.attachments] == [
            "https://files.example.org/eng/brd/m_5676/down.do?brd_id=1&seq=7&file_seq=1"
        ]

    def test_relative_base_resolves_against_the_fetched_url(self) -> None:
        page = article(
            "T",
            body="<a href='down.do?seq=7&file_seq=1'>a.pdf</a>",
            head_extra="<base href='/mirror/files/'>",
        )
        parsed = mofa.parse_article(
            page, VIEW_URL, fetched_url="http://127.0.0.1:8123/eng/brd/m_5676/view.do?seq=7"
        )
        assert [a.url for a in parsed.attachments] == [
            "http://127.0.0.1:8123/mirror/files/down.do?seq=7&file_seq=1"
        ]

    def test_without_base_the_url_after_redirects_counts(self) -> None:
        page = article("T", body="<a href='./down.do?seq=7&file_seq=1'>a.pdf</a>")
        parsed = mofa.parse_article(
            page, VIEW_URL, fetched_url="https://mirror.example.org/m/eng/brd/m_5676/view.do?seq=7"
        )
        assert [a.url for a in parsed.attachments] == [
            "https://mirror.example.org/m/eng/brd/m_5676/down.do?seq=7&file_seq=1"
        ]

    def test_malformed_ipv6_attachment_costs_only_itself(self) -> None:
        page = article(
            "T",
            body="<a href='http://[::1/down.do?seq=7'>bad</a><a href='down.do?seq=7&f=2'>ok</a>",
        )
        parsed = mofa.parse_article(page, VIEW_URL)
        assert [a.name for a in parsed.attachments] == ["ok"]


class TestDeeplyNestedMarkup:
    """Thousands of nested elements (broken or hostile markup) are read, not a RecursionError."""

    DEPTH = 5000

    def test_article_body(self) -> None:
        body = "<div><b>" * self.DEPTH + "1. Deep text." + "</b></div>" * self.DEPTH
        assert mofa.parse_article(article("T", body=body), VIEW_URL).body == "1. Deep text."

    def test_listing_title(self) -> None:
        title = "<b>" * self.DEPTH + "Deep Title" + "</b>" * self.DEPTH
        page = listing(row("8", "x").replace(">x<", f">{title}<"), row("7", "Good"))
        entries = mofa.parse_listing(page, LIST_URL).entries
        assert [(e.seq, e.title) for e in entries] == [(8, "Deep Title"), (7, "Good")]

    def test_feed_body(self) -> None:
        nested = "&lt;div&gt;" * self.DEPTH + "Deep"
        data = feed(feed_item("8").replace("<description>Body 8", f"<description>{nested}"))
        assert rss.parse_feed(data, FEED_URL).entries[0].body == "Deep"


def test_unforeseen_failures_leave_the_parsers_as_parse_errors() -> None:
    """The parsers' contract: whatever goes wrong inside, only ParseError comes out."""

    @mofa.parse_boundary
    def broken(markup: str, page_url: str) -> None:
        raise OverflowError("date value out of range")

    with pytest.raises(ParseError, match=r"x\.html: unreadable page \(OverflowError: date value"):
        broken("<p>", "x.html")
