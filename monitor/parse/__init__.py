"""Stage 2, parse: the ministry's board pages and RSS feeds into :mod:`monitor.models` records.

Entry points: :func:`parse_listing`, :func:`parse_article` (``board``: the HTML board) and
:func:`parse_feed` (``feed``: RSS); ``urls`` holds canonical URLs and ``(board, seq)`` identity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor import lazy

if TYPE_CHECKING:
    from monitor.parse.board import parse_article, parse_listing
    from monitor.parse.feed import parse_feed

__all__ = ["parse_article", "parse_feed", "parse_listing"]

#: Imported on first use (see :mod:`monitor.lazy`).
__getattr__ = lazy.exports(
    __name__,
    {
        "parse_article": "monitor.parse.board",
        "parse_listing": "monitor.parse.board",
        "parse_feed": "monitor.parse.feed",
    },
)
