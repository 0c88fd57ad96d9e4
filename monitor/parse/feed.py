"""Parse a board's RSS feed (``rss.do?brdId=N``) into the same Listing a listing page gives.

The feed is the cheaper way to follow a board: one request, full texts included. It has its own
quirks (a BOM, links as ``http://host:443/www/brd/...``, GMT dates while the ministry's calendar
is KST), which are all resolved here so the pipeline sees ordinary ListingEntry records.

A feed is hostile input like any page: characters XML 1.0 forbids (a NUL, an ESC in one title)
are dropped before parsing instead of failing the whole document, and every item is parsed on
its own, so one poisoned item (a broken link, a year-9999 date, a seq of thousands of digits)
is skipped or cleaned and reported in :attr:`Listing.problems` while its neighbours are kept.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import html.entities
import logging
import re
import xml.etree.ElementTree as ET

from monitor.errors import ListingEmptyError, ParseError
from monitor.models import Listing, ListingEntry
from monitor.parse.board import (
    clean_title,
    html_to_text,
    paragraph_text,
    parse_boundary,
    plausible_date,
)
from monitor.parse.urls import BOARDS, canonical_article_url, parse_article_ref, seq_from_url

logger = logging.getLogger(__name__)

__all__ = ["BRD_ID_BOARDS", "KST", "parse_date", "parse_feed"]

KST = dt.timezone(dt.timedelta(hours=9), "KST")
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC_DATE = "{http://purl.org/dc/elements/1.1/}date"

# Feed id (``brdId``) → board, for item links that do not name the board.
BRD_ID_BOARDS: dict[str, str] = {str(b.brd_id): board for board, b in BOARDS.items() if b.brd_id}
_BRD_ID_RE = re.compile(r"[?&;]brdId=(\d+)", re.IGNORECASE)
_MARKUP_RE = re.compile(r"<[a-zA-Z!/]")
# Characters XML 1.0 (§2.2) does not allow anywhere in a document, not even as references.
_XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_ILLEGAL_REF_RE = re.compile(
    r"&#(?:0*(?:[0-8]|1[124-9]|2[0-9]|3[01])|[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]));"
)

# -- dates ----------------------------------------------------------------------------------

# Zone names RFC 822 parsers do not know but Korean and Japanese CMSs write.
_ZONE_NAMES = {"KST": "+0900", "JST": "+0900", "UTC": "+0000", "Z": "+0000"}
_ZONE_NAME_RE = re.compile(r"\b(KST|JST|UTC|Z)\s*$")
_LOCAL_RE = re.compile(
    r"^(\d{4})\s*[-./]\s*(\d{1,2})\s*[-./]\s*(\d{1,2})\.?"
    r"(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?$"
)
_KOREAN_RE = re.compile(
    r"^(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일"
    r"(?:\s*(오전|오후)?\s*(\d{1,2})\s*[:시]\s*(\d{1,2})?\s*분?(?:\s*:?\s*(\d{1,2})\s*초?)?)?$"
)


def parse_date(text: str) -> dt.datetime | None:
    """A feed date as an aware datetime, or None when ``text`` is not a date form we know.

    Read, in order: RFC 822/2822/5322 (``pubDate``: named or numeric zones, no weekday,
    two-digit years, ``KST``; no zone means GMT per RFC 822), ISO 8601 / RFC 3339
    (``dc:date``, Atom; with or without ``T``, fractions, ``Z``), ``YYYY-MM-DD HH:MM:SS``
    and ``YYYY.MM.DD`` (Korean CMSs; the ministry's calendar, so Korea time), and
    ``2025년 3월 4일 오후 2:05``. A zone-less ISO or local form is Korea time.
    Raises nothing: an overflowing or impossible date is None like an unreadable one.
    """
    text = " ".join(text.split())
    if not text:
        return None
    for reader in (_rfc822, _iso, _local, _korean, _day_only):
        try:
            stamp = reader(text)
        except (ValueError, OverflowError, TypeError, IndexError):
            continue
        if stamp is not None:
            return stamp
    return None


_GLUED_OFFSET_RE = re.compile(r"\s*(?:GMT|UTC|UT)?\s*([+-])(\d{1,2}):?(\d{2})$")
_DAY_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y")


def _rfc822(text: str) -> dt.datetime | None:
    zone = _ZONE_NAME_RE.search(text)
    if zone:
        text = text[: zone.start()] + _ZONE_NAMES[zone.group(1)]
    # "+09:00" and "GMT+0900" are not RFC 822, and email.utils would silently read them as GMT.
    offset = _GLUED_OFFSET_RE.search(text)
    if offset and re.search(r"\d:\d{2}", text[: offset.start()]):
        sign, hours, minutes = offset.groups()
        text = f"{text[: offset.start()]} {sign}{int(hours):02d}{minutes}"
    if not re.search(r"[A-Za-z]{3}", text):  # RFC 822 always names the month
        return None
    stamp = email.utils.parsedate_to_datetime(text)
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def _day_only(text: str) -> dt.datetime | None:
    """A date without a time in words ("26 June 2026", "Jun 26, 2026"): a KST calendar day."""
    bare = re.sub(r"^[A-Za-z]+,\s*", "", text)  # a weekday in front
    for form in _DAY_FORMATS:
        try:
            day = dt.datetime.strptime(bare, form)
        except ValueError:
            continue
        return day.replace(tzinfo=KST)
    return None


def _iso(text: str) -> dt.datetime | None:
    candidate = text.replace(" ", "T", 1) if re.match(r"^\d{4}-\d{2}-\d{2} \d", text) else text
    candidate = re.sub(r"[zZ]$", "+00:00", candidate)
    stamp = dt.datetime.fromisoformat(candidate)
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=KST)


def _local(text: str) -> dt.datetime | None:
    match = _LOCAL_RE.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=KST)


def _korean(text: str) -> dt.datetime | None:
    match = _KOREAN_RE.match(text)
    if match is None:
        return None
    year, month, day = (int(g) for g in match.group(1, 2, 3))
    hour = int(match.group(5) or 0)
    if match.group(4) == "오후" and hour < 12:
        hour += 12
    elif match.group(4) == "오전" and hour == 12:
        hour = 0
    minute, second = int(match.group(6) or 0), int(match.group(7) or 0)
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=KST)


def _kst_date(raw: str) -> dt.date | None:
    """The ministry's calendar date of a feed date; None when unreadable or implausible."""
    stamp = parse_date(raw)
    if stamp is None:
        return None
    try:
        day = stamp.astimezone(KST).date()
    except OverflowError:  # 9999-12-31 23:00 -0100 and the like
        return None
    return day if plausible_date(day) else None


# -- document -------------------------------------------------------------------------------


def _decode(data: bytes | str) -> str:
    """Feed text: bytes are UTF-8 (served without a charset, maybe with a BOM)."""
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    return text.lstrip("\ufeff").lstrip()


def _xml_safe(text: str, source_url: str, problems: list[str]) -> str:
    """``text`` without the characters (and references to them) that XML 1.0 forbids."""
    cleaned = _XML_ILLEGAL_REF_RE.sub("", _XML_ILLEGAL_RE.sub("", text))
    if len(cleaned) != len(text):
        problem = (
            f"{source_url}: {len(text) - len(cleaned)} control character(s) XML forbids "
            "were removed"
        )
        logger.warning("%s", problem)
        problems.append(problem)
    return cleaned


_CDATA_RE = re.compile(r"(<!\[CDATA\[.*?\]\]>)", re.DOTALL)
_AMP_RE = re.compile(r"&(?!#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};)([A-Za-z][A-Za-z0-9]{0,31};)?")
_XML_ENTITIES = frozenset({"amp;", "lt;", "gt;", "quot;", "apos;"})


def _repair_references(text: str) -> str:
    """HTML references XML does not know made XML: ``&nbsp;`` → ``&#160;``, a bare ``&`` → ``&amp;``.

    CMS feeds copy HTML titles into XML (RSS 2.0 items routinely carry ``&rsquo;`` or
    "Trade & Investment"), which XML 1.0 (§4.1, "well-formedness constraint: entity declared")
    rejects for the whole document. CDATA sections are left as they are.
    """

    def fix(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "&amp;"
        if name in _XML_ENTITIES:
            return match.group(0)
        if name in html.entities.html5:
            return "".join(f"&#{ord(c)};" for c in html.entities.html5[name])
        return "&amp;" + name  # an unknown name stays visible as text

    parts = _CDATA_RE.split(text)
    return "".join(part if i % 2 else _AMP_RE.sub(fix, part) for i, part in enumerate(parts))


_ITEM_RE = re.compile(r"<item\b[^>]*>(.*?)</item\s*>", re.DOTALL | re.IGNORECASE)
_FIELD_RE = re.compile(
    r"<(title|link|guid|description|pubDate|content:encoded|dc:date)\b[^>]*>(.*?)</\1\s*>",
    re.DOTALL,
)
_FIELD_TAGS = {"content:encoded": CONTENT_ENCODED, "dc:date": DC_DATE}
_NAMESPACES = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"'
)


def _unwrap_cdata(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith("<![CDATA[") and raw.endswith("]]>"):
        return raw[len("<![CDATA[") : -len("]]>")]
    return raw


def _lenient_item(raw: str) -> ET.Element:
    """An item that is not well-formed XML, read field by field as HTML text."""
    item = ET.Element("item")
    for name, value in _FIELD_RE.findall(raw):
        content = _unwrap_cdata(value)
        if name == "title":
            content = html_to_text(content)  # a stray <b>, a "]]>", references: text
        elif name not in ("description", "content:encoded"):
            content = html.unescape(re.sub(r"<[^>]*>", "", content))
        ET.SubElement(item, _FIELD_TAGS.get(name, name)).text = content
    return item


def _items_one_by_one(
    text: str, source_url: str, error: ET.ParseError, problems: list[str]
) -> list[ET.Element]:
    """The items of a feed that is not well-formed as a whole, each parsed on its own.

    One malformed item (a stray ``<b>`` or ``]]>`` in a title) costs at most itself: it is
    read leniently, field by field, and reported. Raises ParseError when the text has no RSS
    channel with items at all (then it is not a feed with one bad item).
    """
    head = text[:2000].lower()
    raws = _ITEM_RE.findall(text)
    if "<rss" not in head or "<channel" not in head or not raws:
        raise ParseError(f"{source_url}: feed is not well-formed XML ({error})") from error
    items = []
    for number, raw in enumerate(raws, start=1):
        try:
            items.append(ET.fromstring(f"<item {_NAMESPACES}>{raw}</item>"))
        except ET.ParseError as exc:
            problem = (
                f"{source_url}: item {number} is not well-formed XML ({exc}); "
                "read leniently as text"
            )
            logger.warning("%s", problem)
            problems.append(problem)
            items.append(_lenient_item(raw))
    return items


def _channel_items(text: str, source_url: str, problems: list[str]) -> list[ET.Element]:
    text = _repair_references(text)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return _items_one_by_one(text, source_url, exc, problems)
    if root.tag != "rss" or root.find("channel") is None:
        raise ParseError(f"{source_url}: expected an RSS 2.0 feed, got <{root.tag}>")
    return root.findall("channel/item")


def _child_text(item: ET.Element, tag: str) -> str:
    node = item.find(tag)
    return (node.text or "") if node is not None else ""


def _item_ref(link: str, source_url: str) -> tuple[str, int] | None:
    """``(board, seq)`` from the item link; the feed's ``brdId`` names the board if the link doesn't."""
    ref = parse_article_ref(link)
    if ref is not None:
        return ref
    seq = seq_from_url(link)
    brd_id = _BRD_ID_RE.search(source_url)
    board = BRD_ID_BOARDS.get(brd_id.group(1)) if brd_id else None
    return (board, seq) if board and seq is not None else None


def _item_body(item: ET.Element) -> str:
    """The item's text: HTML gets the article normaliser; plain text keeps its ``\n`` paragraphs."""
    content = _child_text(item, CONTENT_ENCODED) or _child_text(item, "description")
    if _MARKUP_RE.search(content):
        return html_to_text(content)
    return paragraph_text(html.unescape(content))


def _item_date(item: ET.Element, where: str, problems: list[str]) -> dt.date | None:
    """``pubDate`` (or ``dc:date``) as a KST date; present-but-unreadable is reported."""
    raw = (_child_text(item, "pubDate") or _child_text(item, DC_DATE)).strip()
    if not raw:
        return None
    day = _kst_date(raw)
    if day is None:
        problem = f"{where}: unreadable or impossible date {raw[:80]!r}; stored without a date"
        logger.warning("%s", problem)
        problems.append(problem)
    return day


def _parse_item(
    item: ET.Element, source_url: str, number: int, problems: list[str]
) -> ListingEntry | None:
    link = _child_text(item, "link").strip() or _child_text(item, "guid").strip()
    ref = _item_ref(link, source_url)
    if ref is None:
        problem = f"{source_url}: item {number} skipped: no usable article link ({link[:120]!r})"
        logger.warning("%s", problem)
        problems.append(problem)
        return None
    board, seq = ref
    return ListingEntry(
        board=board,
        seq=seq,
        title=clean_title(_child_text(item, "title")),  # double-escaped by some CMSs
        date=_item_date(item, f"{source_url}: item {number} ({board}/{seq})", problems),
        url=canonical_article_url(source_url, board, seq),
        body=_item_body(item),
    )


def _guarded_item(
    item: ET.Element, source_url: str, number: int, problems: list[str]
) -> ListingEntry | None:
    try:
        return _parse_item(item, source_url, number, problems)
    except Exception as exc:  # the item boundary: any failure is that item's alone
        problem = f"{source_url}: item {number} skipped: {type(exc).__name__}: {exc}"[:500]
        logger.warning("%s", problem)
        problems.append(problem)
        return None


@parse_boundary
def parse_feed(data: bytes | str, source_url: str) -> Listing:
    """Parse an RSS feed of a board; ``source_url`` is the configured feed URL.

    Entries carry the text (``body``); their ``url`` points at the source's host. Items that
    cannot be used are skipped and listed in ``problems``. Raises ListingEmptyError when the
    feed has no usable item and ParseError when it is not RSS.
    """
    problems: list[str] = []
    items = _channel_items(_xml_safe(_decode(data), source_url, problems), source_url, problems)
    entries: dict[tuple[str, int], ListingEntry] = {}
    for number, item in enumerate(items, start=1):
        entry = _guarded_item(item, source_url, number, problems)
        if entry is not None:
            entries.setdefault((entry.board, entry.seq), entry)
    if not entries:
        raise ListingEmptyError(
            f"{source_url}: feed has {len(items)} items but none links an article"
            + (f" ({problems[-1]})" if problems else "")
        )
    logger.debug("%s: %d feed entries", source_url, len(entries))
    return Listing(entries=tuple(entries.values()), problems=tuple(problems))
