"""Parsing of the ministry's listing and article pages, canonical URLs and the text normaliser.

Every recorded page (``tests/data/site``) and every quirk page (``tests/data/parse/quirks``) is
pinned by a golden JSON record; run with ``UPDATE_GOLDEN=1`` to rewrite them, then read the diff.
The tests below the golden test name each quirk of ``MOFA_SITE.md`` explicitly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.errors import ListingEmptyError, ParseError
from monitor.models import Article, Attachment, Listing
from monitor.parse.board import html_to_text, paragraph_text, parse_article, parse_listing
from monitor.parse.urls import canonical_article_url, listing_page_url, parse_article_ref

DATA = Path(__file__).parent / "data"
SITE = DATA / "site"
QUIRKS = DATA / "parse" / "quirks"
GOLDEN = DATA / "parse" / "golden"
ORIGIN = "https://www.mofa.go.kr"
TEST_HOST = "http://127.0.0.1:8123"

EN_LIST = f"{ORIGIN}/eng/brd/m_5676/list.do?page=1"
QUIRK_URLS: dict[str, str] = {
    "listing_pinned_rows": EN_LIST,
    "listing_label_span": EN_LIST,
    "listing_dotted_dates": EN_LIST,
    "listing_header_and_no_seq_rows": EN_LIST,
    "listing_no_posts": EN_LIST,
    "listing_no_table": EN_LIST,
    "listing_korean_m4080": f"{ORIGIN}/www/brd/m_4080/list.do?page=1",
    "listing_briefings_m5679": f"{ORIGIN}/eng/brd/m_5679/list.do?page=1",
    "article_se_contents": f"{ORIGIN}/eng/brd/m_5676/view.do?seq=322297",
    "article_invisible_chars": f"{ORIGIN}/eng/brd/m_5676/view.do?seq=322359&amp;page=1",
    "article_br_in_paragraph": f"{ORIGIN}/eng/brd/m_5676/view.do?seq=322004",
    "article_hard_crlf": f"{ORIGIN}/eng/brd/m_5676/view.do?seq=322013",
    "article_image_only": f"{ORIGIN}/eng/brd/m_5676/view.do?seq=322700",
    "article_empty_body": f"{ORIGIN}/eng/brd/m_5676/view.do?seq=322701",
    "article_attachments": f"{TEST_HOST}/eng/brd/m_5676/view.do?seq=322003",
    "article_korean_m4080": f"{ORIGIN}/www/brd/m_4080/view.do?seq=375001&page=1",
    "article_briefing_m5679": f"{ORIGIN}/eng/brd/m_5679/view.do?seq=320412",
    "article_error_page": f"{ORIGIN}/eng/brd/m_5676/view.do?seq=999999",
    "article_login_wall": f"{ORIGIN}/eng/brd/m_5676/view.do?seq=322002",
}


# --- helpers ---------------------------------------------------------------------------------


def read_page(path: Path) -> str:
    """A page as the fetcher hands it over: decoded text, line endings untouched."""
    return path.read_bytes().decode("utf-8")


def site_page_url(path: Path) -> str:
    """The URL a recorded page was served at: ``list_page2.html`` → ``list.do?page=2``."""
    rel = path.relative_to(SITE)
    folder = rel.parent.as_posix()
    if match := re.fullmatch(r"list_page(\d+)\.html", rel.name):
        return f"{ORIGIN}/{folder}/list.do?page={match[1]}"
    match = re.fullmatch(r"view_seq(\d+)\.html", rel.name)
    assert match, f"unexpected recorded page {rel}"
    return f"{ORIGIN}/{folder}/view.do?seq={match[1]}"


def parse_page(html: str, url: str) -> Listing | Article:
    return parse_listing(html, url) if "list.do" in url else parse_article(html, url)


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


def parse_outcome(html: str, url: str) -> dict[str, Any]:
    """The parsed record, or the error a user would see, as JSON data."""
    try:
        return {"record": to_jsonable(parse_page(html, url))}
    except ParseError as exc:
        return {"error": type(exc).__name__, "message": str(exc)}


def assert_golden(actual: dict[str, Any], golden: Path) -> None:
    """Compare with the golden file; ``UPDATE_GOLDEN=1`` rewrites it instead."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(actual, ensure_ascii=False, indent=2) + "\n", "utf-8")
    assert golden.exists(), f"no golden file {golden}; run with UPDATE_GOLDEN=1 and review it"
    assert actual == json.loads(golden.read_text("utf-8"))


def quirk(name: str) -> tuple[str, str]:
    return read_page(QUIRKS / f"{name}.html"), QUIRK_URLS[name]


SITE_PAGES = sorted(SITE.glob("*/brd/*/*.html"))
CORPUS = [json.loads(line) for line in (DATA / "dev.jsonl").read_text("utf-8").splitlines()]


# --- golden ----------------------------------------------------------------------------------


class TestGolden:
    @pytest.mark.parametrize(
        "path", SITE_PAGES, ids=[p.relative_to(SITE).with_suffix("").as_posix() for p in SITE_PAGES]
    )
    def test_recorded_page(self, path: Path) -> None:
        """Each recorded page parses to its reviewed golden record."""
        golden = GOLDEN / "site" / path.relative_to(SITE).with_suffix(".json")
        assert_golden(parse_outcome(read_page(path), site_page_url(path)), golden)

    @pytest.mark.parametrize("name", sorted(QUIRK_URLS))
    def test_quirk_page(self, name: str) -> None:
        """Each quirk page parses to (or fails with) its reviewed golden outcome."""
        assert_golden(parse_outcome(*quirk(name)), GOLDEN / "quirks" / f"{name}.json")

    def test_every_quirk_page_is_listed(self) -> None:
        """A quirk page added to the folder without a URL would silently go untested."""
        assert {p.stem for p in QUIRKS.glob("*.html")} == set(QUIRK_URLS)


class TestCorpus:
    def test_every_corpus_entry_has_a_recorded_page(self) -> None:
        """The corpus and the recorded site describe the same 25 releases."""
        views = [p for p in SITE_PAGES if p.stem.startswith("view_seq")]
        recorded = {(p.parent.name, int(p.stem.removeprefix("view_seq"))) for p in views}
        assert {(e["board"], e["seq"]) for e in CORPUS} <= recorded

    @pytest.mark.parametrize("entry", CORPUS, ids=[f"{e['board']}-{e['seq']}" for e in CORPUS])
    def test_recorded_article_matches_corpus(self, entry: dict[str, Any]) -> None:
        """Title, date, body and attachment names equal the corpus text once normalised."""
        path = SITE / "eng" / "brd" / entry["board"] / f"view_seq{entry['seq']}.html"
        article = parse_article(read_page(path), site_page_url(path))
        assert (article.board, article.seq) == (entry["board"], entry["seq"])
        assert article.title == paragraph_text(entry["title"])
        assert article.date == dt.date.fromisoformat(entry["date"])
        assert article.body == paragraph_text(entry["body"])
        expected_files = [a["name"] for a in entry.get("attachments", [])]
        assert [a.name for a in article.attachments] == expected_files


# --- listing ---------------------------------------------------------------------------------


def listing_html(rows: str, extra: str = "") -> str:
    return f"<html><body>{extra}<table><tbody>{rows}</tbody></table></body></html>"


class TestListing:
    def test_recorded_first_page(self) -> None:
        """Ten rows newest first, the total, the file icon and canonical URLs."""
        listing = parse_listing(read_page(SITE / "eng/brd/m_5676/list_page1.html"), EN_LIST)
        assert listing.total == 24
        assert [e.seq for e in listing.entries][:3] == [323319, 323320, 323318]
        assert [e.seq for e in listing.entries if e.has_attachment] == [322640]
        first = listing.entries[0]
        assert first.date == dt.date(2026, 7, 14)
        assert first.url == f"{ORIGIN}/eng/brd/m_5676/view.do?seq=323319"
        assert first.body is None

    def test_pinned_rows_are_kept_once_in_first_position(self) -> None:
        """Pinned notices repeat further down; each seq appears once, where it first appears."""
        listing = parse_listing(*quirk("listing_pinned_rows"))
        assert [e.seq for e in listing.entries] == [322640, 322555, 322676, 322600]
        assert listing.total == 1234

    def test_label_before_title_is_dropped(self) -> None:
        """``<span class="new">``, icons and ``.label`` badges are not part of the title."""
        titles = [e.title for e in parse_listing(*quirk("listing_label_span")).entries]
        assert titles == [
            "Korean Government Provides Additional Humanitarian Assistance to Venezuela "
            "Following Earthquake",
            "Korean Government Provides Humanitarian Assistance to Venezuela Following Earthquake",
            "Kim Hee-sang, Former Deputy Minister for Economic Affairs, Appointed as Korea’s New "
            "G20 Sherpa",
        ]

    def test_dotted_dates_and_a_date_inside_the_title(self) -> None:
        """``2023.10.20`` is a date; a date quoted in the title is not the row's date."""
        entries = parse_listing(*quirk("listing_dotted_dates")).entries
        assert [e.date for e in entries] == [dt.date(2023, 10, 20), dt.date(2023, 10, 8)]

    def test_rows_without_seq_are_skipped(self) -> None:
        """Header rows inside tbody and rows linking elsewhere are not posts."""
        entries = parse_listing(*quirk("listing_header_and_no_seq_rows")).entries
        assert [(e.seq, e.has_attachment) for e in entries] == [(322004, False), (322002, False)]

    def test_no_posts_row_is_an_alarm(self) -> None:
        """A 200 listing without posts raises, saying what the page showed."""
        with pytest.raises(ListingEmptyError, match=r"none links a post.*total=0"):
            parse_listing(*quirk("listing_no_posts"))

    def test_no_table_is_an_alarm(self) -> None:
        """A page without the listing table means the site changed."""
        with pytest.raises(ListingEmptyError, match=r"no listing table"):
            parse_listing(*quirk("listing_no_table"))

    def test_korean_board(self) -> None:
        """``m_4080``: seq in ``href`` (with ``&amp;`` and even ``&amp;amp;``), ``/www/`` URLs."""
        listing = parse_listing(*quirk("listing_korean_m4080"))
        assert listing.total == 12345
        assert [(e.seq, e.title, e.has_attachment) for e in listing.entries] == [
            (375001, "외교부 대변인 논평", True),
            (375000, "한-미 한반도정책 국장 협의 개최", False),
        ]
        assert listing.entries[0].url == f"{ORIGIN}/www/brd/m_4080/view.do?seq=375001"
        assert listing.entries[0].date == dt.date(2024, 7, 23)

    def test_briefings_board_without_tbody(self) -> None:
        """``m_5679`` rows straight under ``<table>``; ``f_view("N")`` with double quotes."""
        listing = parse_listing(*quirk("listing_briefings_m5679"))
        assert [e.seq for e in listing.entries] == [320412, 320409]
        assert {e.board for e in listing.entries} == {"m_5679"}
        assert listing.entries[0].url == f"{ORIGIN}/eng/brd/m_5679/view.do?seq=320412"

    def test_speeches_board(self) -> None:
        """The recorded ``m_5689`` listing: board taken from the page URL."""
        url = f"{ORIGIN}/eng/brd/m_5689/list.do?page=1"
        listing = parse_listing(read_page(SITE / "eng/brd/m_5689/list_page1.html"), url)
        assert [(e.board, e.seq, e.date) for e in listing.entries] == [
            ("m_5689", 319645, dt.date(2024, 9, 15))
        ]

    @pytest.mark.parametrize(
        ("link", "seq"),
        [
            pytest.param("""<a href="#none" onclick="f_view('1');">T</a>""", 1, id="onclick"),
            pytest.param("""<a onclick='f_view("2")'>T</a>""", 2, id="onclick-double-quotes"),
            pytest.param("""<a onclick="f_view( '3' )">T</a>""", 3, id="onclick-spaces"),
            pytest.param('<a href="./view.do?seq=4&page=1">T</a>', 4, id="href"),
            pytest.param('<a href="view.do?page=1&amp;seq=5">T</a>', 5, id="href-amp"),
            pytest.param('<a href="view.do?page=1&amp;amp;seq=6">T</a>', 6, id="href-amp-amp"),
        ],
    )
    def test_seq_sources(self, link: str, seq: int) -> None:
        """The seq comes from ``f_view('N')`` or from a ``view.do?seq=N`` href."""
        row = f"<tr><td>{link}</td><td>2024-01-02</td></tr>"
        assert parse_listing(listing_html(row), EN_LIST).entries[0].seq == seq

    def test_download_link_is_not_a_post(self) -> None:
        """``down.do?seq=`` in a row names a file, not an article."""
        row = '<tr><td><a href="./down.do?brd_id=m_5676&seq=7">file</a></td></tr>'
        with pytest.raises(ListingEmptyError):
            parse_listing(listing_html(row), EN_LIST)

    @pytest.mark.parametrize(
        ("shown", "total"),
        [
            pytest.param('<div class="board_total">Total <strong>1,234</strong></div>', 1234,
                         id="total-strong"),
            pytest.param('<p class="total">총 <b>1,234</b>건</p>', 1234, id="korean-chong"),
            pytest.param("<p>전체 56건</p>", 56, id="korean-jeonche-no-class"),
            pytest.param('<span class="totalCount">Total : 7 posts</span>', 7, id="colon"),
            pytest.param("<p>Press Releases</p>", None, id="not-shown"),
        ],
    )  # fmt: skip
    def test_total(self, shown: str, total: int | None) -> None:
        """The board's total as the page shows it, in English or Korean; None if absent."""
        row = """<tr><td><a onclick="f_view('1')">T</a></td></tr>"""
        assert parse_listing(listing_html(row, shown), EN_LIST).total == total

    @pytest.mark.parametrize(
        "text",
        [
            pytest.param("", id="empty"),
            pytest.param("Service temporarily unavailable", id="plain-text"),
            pytest.param('{"error": "busy"}', id="json"),
            pytest.param((DATA / "rss/press_releases_brdId302.xml").read_text("utf-8"), id="feed"),
            pytest.param(read_page(SITE / "eng/brd/m_5676/view_seq322002.html"), id="article"),
        ],
    )
    def test_not_a_listing(self, text: str) -> None:
        """Input that is plainly not a listing page is a ParseError, not an empty listing."""
        with pytest.raises(ParseError) as info:
            parse_listing(text, EN_LIST)
        assert type(info.value) is ParseError

    def test_page_url_must_name_the_board(self) -> None:
        """The board id comes from the URL; without it there is no identity."""
        row = """<tr><td><a onclick="f_view('1')">T</a></td></tr>"""
        with pytest.raises(ParseError, match=r"names no board"):
            parse_listing(listing_html(row), f"{ORIGIN}/list.do")


# --- article ---------------------------------------------------------------------------------


class TestArticle:
    def test_se_contents_wrapper_and_dotted_date(self) -> None:
        """Only the editor's ``.se-contents`` is the body; its toolbar is not."""
        article = parse_article(*quirk("article_se_contents"))
        assert article.date == dt.date(2023, 10, 8)
        assert article.body.splitlines()[0].startswith("1. The Korean government strongly")
        assert len(article.body.splitlines()) == 2
        assert "Share" not in article.body

    def test_invisible_characters(self) -> None:
        """BOM, NBSP, U+FEFF and U+200B never reach title or body."""
        article = parse_article(*quirk("article_invisible_chars"))
        assert article.title == (
            "MOFA Spokesperson’s Statement on the Agreement between Israel and Hamas"
        )
        assert article.body == (
            "1. The Korean government welcomes the agreement between Israel and Hamas on the "
            "release of hostages.\n"
            "2. The Korean government hopes that this agreement will lead to the release of all "
            "hostages.\n"
            "/END/"
        )
        assert article.seq == 322359

    def test_br_inside_paragraph_is_a_space(self) -> None:
        """A ``<br>`` wraps a line inside a paragraph; ``<p>`` and ``<li>`` start new lines."""
        article = parse_article(*quirk("article_br_in_paragraph"))
        assert article.title == "Korea to Provide Humanitarian Assistance to People of Ukraine"
        assert article.body.splitlines() == [
            "1. The Korean government has decided to provide US$10 million in humanitarian "
            "assistance to the people of Ukraine.",
            "° The assistance will be provided through international organizations.",
            "- medical supplies",
            "- food",
            "2. The government will continue to monitor the situation.",
        ]

    def test_hard_line_breaks_inside_sentences(self) -> None:
        """``\\r\\n`` inside a paragraph is a space; loose text between blocks is a paragraph."""
        article = parse_article(*quirk("article_hard_crlf"))
        assert article.title == "Korea to Send Emergency Medical Supplies to Ukraine"
        assert "\r" not in article.body
        assert article.body.splitlines()[1:] == [
            "° The 40-ton medical supplies include bioprotection suits.",
            "Text typed straight into the editor, without a paragraph. It continues after a "
            "line break.",
            "3. The Ministry of Foreign Affairs is working closely with the Ukrainian Embassy.",
        ]

    def test_image_only_post(self) -> None:
        """No text but images: kept with an empty body and flagged."""
        article = parse_article(*quirk("article_image_only"))
        assert (article.body, article.image_only) == ("", True)
        assert article.title == "[Card News] REAIM Summit 2024"

    def test_empty_body_without_images_is_not_image_only(self) -> None:
        """An empty body is kept, but only images make a post image-only."""
        article = parse_article(*quirk("article_empty_body"))
        assert (article.body, article.image_only) == ("", False)

    def test_attachments(self) -> None:
        """Every ``down.do`` link in the detail area, once, named, resolved on the page's host."""
        article = parse_article(*quirk("article_attachments"))
        base = f"{TEST_HOST}/eng/brd/m_5676/down.do?brd_id=m_5676&seq=322003&data_tp=A&file_seq="
        assert article.attachments == (
            Attachment("list of items (xlsx)", f"{base}3"),
            Attachment("Press Release (English).pdf", f"{base}1"),
            Attachment("보도자료 (국문).hwp", f"{base}2"),
        )
        assert article.url == f"{TEST_HOST}/eng/brd/m_5676/view.do?seq=322003"

    def test_korean_board_with_jakseongil_label(self) -> None:
        """``m_4080``: the date follows ``작성일``, not the first date-like text."""
        article = parse_article(*quirk("article_korean_m4080"))
        assert (article.board, article.seq) == ("m_4080", 375001)
        assert article.date == dt.date(2024, 7, 23)
        assert article.url == f"{ORIGIN}/www/brd/m_4080/view.do?seq=375001"
        assert article.body.endswith("협력해 나갈 것입니다. /끝/")

    def test_briefing_with_loose_text_and_lists(self) -> None:
        """``m_5679``: text outside paragraphs, ``<div>`` blocks and list items are lines."""
        article = parse_article(*quirk("article_briefing_m5679"))
        lines = article.body.splitlines()
        assert lines[:3] == [
            "Opening remarks",
            "1. North Korea",
            "Q: Could you comment on the recent balloon launches? A: The government strongly "
            "condemns them.",
        ]
        assert "A: No casualties have been reported." in lines

    @pytest.mark.parametrize("name", ["article_error_page", "article_login_wall"])
    def test_not_an_article(self, name: str) -> None:
        """Error pages and login walls raise instead of becoming empty releases."""
        with pytest.raises(ParseError, match=r"not an article page"):
            parse_article(*quirk(name))

    def test_missing_body_is_an_error(self) -> None:
        """A head without ``.bo_con`` means the page layout changed."""
        html = '<div class="board_detail"><div class="bo_head"><h2>T</h2></div></div>'
        with pytest.raises(ParseError, match=r"no body"):
            parse_article(html, f"{ORIGIN}/eng/brd/m_5676/view.do?seq=1")

    def test_page_url_must_name_the_seq(self) -> None:
        """Identity comes from the URL: no seq, no article."""
        html, _ = quirk("article_se_contents")
        with pytest.raises(ParseError, match=r"names no article"):
            parse_article(html, f"{ORIGIN}/eng/brd/m_5676/view.do")

    def test_date_without_label_ignores_the_title(self) -> None:
        """Without a label the first date outside the title is taken."""
        html = (
            '<div class="board_detail"><div class="bo_head"><h2>Talks of 2024-01-01</h2>'
            "<p>2024.02.03</p></div><div class='bo_con'><p>x</p></div></div>"
        )
        article = parse_article(html, f"{ORIGIN}/eng/brd/m_5676/view.do?seq=1")
        assert article.date == dt.date(2024, 2, 3)


# --- URLs ------------------------------------------------------------------------------------


class TestUrls:
    @pytest.mark.parametrize(
        ("source", "board", "expected"),
        [
            pytest.param(EN_LIST, "m_5676", f"{ORIGIN}/eng/brd/m_5676/view.do?seq=9", id="live"),
            pytest.param(f"{TEST_HOST}/eng/brd/m_5676/list.do", "m_5676",
                         f"{TEST_HOST}/eng/brd/m_5676/view.do?seq=9", id="test-server"),
            pytest.param("http://www.mofa.go.kr/www/brd/rss.do?brdId=302", "m_5676",
                         "http://www.mofa.go.kr/eng/brd/m_5676/view.do?seq=9", id="feed-www-to-eng"),
            pytest.param("http://www.mofa.go.kr:443/www/brd/m_5676/list.do", "m_5676",
                         "https://www.mofa.go.kr/www/brd/m_5676/view.do?seq=9", id="port-443"),
            pytest.param(f"{ORIGIN}/www/brd/m_4080/list.do", "m_4080",
                         f"{ORIGIN}/www/brd/m_4080/view.do?seq=9", id="korean"),
            pytest.param(f"{ORIGIN}/www/brd/rss.do?brdId=235", "m_4080",
                         f"{ORIGIN}/www/brd/m_4080/view.do?seq=9", id="korean-feed"),
            pytest.param(f"{TEST_HOST}/mirror/eng/brd/m_5679/list.do", "m_5679",
                         f"{TEST_HOST}/mirror/eng/brd/m_5679/view.do?seq=9", id="mirror-prefix"),
            pytest.param(f"{ORIGIN}/www/brd/m_9999/list.do", "m_9999",
                         f"{ORIGIN}/www/brd/m_9999/view.do?seq=9", id="unknown-board"),
            pytest.param(f"{TEST_HOST}/rss_brdId302.xml", "m_5676",
                         f"{TEST_HOST}/eng/brd/m_5676/view.do?seq=9", id="flat-feed-path"),
        ],
    )  # fmt: skip
    def test_canonical_article_url(self, source: str, board: str, expected: str) -> None:
        """Built on the configured source's scheme and host, with the board's site."""
        assert canonical_article_url(source, board, 9) == expected

    @pytest.mark.parametrize(
        ("url", "ref"),
        [
            pytest.param(f"{ORIGIN}/eng/brd/m_5676/view.do?seq=322002", ("m_5676", 322002),
                         id="canonical"),
            pytest.param("http://www.mofa.go.kr:443/www/brd/m_5676/view.do?seq=1", ("m_5676", 1),
                         id="feed-443-www"),
            pytest.param("https://overseas.mofa.go.kr/eng/brd/m_5679/view.do?page=2&seq=3",
                         ("m_5679", 3), id="other-host"),
            pytest.param("/www/brd/m_4080/view.do?srchFr=&amp;seq=4&amp;page=1", ("m_4080", 4),
                         id="relative-amp"),
            pytest.param(" http://mofa.go.kr/eng/brd/m_5676/view.do;jsessionid=X?seq=5 ",
                         ("m_5676", 5), id="jsessionid-spaces"),
            pytest.param(f"{ORIGIN}/eng/brd/m_5676/view.do?seq=8#top", ("m_5676", 8),
                         id="fragment"),
            pytest.param(f"{ORIGIN}/eng/brd/m_5676/view.do?seq=9&amp;page=2", ("m_5676", 9),
                         id="amp-after"),
            pytest.param(f"{ORIGIN}/eng/brd/m_5676/view.do?seq=12a", None, id="not-digits"),
            pytest.param(f"{ORIGIN}/eng/brd/m_5676/view.do?seq=12a&seq=13", None,
                         id="first-value-counts"),
            pytest.param(f"{ORIGIN}/eng/brd/m_5676/view.do?seq=12\u00a0", None,
                         id="non-ascii-space"),
            pytest.param(f"{ORIGIN}/eng/brd/m_5676/view.do?seq=\u0661\u0662", None,
                         id="non-ascii-digits"),
            pytest.param(f"{ORIGIN}/eng/brd/m_5676/view.do?seq=12.0&page=1", None,
                         id="not-an-integer"),
            pytest.param(f"{ORIGIN}/eng/brd/m_5676/down.do?brd_id=m_5676&seq=6", None,
                         id="download"),
            pytest.param(f"{ORIGIN}/eng/brd/m_5676/list.do?page=1", None, id="listing"),
            pytest.param(f"{ORIGIN}/eng/view.do?seq=7", None, id="no-board"),
            pytest.param("", None, id="empty"),
        ],
    )  # fmt: skip
    def test_parse_article_ref(self, url: str, ref: tuple[str, int] | None) -> None:
        """``(board, seq)`` from every article URL form, None for anything else."""
        assert parse_article_ref(url) == ref

    @pytest.mark.parametrize(
        ("source", "page", "dates", "expected"),
        [
            pytest.param(EN_LIST, 3, None, f"{ORIGIN}/eng/brd/m_5676/list.do?page=3",
                         id="replace-page"),
            pytest.param(f"{ORIGIN}/eng/brd/m_5676/list.do", 1,
                         (dt.date(2024, 1, 5), dt.date(2024, 2, 1)),
                         f"{ORIGIN}/eng/brd/m_5676/list.do?page=1&srchFr=20240105&srchTo=20240201",
                         id="dates"),
            pytest.param(f"{TEST_HOST}/eng/brd/m_5676/list.do?srchTp=0&amp;srchWord=&page=9", 2,
                         None, f"{TEST_HOST}/eng/brd/m_5676/list.do?srchTp=0&srchWord=&page=2",
                         id="keep-other-params"),
        ],
    )  # fmt: skip
    def test_listing_page_url(
        self, source: str, page: int, dates: tuple[dt.date, dt.date] | None, expected: str
    ) -> None:
        """``page`` and the date filter are set; other parameters keep their order."""
        assert listing_page_url(source, page, *(dates or ())) == expected

    def test_listing_pages_are_one_based(self) -> None:
        """Page 0 is a caller's bug, not a request to send."""
        with pytest.raises(ValueError, match="1-based"):
            listing_page_url(EN_LIST, 0)


# --- text normaliser -------------------------------------------------------------------------

FORBIDDEN = ("\xa0", "\u200b", "\ufeff", "\r")
texty = st.text(
    alphabet=st.sampled_from(list("ab 1.\n\r\t\xa0\u200b\ufeff\u3000°※한<>/&;p"))
    | st.characters(exclude_categories=("Cs",))  # decoded text has no lone surrogates
)


class TestNormaliser:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            pytest.param("a\r\nb", "a b", id="crlf-is-space"),
            pytest.param("a\rb", "a b", id="cr-is-space"),
            pytest.param("a\n\n b \n", "a\nb", id="paragraphs"),
            pytest.param("\ufeffa\xa0\xa0b\u200bc", "a bc", id="invisible"),
            pytest.param(" \t\u3000 ", "", id="blank"),
        ],
    )
    def test_examples(self, raw: str, expected: str) -> None:
        """Line breaks inside text are spaces, ``\\n`` separates paragraphs."""
        assert paragraph_text(raw) == expected

    @given(texty)
    def test_idempotent_and_clean(self, raw: str) -> None:
        """Normalising twice changes nothing and no invisible or CR character survives."""
        once = paragraph_text(raw)
        assert paragraph_text(once) == once
        assert not any(char in once for char in FORBIDDEN)
        assert all(line and line == line.strip() for line in once.split("\n") if once)

    @given(texty)
    def test_html_to_text_output_is_normalised(self, markup: str) -> None:
        """Any fragment, however broken, gives already-normalised text and never raises."""
        text = html_to_text(markup)
        assert paragraph_text(text) == text
