"""Canonical URLs and ``(board, seq)`` identity for the ministry's boards.

The same release is reachable under many URLs (several hosts, ``:443`` on plain http, ``/www/``
for English boards, search-state parameters, a literal ``&amp;``). Everything that needs to know
*which* release a URL names, or where to link to it, goes through this module, so identity is
decided in one place. Links are always built against the configured source URL's host, so a
mirror or a local test server keeps working.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

logger = logging.getLogger(__name__)

#: The value of the first ``seq=`` parameter (a servlet's ``getParameter`` reads the first).
SEQ_RE = re.compile(r"[?&;]seq=([^&;#]*)")
#: What browsers strip from both ends of a link (the HTML standard's ASCII whitespace).
_ASCII_WHITESPACE = " \t\n\f\r"
#: A seq is a database key: more digits than a signed 64-bit integer holds is not a seq (and
#: converting thousands of digits would hit Python's integer-conversion limit).
MAX_SEQ_DIGITS = 18
BOARD_RE = re.compile(r"/brd/(m_\d+)(?:/|$)")
_SITE_PATH_RE = re.compile(r"^(?P<prefix>.*?)/(?P<site>eng|www)/brd/(?P<board>m_\d+)?")


@dataclass(frozen=True)
class Board:
    """One of the ministry's boards: the site that serves it, its title, its RSS ``brdId``."""

    site: str  # "eng" or "www": the path prefix of its listing and articles
    title: str  # as the site's own page heading shows it
    brd_id: int | None = None  # ``/www/brd/rss.do?brdId=N``, for the boards that have a feed


#: The one board map: board id → site, title and feed id (MOFA_SITE: the boards and their feeds).
BOARDS: dict[str, Board] = {
    "m_5676": Board("eng", "Press Releases", 302),
    "m_5679": Board("eng", "Press Briefings", 303),
    "m_5674": Board("eng", "Ministry News"),
    "m_5689": Board("eng", "Minister's Speeches"),
    "m_4080": Board("www", "보도자료", 235),
    "m_4078": Board("www", "대변인 브리핑"),
}
# Which site serves a board when the source URL does not say (e.g. a feed URL under /www/).
BOARD_SITES: dict[str, str] = {board: b.site for board, b in BOARDS.items()}
DEFAULT_SITE = "eng"


def parse_seq(digits: str) -> int | None:
    """``digits`` as a seq, or None when it has more than :data:`MAX_SEQ_DIGITS` digits."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if digits.isascii() and len(digits) <= MAX_SEQ_DIGITS else None


def seq_from_url(url: str) -> int | None:
    """The first ``seq`` query parameter of ``url`` (``&amp;`` and surrounding ASCII spaces
    tolerated, as browsers strip them from a link), or None: none, not all ASCII digits
    (``seq=12a`` is no seq: the site would not serve 12), or absurdly long."""
    match = SEQ_RE.search(html.unescape(url.strip(_ASCII_WHITESPACE)))
    value = match.group(1) if match else ""
    return parse_seq(value) if value.isascii() and value.isdigit() else None


def split_url(url: str) -> tuple[str, str, str, str, str] | None:
    """``urlsplit`` that answers None for a URL it rejects (a malformed IPv6 host, ``[x``)."""
    try:
        return tuple(urlsplit(url))  # type: ignore[return-value]
    except ValueError:
        return None


def board_from_url(url: str) -> str | None:
    """The board id (``m_5676``) from a ``/brd/m_NNNN/`` path, or None (also if malformed)."""
    parts = split_url(html.unescape(url))
    match = BOARD_RE.search(parts[2]) if parts else None
    return match.group(1) if match else None


def parse_article_ref(url: str) -> tuple[str, int] | None:
    """``(board, seq)`` named by an article URL in any of its forms, or None if it names none.

    Accepts every host, ``:443`` on http, ``/eng/`` or ``/www/`` paths, extra query parameters
    and a literal ``&amp;``. Only ``view.do`` pages are articles (``down.do`` also has a seq).
    """
    unescaped = html.unescape(url.strip(_ASCII_WHITESPACE))
    parts = split_url(unescaped)
    if parts is None or "view.do" not in parts[2]:
        return None
    board, seq = board_from_url(unescaped), seq_from_url(unescaped)
    if board is None or seq is None:
        return None
    return board, seq


def _site_and_prefix(path: str, board: str) -> tuple[str, str]:
    """Which site (``eng``/``www``) and path prefix to use for ``board`` under a source path."""
    match = _SITE_PATH_RE.match(path)
    prefix = match.group("prefix") if match else ""
    if match and match.group("board") == board:
        return match.group("site"), prefix
    if board in BOARD_SITES:
        return BOARD_SITES[board], prefix
    return (match.group("site") if match else DEFAULT_SITE), prefix


def canonical_article_url(source_url: str, board: str, seq: int) -> str:
    """The one URL we store and link for ``(board, seq)``, on the configured source's host.

    Scheme and ``host[:port]`` come from ``source_url``; the site segment is the source's own
    when it is a page of the same board, else the board's known site (English boards live under
    ``/eng/`` even when the feed URL says ``/www/``). A mirror's path prefix is kept.
    """
    parts = urlsplit(html.unescape(source_url))
    site, prefix = _site_and_prefix(parts.path, board)
    scheme, netloc = parts.scheme or "https", parts.netloc
    if scheme == "http" and parts.port == 443:  # the feeds' "http://host:443" means https
        scheme, netloc = "https", netloc.rsplit(":", 1)[0]
    path = f"{prefix}/{site}/brd/{board}/view.do"
    return urlunsplit((scheme, netloc, path, f"seq={seq}", ""))


def listing_page_url(
    source_url: str,
    page: int,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> str:
    """``source_url`` with ``page=N`` (and ``srchFr``/``srchTo`` when given) set.

    Other query parameters are kept in their order; parameters we set replace existing ones.
    """
    if page < 1:
        raise ValueError(f"listing pages are 1-based, got page={page}")
    parts = urlsplit(html.unescape(source_url))
    updates = {"page": str(page)}
    if date_from is not None:
        updates["srchFr"] = date_from.strftime("%Y%m%d")
    if date_to is not None:
        updates["srchTo"] = date_to.strftime("%Y%m%d")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in updates]
    query.extend(updates.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
