"""Parse a board's RSS feed (``rss.do?brdId=N``) into the same Listing a listing page gives.

The feed is the cheaper way to follow a board: one request, full texts included. It has its own
quirks (a BOM, links as ``http://host:443/www/brd/...``, GMT dates while the ministry's calendar
is KST), which are all resolved here so the pipeline sees ordinary ListingEntry records.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import logging
import re
import xml.etree.ElementTree as ET

from monitor.errors import ListingEmptyError, ParseError
from monitor.models import Listing, ListingEntry
from monitor.sources.mofa import clean_line, html_to_text, normalize_text
from monitor.sources.urls import canonical_article_url, parse_article_ref, seq_from_url

logger = logging.getLogger(__name__)

__all__ = ["BRD_ID_BOARDS", "KST", "parse_feed"]

KST = dt.timezone(dt.timedelta(hours=9), "KST")
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"

# Feed id (``brdId``) → board, for item links that do not name the board.
BRD_ID_BOARDS: dict[str, str] = {"302": "m_5676", "303": "m_5679", "235": "m_4080"}
_BRD_ID_RE = re.compile(r"[?&;]brdId=(\d+)", re.IGNORECASE)
_MARKUP_RE = re.compile(r"<[a-zA-Z!/]")


def _decode(data: bytes | str) -> str:
    """Feed text: bytes are UTF-8 (served without a charset, maybe with a BOM)."""
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    return text.lstrip("\ufeff").lstrip()


def _channel_items(text: str, source_url: str) -> list[ET.Element]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ParseError(f"{source_url}: feed is not well-formed XML ({exc})") from exc
    if root.tag != "rss" or root.find("channel") is None:
        raise ParseError(f"{source_url}: expected an RSS 2.0 feed, got <{root.tag}>")
    return root.findall("channel/item")


def _child_text(item: ET.Element, tag: str) -> str:
    node = item.find(tag)
    return (node.text or "") if node is not None else ""


def _kst_date(pub_date: str) -> dt.date | None:
    """The ministry's calendar date of an RFC 822 ``pubDate`` (GMT unless it says otherwise)."""
    try:
        stamp = email.utils.parsedate_to_datetime(pub_date.strip())
    except (TypeError, ValueError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(KST).date()


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
    return normalize_text(html.unescape(content))


def _parse_item(item: ET.Element, source_url: str) -> ListingEntry | None:
    link = _child_text(item, "link").strip() or _child_text(item, "guid").strip()
    ref = _item_ref(link, source_url)
    if ref is None:
        logger.warning("%s: skipping feed item without an article link: %r", source_url, link)
        return None
    board, seq = ref
    return ListingEntry(
        board=board,
        seq=seq,
        title=clean_line(html.unescape(_child_text(item, "title"))),  # double-escaped by some CMSs
        date=_kst_date(_child_text(item, "pubDate")),
        url=canonical_article_url(source_url, board, seq),
        body=_item_body(item),
    )


def parse_feed(data: bytes | str, source_url: str) -> Listing:
    """Parse an RSS feed of a board; ``source_url`` is the configured feed URL.

    Entries carry the text (``body``); their ``url`` points at the source's host. Raises
    ListingEmptyError when the feed has no usable item and ParseError when it is not RSS.
    """
    items = _channel_items(_decode(data), source_url)
    entries: dict[tuple[str, int], ListingEntry] = {}
    for item in items:
        entry = _parse_item(item, source_url)
        if entry is not None:
            entries.setdefault((entry.board, entry.seq), entry)
    if not entries:
        raise ListingEmptyError(
            f"{source_url}: feed has {len(items)} items but none links an article"
        )
    logger.debug("%s: %d feed entries", source_url, len(entries))
    return Listing(entries=tuple(entries.values()))
