"""Property-based tests of the page parsers: hostile input never escapes as a crash.

Three properties, over arbitrary and mutated listing, article and feed pages:

1. whatever the input, only the project's ParseError family escapes the parsers;
2. one poisoned listing row or feed item (any title, date, link or seq, control characters
   included) never stops its neighbours: every good row is still parsed, with its title;
3. titles come out clean: no C0/C1 control character survives, on any path.
"""

from __future__ import annotations

import html
import random
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.parse import board as mofa
from monitor.parse import feed as rss

DATA = Path(__file__).parent / "data"
LIST_URL = "https://www.mofa.go.kr/eng/brd/m_5676/list.do?page=1"
VIEW_URL = "https://www.mofa.go.kr/eng/brd/m_5676/view.do?seq=322002"
FEED_URL = "http://www.mofa.go.kr/www/brd/rss.do?brdId=302"

SAMPLES = {
    "listing": (DATA / "site/eng/brd/m_5676/list_page1.html").read_bytes(),
    "article": (DATA / "site/eng/brd/m_5676/view_seq322002.html").read_bytes(),
    "feed": (DATA / "rss/press_releases_brdId302.xml").read_bytes(),
}
POISONS = [
    b"\x00",
    b"\x1b[2J",
    b"\x07",
    b"&#0;",
    b"&amp;#39;",
    b"9999-12-31",
    b"Fri, 31 Dec 9999 23:59:59 GMT",
    b"http://[::1/view.do?seq=1",
    b"seq=" + b"9" * 5000,
    b"f_view('" + b"1" * 5000 + b"')",
    b"Total " + b"9" * 5000,
    b"<base href='http://[::1'>",
    b"<base href='javascript:alert(1)'>",
    b"\xff\xfe",
    b"]]>",
    b"<![CDATA[",
    "\u202e".encode(),
]

CONTROL = {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))} - {"\t", "\n", "\r"}


def parse(kind: str, data: bytes) -> object:
    """Parse like the pipeline does: pages as decoded text, feeds as bytes."""
    if kind == "feed":
        return rss.parse_feed(data, FEED_URL)
    text = data.decode("utf-8", errors="replace")
    if kind == "listing":
        return mofa.parse_listing(text, LIST_URL)
    return mofa.parse_article(text, VIEW_URL, fetched_url="http://127.0.0.1:1/x/view.do?seq=1")


def only_parse_errors(kind: str, data: bytes) -> object | None:
    try:
        return parse(kind, data)
    except ParseError:
        return None


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A recorded page with a few random edits: cut, duplicate, insert poison or random bytes."""
    kind = draw(st.sampled_from(sorted(SAMPLES)))
    data = bytearray(SAMPLES[kind])
    rng = random.Random(draw(st.integers(0, 2**32)))
    for _ in range(draw(st.integers(1, 6))):
        where = rng.randrange(len(data) + 1)
        action = draw(st.sampled_from(["cut", "dup", "poison", "bytes", "text"]))
        if action == "cut":
            del data[where : where + rng.randrange(1, 400)]
        elif action == "dup":
            data[where:where] = data[where : where + rng.randrange(1, 400)]
        elif action == "poison":
            data[where:where] = draw(st.sampled_from(POISONS))
        elif action == "bytes":
            data[where:where] = draw(st.binary(max_size=40))
        else:
            data[where:where] = draw(st.text(max_size=40)).encode()
    return kind, bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_pages_raise_only_parse_errors(case: tuple[str, bytes]) -> None:
    kind, data = case
    result = only_parse_errors(kind, data)
    if isinstance(result, mofa.Listing):
        for entry in result.entries:
            assert not CONTROL & set(entry.title)
    elif isinstance(result, mofa.Article):
        assert not CONTROL & set(result.title)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["listing", "article", "feed"]), st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_parse_errors(kind: str, data: bytes) -> None:
    only_parse_errors(kind, data)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["listing", "article", "feed"]), st.text(max_size=2000))
def test_arbitrary_text_raises_only_parse_errors(kind: str, text: str) -> None:
    only_parse_errors(kind, text.encode("utf-8", errors="surrogatepass"))


# -- a bad item never stops its neighbours ----------------------------------------------------

GOOD = [(101, "First Good Release"), (102, "Second Good Release"), (103, "Third Good Release")]
ANY_TEXT = st.text(max_size=120)
EVIL_DATES = st.sampled_from(
    [
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "9999-12-31 23:59:59",
        "0000-00-00",
        "Mon, 1 Jan 0001 00:00:00 +1400",
        "2026-02-30",
        "9" * 5000,
        "",
    ]
)
EVIL_SEQS = st.sampled_from(["9" * 5000, "", "-1", "١٢٣", "1e9", "0x10", "12" * 20])


def feed_item(seq: str, title: str, date: str, link: str | None = None) -> str:
    link = (
        link if link is not None else f"http://www.mofa.go.kr:443/www/brd/m_5676/view.do?seq={seq}"
    )
    return (
        f"<item><title>{xml_escape(title)}</title><link>{xml_escape(link)}</link>"
        f"<description>{xml_escape(title)}</description><pubDate>{xml_escape(date)}</pubDate></item>"
    )


@st.composite
def poisoned_feed_item(draw: st.DrawFn) -> str:
    seq = draw(st.one_of(EVIL_SEQS, st.integers(1000, 10**6).map(str)))
    link = draw(
        st.one_of(
            st.none(),
            ANY_TEXT,
            st.just("http://[::1/www/brd/m_5676/view.do"),
            st.just(f"http://[::1/www/brd/m_5676/view.do?seq={seq}"),
        )
    )
    return feed_item(seq, draw(ANY_TEXT), draw(st.one_of(EVIL_DATES, ANY_TEXT)), link)


@settings(max_examples=300, deadline=None)
@given(poisoned_feed_item(), st.integers(0, len(GOOD)))
def test_a_poisoned_feed_item_never_stops_its_neighbours(poison: str, position: int) -> None:
    items = [feed_item(str(seq), title, "Fri, 26 Jun 2026 08:00:03 GMT") for seq, title in GOOD]
    items.insert(position, poison)
    document = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode("utf-8", errors="surrogatepass")
    listing = rss.parse_feed(document, FEED_URL)
    titles = {e.seq: e.title for e in listing.entries}
    for index, (seq, title) in enumerate(GOOD):
        # Entries are deduplicated by seq, first wins: only a poison placed before a good item
        # could claim its seq (its link text may say "seq=101"); the seq is there regardless.
        assert titles.get(seq) == title or (seq in titles and position <= index)
    for entry in listing.entries:
        assert not CONTROL & set(entry.title)


def listing_row(seq: str, title: str, date: str) -> str:
    return (
        f"<tr><td>1</td><td class='left'><a href='#none' onclick=\"f_view('{html.escape(seq)}');"
        f'return false;">{html.escape(title)}</a></td><td>{html.escape(date)}</td>'
        "<td class='file'>-</td></tr>"
    )


@st.composite
def poisoned_row(draw: st.DrawFn) -> str:
    seq = draw(st.one_of(EVIL_SEQS, st.integers(1000, 10**6).map(str)))
    title = draw(ANY_TEXT)
    raw = draw(st.booleans())
    row = listing_row(seq, title, draw(st.one_of(EVIL_DATES, ANY_TEXT)))
    return row.replace(html.escape(title), title) if raw and title else row  # unescaped too


@settings(max_examples=300, deadline=None)
@given(poisoned_row(), st.integers(0, len(GOOD)))
def test_a_poisoned_listing_row_never_stops_its_neighbours(poison: str, position: int) -> None:
    rows = [listing_row(str(seq), title, "2026-06-26") for seq, title in GOOD]
    rows.insert(position, poison)
    page = (
        "<html><body><div class='board_total'>Total <strong>4</strong></div>"
        f"<table><tbody>{''.join(rows)}</tbody></table></body></html>"
    )
    listing = mofa.parse_listing(page, LIST_URL)
    titles = {e.seq: e.title for e in listing.entries}
    for seq, _ in GOOD:
        assert seq in titles
    for entry in listing.entries:
        assert not CONTROL & set(entry.title)
