"""Parse the ministry's board pages (listing and article) into records.

Pure functions, text in and records out, so the parsing rules can be pinned by golden files and
the quirks documented in ``MOFA_SITE.md`` (pinned rows, label spans, dotted dates, ``.se-contents``
wrappers, invisible characters, hard line breaks, image-only posts) each have one place here.
The HTML-to-text normaliser lives here too and is shared with the feed parser, so a release reads
the same whichever way it was fetched.

Pages are parsed by libxml2 (through lxml), about thirty times cheaper than Beautiful Soup over
Python's ``html.parser``; the rules below walk its tree. Two of libxml2's habits are undone first,
so a page reads as it did when Beautiful Soup built the tree: it stores the C0 controls that XML
forbids as U+FFFD (here they are dropped, or read as spaces where Python calls them whitespace),
and it stops building at 2,048 levels of nesting (such a page, and an article whose title
libxml2 leaves empty, is built by Beautiful Soup instead, into the same kind of tree: see
:func:`_html_root` and :func:`_soup_tree`).
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

from lxml import etree

from monitor import text as chars
from monitor.errors import ListingEmptyError, ParseError
from monitor.models import Article, Attachment, Listing, ListingEntry
from monitor.parse.urls import board_from_url, canonical_article_url, parse_seq, seq_from_url

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
# Never shown as text by a browser. An iframe's (or noembed's, noframes') content is raw text to
# the HTML standard's tokenizer, so libxml2 keeps a fallback like ``<p>No iframes</p>`` as literal
# markup: it is dropped, as a browser that shows the frame does.
_SKIP_TAGS = frozenset(
    {"script", "style", "template", "noscript", "head", "title", "iframe", "noembed", "noframes"}
)


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


# --- the tree ----------------------------------------------------------------------------

#: An element of the page's tree (lxml's; comments and processing instructions are elements too).
Node = etree._Element

# C0 controls XML 1.0 forbids (all but tab, LF, CR): libxml2 stores each as U+FFFD, while
# html.parser kept them for the text rules above to drop. They are dropped before parsing, or
# read as a space when Python calls them whitespace (VT, FF, the four separators U+001C–F).
_XML_FORBIDDEN_C0_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_XML_FORBIDDEN_C0 = {
    c: (" " if chr(c).isspace() else None) for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20))
}
# A numeric character reference to a C0 control (``&#27;``, ``&#x1b;``): libxml2 may store U+FFFD.
_C0_REF_RE = re.compile(r"&#(?:[xX]0*([0-9a-fA-F]{1,2})|0*([0-9]{1,2}))(?![0-9a-fA-F]);?")
_SURROGATE_RE = re.compile("[\\ud800-\\udfff]")
# Where html.parser sees a start tag (its ``starttagopen``): no such place, no element.
_START_TAG_RE = re.compile(r"<[a-zA-Z]")


def _c0_ref(match: re.Match[str]) -> str:
    """A reference to a forbidden C0 control resolved as the control itself is (dropped, or a
    space); any other reference is left to libxml2, which decodes it as html.parser did."""
    hex_digits, decimal = match.groups()
    code = int(hex_digits, 16) if hex_digits else int(decimal)
    if code and code in _XML_FORBIDDEN_C0:  # ``&#0;`` is U+FFFD for both
        return _XML_FORBIDDEN_C0[code] or ""
    return match.group()


# A start or end tag's name, up to what ends it (whitespace, ``/`` or ``>``).
_TAG_NAME_RE = re.compile(r"</?[A-Za-z][^\t\n\x0c\r />]*")
_C0_TO_REPLACEMENT = {c: "\ufffd" for c in _XML_FORBIDDEN_C0 if c != 0x0C}


def _tag_name_controls(match: re.Match[str]) -> str:
    return match.group().translate(_C0_TO_REPLACEMENT)


def _prepare(markup: str) -> str:
    """``markup`` with what libxml2 would turn into U+FFFD resolved as the text rules want;
    lone surrogates (no UTF-8 page can carry them) become U+FFFD."""
    if "&#" in markup:
        markup = _C0_REF_RE.sub(_c0_ref, markup)
    if _XML_FORBIDDEN_C0_RE.search(markup):
        # Inside a tag name a control stays a character (U+FFFD, as the HTML standard's
        # tokenizer makes a NUL there): dropped, ``<scr\0ipt>`` would become a script and hide
        # its text, which browsers show.
        markup = _TAG_NAME_RE.sub(_tag_name_controls, markup)
        markup = markup.translate(_XML_FORBIDDEN_C0)
    if not markup.isascii() and _SURROGATE_RE.search(markup):
        markup = _SURROGATE_RE.sub("\ufffd", markup)
    return markup


def _html_root(markup: str) -> Node | None:
    """The root (``<html>``) of ``markup``'s tree, or None when it holds nothing but blanks.

    Text in, never bytes: decoding is the fetcher's (``monitor.fetch.payload``), so libxml2 is
    told the encoding and neither a ``<meta charset>`` nor an XML declaration can change it.
    Content after ``</html>`` becomes siblings of the root (``//`` searches reach them).
    A page nested deeper than libxml2 builds (2,048 levels: it would silently stop there) is
    built by Beautiful Soup over ``html.parser`` instead, nesting as its tags say.
    """
    markup = _prepare(markup)
    data = markup.encode("utf-8")
    parser = etree.HTMLParser(
        encoding="utf-8", huge_tree=True, no_network=True, default_doctype=False, collect_ids=False
    )  # one per page (~2 µs): a parser's error log is its own, whichever thread parses
    try:
        root: Node | None = etree.fromstring(data, parser)
    except etree.LxmlError:  # "Document is empty": blanks or comments only
        return None
    if root is not None and parser.error_log.filter_from_fatals():
        logger.info(
            "libxml2 stopped early (%s); building with Beautiful Soup", parser.error_log.last_error
        )
        return _soup_tree(markup)
    return root


_XML_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*\Z")


def _soup_tree(markup: str) -> Node:
    """A tree of lxml elements built by Beautiful Soup over Python's ``html.parser``: for pages
    libxml2 gives up on, read exactly as this parser read every page before lxml.

    Nesting as the tags say, no HTML rules: an end tag closes the innermost open element of its
    name (or nothing), void elements hold nothing, and content after ``</html>`` stays inside
    the root (a synthetic ``html`` element). Names XML cannot hold become ``x-unnamed``
    (attributes: dropped); comments, processing instructions, CDATA and declarations become
    comments. Copied with an explicit stack, so any depth converts.
    """
    from bs4 import BeautifulSoup  # only for the rare page that needs it
    from bs4.element import PreformattedString, Tag

    markup = markup.translate({0xFFFE: None, 0xFFFF: None})  # not XML characters
    soup = BeautifulSoup(markup, "html.parser", multi_valued_attributes=None)
    root: Node = etree.Element("html")
    stack: list[tuple[Tag, Node]] = [(soup, root)]
    while stack:
        tag, element = stack.pop()
        last: Node | None = None
        for child in tag.contents:
            if isinstance(child, Tag):
                name = child.name if _XML_NAME_RE.match(child.name) else "x-unnamed"
                node = etree.SubElement(element, name)
                for key, value in child.attrs.items():
                    if _XML_NAME_RE.match(key):
                        node.set(key, value if isinstance(value, str) else " ".join(value))
                stack.append((child, node))
                last = node
            elif isinstance(child, PreformattedString):  # comment, CDATA, PI, declaration
                last = etree.Comment(str(child).replace("-", "_"))  # "--" is no comment text
                element.append(last)
            elif last is None:
                element.text = (element.text or "") + str(child)
            else:
                last.tail = (last.tail or "") + str(child)
    return root


def _is_element(node: Node) -> bool:
    return isinstance(node.tag, str)


def _source_text(text: str) -> str:
    """Text as :func:`_text_parts` reads it: newlines of the source are spaces."""
    return _SOURCE_NEWLINES_RE.sub(" ", text) if "\n" in text or "\r" in text else text


def _push_children(stack: list[Node | str], node: Node) -> None:
    """Queue ``node``'s text and children (each followed by its tail) on a last-in-first-out
    stack, text read as :func:`_text_parts` reads it."""
    for child in reversed(node):
        if child.tail:
            stack.append(_source_text(child.tail))
        stack.append(child)
    if node.text:
        stack.append(_source_text(node.text))


def _text_parts(stack: list[Node | str]) -> Iterator[str]:
    """Text of the queued nodes with a ``\n`` around every block.

    Walks the tree with an explicit stack, not recursion, so a page nested thousands of levels
    deep (hostile or broken markup) is read like any other instead of overflowing the stack.
    """
    while stack:
        child = stack.pop()
        if isinstance(child, str):  # text, or a block's closing newline
            yield child
        elif not _is_element(child) or child.tag in _SKIP_TAGS:  # comments, scripts…
            continue
        elif child.tag == "br":  # a <br> inside a paragraph is a soft wrap, not a paragraph
            yield " "
        elif child.tag in _BLOCK_TAGS:
            yield "\n"
            stack.append("\n")
            _push_children(stack, child)
        else:
            _push_children(stack, child)


def _node_text(node: Node) -> str:
    stack: list[Node | str] = []
    _push_children(stack, node)
    return paragraph_text("".join(_text_parts(stack)))


def html_to_text(markup: Node | str) -> str:
    """Readable plain text of an HTML fragment: each block (``p``, ``div``, ``li``…) one line.

    ``markup`` is a string of HTML, or an element of a parsed page (its content is read).
    """
    if not isinstance(markup, str):
        return _node_text(markup)
    root = _html_root(markup)
    if root is None:
        return ""
    stack: list[Node | str] = []
    for after in reversed(list(root.itersiblings())):  # content after </html>
        if after.tail:
            stack.append(_source_text(after.tail))
        stack.append(after)
    _push_children(stack, root)
    return paragraph_text("".join(_text_parts(stack)))


def _inline_text(node: Node) -> str:
    """Text of a title-like element on one line."""
    return html_to_text(node).replace("\n", " ")


# Strings inside these are not the text of the element around them (Beautiful Soup's
# ``get_text`` rule, which the date and count rules were written against): code, templates,
# ruby annotations.
_HIDDEN_STRINGS = frozenset({"script", "style", "template", "rt", "rp"})


def _strings(node: Node) -> Iterator[str]:
    """Every text string under ``node`` (and its own), in document order, as they stand."""
    if node.text and _is_element(node):
        yield node.text
    stack: list[Node | str] = list(node)
    stack.reverse()
    while stack:
        child = stack.pop()
        if isinstance(child, str):
            yield child
            continue
        if child.tail:
            stack.append(child.tail)
        if _is_element(child) and child.tag not in _HIDDEN_STRINGS:
            if child.text:
                yield child.text
            stack.extend(reversed(child))


def _get_text(node: Node, separator: str = "") -> str:
    return separator.join(_strings(node))


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


# --- finding elements ----------------------------------------------------------------------
# XPath compiled once (an lxml XPath object takes a lock per evaluation: threads may share it).
# A class is matched as CSS matches it: one of the whitespace-separated words of ``class``
# (XPath 1.0 cannot split on every whitespace, so it only narrows the candidates).


def _has_class(node: Node, name: str) -> bool:
    return name in (node.get("class") or "").split()


_X_CLASS_CANDIDATES = etree.XPath(".//*[contains(@class, $name)]", smart_strings=False)
_X_ALL_CLASS_CANDIDATES = etree.XPath("//*[contains(@class, $name)]", smart_strings=False)


def _document_iter(root: Node, tag: str) -> Iterator[Node]:
    """Every ``tag`` element of the document, in order: under the root, then after it."""
    yield from root.iter(tag)
    for after in root.itersiblings():
        yield from after.iter(tag)


def _nodes(xpath: etree.XPath, node: Node, **variables: str) -> list[Node]:
    """The elements an element-selecting XPath finds from ``node``, in document order."""
    found = xpath(node, **variables)
    return [el for el in found if isinstance(el, etree._Element)] if isinstance(found, list) else []


def _first_with_class(node: Node, name: str, *, anywhere: bool = False) -> Node | None:
    """The first element (document order) under ``node`` (or in its whole document) with the
    class ``name``: CSS ``.name``."""
    xpath = _X_ALL_CLASS_CANDIDATES if anywhere else _X_CLASS_CANDIDATES
    return next((el for el in _nodes(xpath, node, name=name) if _has_class(el, name)), None)


_X_TABLES = etree.XPath("//table", smart_strings=False)
_X_BODY_ROWS = etree.XPath("//table//tbody//tr", smart_strings=False)
_X_TABLE_ROWS = etree.XPath("//table//tr", smart_strings=False)
_X_TOTAL_BOXES = etree.XPath('//*[contains(@class, "total")]', smart_strings=False)
_X_BODIES = etree.XPath("//body", smart_strings=False)
_X_ALL_STRINGS = etree.XPath(
    "//text()[not(ancestor::script or ancestor::style or ancestor::template"
    " or ancestor::rt or ancestor::rp)]",
    smart_strings=False,
)
_X_BASES = etree.XPath("//base[@href]", smart_strings=False)
_X_DOWNLOADS = etree.XPath('.//a[contains(@href, "down.do")]', smart_strings=False)
_X_FILE_MARKS = etree.XPath(".//img | .//a | .//i", smart_strings=False)


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


def _link_seq(anchor: Node) -> int | None:
    """The seq an anchor opens: ``onclick="f_view('N')"`` first, else ``href=…view.do?seq=N``."""
    match = _F_VIEW_RE.search(str(anchor.get("onclick") or ""))
    if match:
        return parse_seq(match.group(1))
    href = str(anchor.get("href") or "")
    return seq_from_url(href) if "view.do" in href else None


def _title_link(row: Node) -> tuple[Node, int] | None:
    for anchor in row.iterdescendants("a"):
        seq = _link_seq(anchor)
        if seq is not None:
            return anchor, seq
    return None


def _article_link(row: Node) -> str | None:
    """The ``onclick``/``href`` of an anchor that opens an article (``f_view(``, ``view.do``)."""
    for anchor in row.iterdescendants("a"):
        for value in (str(anchor.get("onclick") or ""), str(anchor.get("href") or "")):
            if "f_view" in value or "view.do" in value:
                return value
    return None


def _is_label(node: Node) -> bool:
    if not _is_element(node):
        return False
    return node.tag == "img" or bool(_LABEL_CLASSES & set((node.get("class") or "").split()))


def _title_text(anchor: Node) -> str:
    """The anchor's text without labels (``<span class="new">``) placed before the title.

    The title starts at the first string with a visible character that is not inside a label
    (a comment's text counts as such a string, though it is never part of the title).
    """
    children: list[Node | str] = [anchor.text] if anchor.text else []
    for child in anchor:
        if not _is_label(child):
            children.append(child)
        if child.tail:
            children.append(child.tail)
    first_text = next(
        (
            i
            for i, c in enumerate(children)
            if (c if isinstance(c, str) else "" if _is_element(c) else c.text or "").strip()
        ),
        0,
    )
    parts = (
        child if isinstance(child, str) else _inline_text(child)
        for child in children[first_text:]
        if isinstance(child, str) or _is_element(child)
    )
    return clean_title("".join(parts))


def _row_date(row: Node, anchor: Node) -> dt.date | None:
    """The row's date, looked for outside the title cell first (a title may quote a date)."""
    title_cell = next(anchor.iterancestors("td", "th"), None)
    cells = [cell for cell in row.iterdescendants("td", "th") if cell is not title_cell]
    found = find_date(" ".join(_get_text(cell, " ") for cell in cells))
    return found or find_date(_get_text(row, " "))


def _has_attachment(row: Node) -> bool:
    """A file icon (or link, or text other than "-") in the row's file column."""
    for cell in row.iterdescendants("td"):
        if not _FILE_HINT_RE.search(cell.get("class") or ""):
            continue
        stripped = "".join(s.strip() for s in _strings(cell))
        if _nodes(_X_FILE_MARKS, cell) or stripped not in ("", "-"):
            return True
    return any(
        _FILE_HINT_RE.search(f"{img.get('alt', '')} {img.get('src', '')}")
        for img in row.iterdescendants("img")
    ) or bool(_nodes(_X_DOWNLOADS, row))


def _parse_row(row: Node, board: str, page_url: str) -> ListingEntry | None:
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


def _find_total(root: Node) -> int | None:
    """The board's post count as the page shows it ("Total 1,234", "총 1,234건"), or None."""
    boxes = [_get_text(box, " ") for box in _nodes(_X_TOTAL_BOXES, root)]
    if not boxes:  # the page's body; the whole document when it has none
        bodies = _nodes(_X_BODIES, root)
        found = _X_ALL_STRINGS(root)
        everything = " ".join(map(str, found)) if isinstance(found, list) else ""
        boxes = [_get_text(bodies[0], " ") if bodies else everything]
    for text in boxes:
        match = _TOTAL_RE.search(text)
        if match:
            digits = match.group(1).replace(",", "")
            if len(digits) > _MAX_TOTAL_DIGITS:
                logger.warning("ignoring an absurd post count of %d digits", len(digits))
                return None
            return int(digits)
    return None


def _page(markup: str, what: str) -> Node:
    """Parse HTML, refusing input that is plainly not an HTML page (empty, text, XML feed)."""
    if not markup.strip() or "<" not in markup:
        raise ParseError(f"{what}: expected an HTML page, got {len(markup)} characters of text")
    if _FEED_START_RE.match(markup):
        raise ParseError(f"{what}: expected an HTML page, got a feed (use the rss source kind)")
    markup = markup.lstrip("\ufeff")
    root = _html_root(markup) if _START_TAG_RE.search(markup) else None
    if root is None:
        raise ParseError(f"{what}: expected an HTML page, found no elements")
    return root


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
    root = _page(html, page_url)
    board = _board(page_url)
    is_article = _first_with_class(root, "board_detail", anywhere=True) is not None
    if is_article and not _nodes(_X_TABLES, root):
        raise ParseError(f"{page_url}: this is an article page, not a listing")
    rows = _nodes(_X_BODY_ROWS, root) or _nodes(_X_TABLE_ROWS, root)
    if not rows:
        raise ListingEmptyError(f"{page_url}: no listing table (table tbody tr) on the page")
    problems: list[str] = []
    entries = _dedupe(_guarded_row(row, board, page_url, number, problems)
                      for number, row in enumerate(rows, start=1))  # fmt: skip
    total = _find_total(root)
    if not entries:
        raise ListingEmptyError(
            f"{page_url}: {len(rows)} table rows but none links a post "
            f"(f_view('N') or view.do?seq=N); page shows total={total}"
        )
    logger.debug("%s: %d entries, total %s", page_url, len(entries), total)
    return Listing(entries=entries, total=total, problems=tuple(problems))


def _guarded_row(
    row: Node, board: str, page_url: str, number: int, problems: list[str]
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


def _article_date(head: Node, title: Node) -> dt.date | None:
    """The date after a ``Date``/``작성일`` label in ``.bo_head``; else any date but the title's."""
    text = clean_line(_get_text(head, " "))
    labelled = next(_valid_dates(_LABELLED_DATE_RE.finditer(text)), None)
    if labelled is not None:
        return labelled
    title_text = clean_line(_get_text(title, " "))
    return find_date(text.replace(title_text, " ", 1))


def _body_node(detail: Node, page_url: str) -> Node:
    body = _first_with_class(detail, "bo_con")
    if body is None:
        raise ParseError(f"{page_url}: article has no body (.bo_con) in .board_detail")
    wrapper = _first_with_class(body, "se-contents")
    return body if wrapper is None else wrapper


def document_base(root: Node, document_url: str) -> str:
    """The URL relative links resolve against, as a browser computes it (HTML §2.4.1).

    The first ``<base href>`` of the document, itself resolved against the document's URL
    (the one reached after redirects); the document's URL when there is none or it is unusable
    (not http/https, a malformed host).
    """
    bases = _nodes(_X_BASES, root)
    if not bases:
        return document_url
    try:
        resolved = urljoin(document_url, str(bases[0].get("href")).strip())
        ok = urlsplit(resolved).scheme in ("http", "https") and bool(urlsplit(resolved).netloc)
    except ValueError:
        ok = False
    return resolved if ok else document_url


def _attachments(detail: Node, base_url: str) -> tuple[Attachment, ...]:
    """Every ``down.do`` link in the detail area, by absolute URL, first non-empty name kept.

    A link that cannot be resolved (a malformed IPv6 host, a non-web scheme) is skipped alone.
    """
    found: dict[str, str] = {}
    for anchor in _nodes(_X_DOWNLOADS, detail):
        try:
            url = urljoin(base_url, str(anchor.get("href")).strip())
            usable = urlsplit(url).scheme in ("http", "https") and bool(urlsplit(url).hostname)
        except ValueError:
            usable = False
        if not usable:
            logger.warning(
                "%s: skipping an unusable attachment link %r", base_url, anchor.get("href")
            )
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
    root = _page(markup, page_url)
    article = _read_article(root, page_url, fetched_url)
    if not article.title:
        # libxml2 keeps HTML 4's rule that a <p> or <table> ends an open heading, so
        # <h2><p>Title</p></h2> leaves the h2 empty, where browsers (and html.parser) nest them.
        # Such a page is read again from the tree Beautiful Soup builds, nesting as written.
        try:
            rebuilt = _read_article(_soup_tree(_prepare(markup)), page_url, fetched_url)
        except ParseError:
            rebuilt = article
        if rebuilt.title:
            logger.info("%s: title read from Beautiful Soup's tree", page_url)
            article = rebuilt
    if not article.body:
        logger.warning("%s: empty article body (image-only: %s)", page_url, article.image_only)
    return article


def _read_article(root: Node, page_url: str, fetched_url: str | None) -> Article:
    """The article in ``root``'s tree (the rules of :func:`parse_article`)."""
    title_node = next(
        (
            h2
            for h2 in _document_iter(root, "h2")
            if any(_has_class(above, "bo_head") for above in h2.iterancestors())
        ),
        None,
    )
    if title_node is None:
        raise ParseError(f"{page_url}: not an article page (no .board_detail .bo_head h2)")
    head = next((a for a in title_node.iterancestors() if _has_class(a, "bo_head")), None)
    if head is None:
        raise ParseError(f"{page_url}: the title is outside .bo_head")
    detail = _first_with_class(root, "board_detail", anywhere=True)
    if detail is None:
        detail = head.getparent()
    if detail is None:
        raise ParseError(f"{page_url}: article has no .board_detail")
    board, seq = _article_ref(page_url)
    body_node = _body_node(detail, page_url)
    body = html_to_text(body_node)
    image_only = not body and next(body_node.iterdescendants("img"), None) is not None
    return Article(
        board=board,
        seq=seq,
        title=clean_title(_inline_text(title_node)),
        date=_article_date(head, title_node),
        url=canonical_article_url(page_url, board, seq),
        body=body,
        attachments=_attachments(detail, document_base(root, fetched_url or page_url)),
        image_only=image_only,
    )
