"""FROZEN: the board-page parser as it was before issue 10 (bs4 + ``html.parser``), for the bench.

This is a verbatim copy of ``monitor/parse/board.py`` as of the commit before the parser moved
to lxml, kept so that ``python -m bench.perf --only parse`` can measure the product's parser
against *today's* in one run (the issue's target: parse CPU per page ≤ 1/4 of it), and so that
tests can compare the two parsers' records page by page. Only the imports changed: the
product's helpers come through :mod:`bench.perf._product`. Never used by the product; do not
"fix" or modernise it — it is the yardstick.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from typing import ParamSpec, TypeVar
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

from bench.perf._product import (
    Article,
    Attachment,
    Listing,
    ListingEmptyError,
    ListingEntry,
    ParseError,
    board_from_url,
    canonical_article_url,
    chars,
    parse_seq,
    seq_from_url,
)

logger = logging.getLogger(__name__)

__all__ = [
    "clean_line",
    "clean_title",
    "html_to_text",
    "paragraph_text",
    "parse_article",
    "parse_boundary",
    "parse_listing",
]

# --- the parsers' contract -------------------------------------------------------------------

_P = ParamSpec("_P")
_R = TypeVar("_R")


def parse_boundary(parser: Callable[_P, _R]) -> Callable[_P, _R]:
    """Let only the ParseError family out of ``parser``: pages are hostile input.

    A failure the parser did not foresee (a structure no rule expected, a library's own error)
    becomes a ParseError naming the page and the error, with the traceback logged, so the page
    fails alone — as one article or one source poll — instead of crashing the caller.
    """

    @functools.wraps(parser)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return parser(*args, **kwargs)
        except ParseError:
            raise
        except Exception as exc:
            where = args[1] if len(args) > 1 else kwargs.get("page_url", kwargs.get("source_url"))
            logger.warning("%s: unexpected parser failure", where, exc_info=True)
            raise ParseError(f"{where}: unreadable page ({type(exc).__name__}: {exc})") from exc

    return guarded


# --- text ------------------------------------------------------------------------------------

# BOM, zero-width space, word joiner (the joiners shape scripts and emoji: kept), and C0/C1
# controls other than whitespace (NUL, ESC, BEL, DEL…): never text, dropped wherever found.
_INVISIBLE = chars.translate_table(
    (chars.ZERO_WIDTH - chars.JOINERS) | {c for c in chars.C0_C1 if not chr(c).isspace()}
)
_SPACES_RE = re.compile(r"\s+")  # str-mode \s covers NBSP, U+3000 and the other Unicode spaces
# A character reference left after the page's own unescaping: the CMS escaped the text twice.
_LEFTOVER_REF_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_SOURCE_NEWLINES_RE = re.compile(r"[\r\n]+")
_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "hr", "center"}
    | {"table", "thead", "tbody", "tr", "td", "th"}
    | {"h1", "h2", "h3", "h4", "h5", "h6"}
    | {"section", "article", "header", "footer", "address", "figure", "figcaption"}
)
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title"})


def clean_line(text: str) -> str:
    """One line of text: invisible characters dropped, every run of whitespace one space."""
    return _SPACES_RE.sub(" ", text.translate(_INVISIBLE)).strip()


def clean_title(text: str) -> str:
    """A title on one line, with a second layer of HTML escaping undone (``&#39;`` → ``'``).

    The site's CMS (and some feeds) escape titles twice, so after the HTML or XML parser has
    decoded one layer, references such as ``&#39;``, ``&quot;`` or ``&amp;`` remain. Only
    complete references (with ``;``) are decoded, once, so a title that merely contains an
    ampersand ("R&D") is unchanged. Board and feed paths both use this, so they agree.
    """
    if _LEFTOVER_REF_RE.search(text):
        text = html.unescape(text)
    return clean_line(text)


def paragraph_text(text: str) -> str:
    """Plain text with one paragraph per line; idempotent. (Layout of stored text, not the
    matching normaliser: that is :func:`monitor.classify.themes.normalize_text`.)

    ``\\r\\n`` and ``\\r`` are hard breaks *inside* sentences on this site, so they become
    spaces; ``\\n`` separates paragraphs. Empty paragraphs are dropped.
    """
    text = text.replace("\r\n", " ").replace("\r", " ")
    lines = (clean_line(line) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _text_parts(node: Tag) -> Iterator[str]:
    """Text of ``node`` with a ``\n`` around every block; newlines of the source are spaces.

    Walks the tree with an explicit stack, not recursion, so a page nested thousands of levels
    deep (hostile or broken markup) is read like any other instead of overflowing the stack.
    """
    stack: list[PageElement | str] = [*reversed(list(node.children))]
    while stack:
        child = stack.pop()
        if isinstance(child, str) and not isinstance(child, NavigableString):
            yield child  # a block's closing newline, queued below
        elif isinstance(child, PreformattedString):  # comments, CDATA markers, doctypes
            continue
        elif isinstance(child, NavigableString):
            yield _SOURCE_NEWLINES_RE.sub(" ", str(child))
        elif isinstance(child, Tag) and child.name not in _SKIP_TAGS:
            if child.name == "br":  # a <br> inside a paragraph is a soft wrap, not a paragraph
                yield " "
            elif child.name in _BLOCK_TAGS:
                yield "\n"
                stack.append("\n")
                stack.extend(reversed(list(child.children)))
            else:
                stack.extend(reversed(list(child.children)))


def html_to_text(markup: Tag | str) -> str:
    """Readable plain text of an HTML fragment: each block (``p``, ``div``, ``li``…) one line."""
    node = BeautifulSoup(markup, "html.parser") if isinstance(markup, str) else markup
    return paragraph_text("".join(_text_parts(node)))


def _inline_text(node: Tag) -> str:
    """Text of a title-like element on one line."""
    return html_to_text(node).replace("\n", " ")


# --- dates -----------------------------------------------------------------------------------

_DATE_RE = re.compile(
    r"(?<![0-9])([0-9]{4})\s?[-./]\s?([0-9]{1,2})\s?[-./]\s?([0-9]{1,2})(?![0-9])"
)
_LABELLED_DATE_RE = re.compile(
    r"(?:Date|작성일|등록일)\s*[:：]?\s*([0-9]{4})\s?[-./]\s?([0-9]{1,2})\s?[-./]\s?([0-9]{1,2})(?![0-9])",
    re.IGNORECASE,
)


#: Dates outside these years are not the ministry's (founded 1948): a typo or a poisoned page,
#: and far-future years overflow date arithmetic downstream.
MIN_YEAR, MAX_YEAR = 1948, 2199


def plausible_date(day: dt.date) -> bool:
    """Whether ``day`` can be a release date (:data:`MIN_YEAR` to :data:`MAX_YEAR`)."""
    return MIN_YEAR <= day.year <= MAX_YEAR


def _valid_dates(matches: Iterable[re.Match[str]]) -> Iterator[dt.date]:
    for match in matches:
        try:
            day = dt.date(*(int(group) for group in match.groups()))
        except ValueError:
            continue
        if plausible_date(day):
            yield day


def find_date(text: str) -> dt.date | None:
    """The first valid ``YYYY-MM-DD`` or ``YYYY.MM.DD`` date in ``text``, or None."""
    return next(_valid_dates(_DATE_RE.finditer(text)), None)


# --- listing ---------------------------------------------------------------------------------

_F_VIEW_RE = re.compile(r"f_view\(\s*['\"]([0-9]+)['\"]")
_TOTAL_RE = re.compile(
    r"(?:total|전체|총)\s*(?:게시물|게시글|건수)?\s*[:：]?\s*([0-9][0-9,]*)", re.IGNORECASE
)
#: A post count with more digits than this is not one (and huge ones hit int()'s digit limit).
_MAX_TOTAL_DIGITS = 12
_LABEL_CLASSES = frozenset({"new", "label", "ico", "icon", "badge", "notice", "hot", "blind"})
_FILE_HINT_RE = re.compile(r"file|첨부|attach", re.IGNORECASE)
_FEED_START_RE = re.compile(r"\ufeff?\s*(?:<\?xml[^>]*>\s*)?<(?:rss|feed|rdf:RDF)\b", re.IGNORECASE)


def _link_seq(anchor: Tag) -> int | None:
    """The seq an anchor opens: ``onclick="f_view('N')"`` first, else ``href=…view.do?seq=N``."""
    match = _F_VIEW_RE.search(str(anchor.get("onclick") or ""))
    if match:
        return parse_seq(match.group(1))
    href = str(anchor.get("href") or "")
    return seq_from_url(href) if "view.do" in href else None


def _title_link(row: Tag) -> tuple[Tag, int] | None:
    for anchor in row.find_all("a"):
        seq = _link_seq(anchor)
        if seq is not None:
            return anchor, seq
    return None


def _article_link(row: Tag) -> str | None:
    """The ``onclick``/``href`` of an anchor that opens an article (``f_view(``, ``view.do``)."""
    for anchor in row.find_all("a"):
        for value in (str(anchor.get("onclick") or ""), str(anchor.get("href") or "")):
            if "f_view" in value or "view.do" in value:
                return value
    return None


def _is_label(node: PageElement) -> bool:
    if not isinstance(node, Tag):
        return False
    return node.name == "img" or bool(_LABEL_CLASSES & set(node.get("class") or ()))


def _title_text(anchor: Tag) -> str:
    """The anchor's text without labels (``<span class="new">``) placed before the title."""
    children = [child for child in anchor.children if not _is_label(child)]
    first_text = next(
        (i for i, c in enumerate(children) if isinstance(c, NavigableString) and c.strip()), 0
    )
    parts = (
        _inline_text(child) if isinstance(child, Tag) else str(child)
        for child in children[first_text:]
        if not isinstance(child, PreformattedString)
    )
    return clean_title("".join(parts))


def _row_date(row: Tag, anchor: Tag) -> dt.date | None:
    """The row's date, looked for outside the title cell first (a title may quote a date)."""
    title_cell = anchor.find_parent(["td", "th"])
    cells = [cell for cell in row.find_all(["td", "th"]) if cell is not title_cell]
    found = find_date(" ".join(cell.get_text(" ") for cell in cells))
    return found or find_date(row.get_text(" "))


def _has_attachment(row: Tag) -> bool:
    """A file icon (or link, or text other than "-") in the row's file column."""
    for cell in row.find_all("td", class_=_FILE_HINT_RE):
        if cell.find(["img", "a", "i"]) or cell.get_text(strip=True) not in ("", "-"):
            return True
    return any(
        _FILE_HINT_RE.search(f"{img.get('alt', '')} {img.get('src', '')}")
        for img in row.find_all("img")
    ) or bool(row.select('a[href*="down.do"]'))


def _parse_row(row: Tag, board: str, page_url: str) -> ListingEntry | None:
    link = _title_link(row)
    if link is None:  # header rows, "no posts" rows — or a post whose seq cannot be read
        suspect = _article_link(row)
        if suspect is not None:
            raise ValueError(f"its link has no plain-number seq ({suspect[:120]!r})")
        return None
    anchor, seq = link
    return ListingEntry(
        board=board,
        seq=seq,
        title=_title_text(anchor),
        date=_row_date(row, anchor),
        url=canonical_article_url(page_url, board, seq),
        has_attachment=_has_attachment(row),
    )


def _dedupe(entries: Iterable[ListingEntry | None]) -> tuple[ListingEntry, ...]:
    """Entries in page order, each seq once: pinned notices reappear further down the list."""
    seen: set[int] = set()
    kept: list[ListingEntry] = []
    for entry in entries:
        if entry is not None and entry.seq not in seen:
            seen.add(entry.seq)
            kept.append(entry)
    return tuple(kept)


def _find_total(soup: BeautifulSoup) -> int | None:
    """The board's post count as the page shows it ("Total 1,234", "총 1,234건"), or None."""
    boxes = soup.select('[class*="total"]') or [soup.body or soup]
    for box in boxes:
        match = _TOTAL_RE.search(box.get_text(" "))
        if match:
            digits = match.group(1).replace(",", "")
            if len(digits) > _MAX_TOTAL_DIGITS:
                logger.warning("ignoring an absurd post count of %d digits", len(digits))
                return None
            return int(digits)
    return None


def _soup(markup: str, what: str) -> BeautifulSoup:
    """Parse HTML, refusing input that is plainly not an HTML page (empty, text, XML feed)."""
    if not markup.strip() or "<" not in markup:
        raise ParseError(f"{what}: expected an HTML page, got {len(markup)} characters of text")
    if _FEED_START_RE.match(markup):
        raise ParseError(f"{what}: expected an HTML page, got a feed (use the rss source kind)")
    soup = BeautifulSoup(markup.lstrip("\ufeff"), "html.parser")
    if soup.find(True) is None:
        raise ParseError(f"{what}: expected an HTML page, found no elements")
    return soup


def _board(page_url: str) -> str:
    board = board_from_url(page_url)
    if board is None:
        raise ParseError(f"{page_url}: URL names no board (expected /brd/m_NNNN/ in the path)")
    return board


@parse_boundary
def parse_listing(html: str, page_url: str) -> Listing:
    """Parse one listing page (``list.do``) of a board.

    Raises ListingEmptyError when the page has no table or no row names a post: a 200 listing
    that parses to nothing means the site (or this parser) changed, not that there is no news.
    """
    soup = _soup(html, page_url)
    board = _board(page_url)
    if soup.select_one(".board_detail") is not None and soup.find("table") is None:
        raise ParseError(f"{page_url}: this is an article page, not a listing")
    rows = soup.select("table tbody tr") or soup.select("table tr")
    if not rows:
        raise ListingEmptyError(f"{page_url}: no listing table (table tbody tr) on the page")
    problems: list[str] = []
    entries = _dedupe(_guarded_row(row, board, page_url, number, problems)
                      for number, row in enumerate(rows, start=1))  # fmt: skip
    total = _find_total(soup)
    if not entries:
        raise ListingEmptyError(
            f"{page_url}: {len(rows)} table rows but none links a post "
            f"(f_view('N') or view.do?seq=N); page shows total={total}"
        )
    logger.debug("%s: %d entries, total %s", page_url, len(entries), total)
    return Listing(entries=entries, total=total, problems=tuple(problems))


def _guarded_row(
    row: Tag, board: str, page_url: str, number: int, problems: list[str]
) -> ListingEntry | None:
    """One row parsed, or skipped and reported: a poisoned row must not cost its neighbours."""
    try:
        return _parse_row(row, board, page_url)
    except Exception as exc:  # the item boundary: any failure is that row's alone
        problem = f"{page_url}: row {number} skipped: {type(exc).__name__}: {exc}"[:500]
        logger.warning("%s", problem)
        problems.append(problem)
        return None


# --- article ---------------------------------------------------------------------------------


def _article_date(head: Tag, title: Tag) -> dt.date | None:
    """The date after a ``Date``/``작성일`` label in ``.bo_head``; else any date but the title's."""
    text = clean_line(head.get_text(" "))
    labelled = next(_valid_dates(_LABELLED_DATE_RE.finditer(text)), None)
    if labelled is not None:
        return labelled
    title_text = clean_line(title.get_text(" "))
    return find_date(text.replace(title_text, " ", 1))


def _body_node(detail: Tag, page_url: str) -> Tag:
    body = detail.select_one(".bo_con")
    if body is None:
        raise ParseError(f"{page_url}: article has no body (.bo_con) in .board_detail")
    return body.select_one(".se-contents") or body


def document_base(soup: BeautifulSoup, document_url: str) -> str:
    """The URL relative links resolve against, as a browser computes it (HTML §2.4.1).

    The first ``<base href>`` of the document, itself resolved against the document's URL
    (the one reached after redirects); the document's URL when there is none or it is unusable
    (not http/https, a malformed host).
    """
    base = soup.find("base", href=True)
    if base is None:
        return document_url
    try:
        resolved = urljoin(document_url, str(base["href"]).strip())
        ok = urlsplit(resolved).scheme in ("http", "https") and bool(urlsplit(resolved).netloc)
    except ValueError:
        ok = False
    return resolved if ok else document_url


def _attachments(detail: Tag, base_url: str) -> tuple[Attachment, ...]:
    """Every ``down.do`` link in the detail area, by absolute URL, first non-empty name kept.

    A link that cannot be resolved (a malformed IPv6 host, a non-web scheme) is skipped alone.
    """
    found: dict[str, str] = {}
    for anchor in detail.select('a[href*="down.do"]'):
        try:
            url = urljoin(base_url, str(anchor["href"]).strip())
            usable = urlsplit(url).scheme in ("http", "https") and bool(urlsplit(url).hostname)
        except ValueError:
            usable = False
        if not usable:
            logger.warning("%s: skipping an unusable attachment link %r", base_url, anchor["href"])
            continue
        name = _inline_text(anchor) or str(anchor.get("title") or "").strip()
        if not found.get(url):
            found[url] = name
    return tuple(Attachment(name=name or "attachment", url=url) for url, name in found.items())


def _article_ref(page_url: str) -> tuple[str, int]:
    seq = seq_from_url(page_url)
    if seq is None:
        raise ParseError(f"{page_url}: URL names no article (expected seq=N in the query)")
    return _board(page_url), seq


@parse_boundary
def parse_article(markup: str, page_url: str, *, fetched_url: str | None = None) -> Article:
    """Parse one article page (``view.do?seq=N``); board and seq come from ``page_url``.

    ``fetched_url`` is the URL the page was actually served from (after redirects); relative
    links (attachments) resolve against it and ``<base href>``, as in a browser. It defaults to
    ``page_url``. Raises ParseError when the page is not an article (error page, login wall,
    changed site). An image-only post parses to an empty body with ``image_only=True``.
    """
    soup = _soup(markup, page_url)
    title_node = soup.select_one(".bo_head h2")
    if title_node is None:
        raise ParseError(f"{page_url}: not an article page (no .board_detail .bo_head h2)")
    head = title_node.find_parent(class_="bo_head")
    if head is None:
        raise ParseError(f"{page_url}: the title is outside .bo_head")
    detail = soup.select_one(".board_detail") or head.parent
    if detail is None:
        raise ParseError(f"{page_url}: article has no .board_detail")
    board, seq = _article_ref(page_url)
    body_node = _body_node(detail, page_url)
    body = html_to_text(body_node)
    image_only = not body and body_node.find("img") is not None
    if not body:
        logger.warning("%s: empty article body (image-only: %s)", page_url, image_only)
    return Article(
        board=board,
        seq=seq,
        title=clean_title(_inline_text(title_node)),
        date=_article_date(head, title_node),
        url=canonical_article_url(page_url, board, seq),
        body=body,
        attachments=_attachments(detail, document_base(soup, fetched_url or page_url)),
        image_only=image_only,
    )
