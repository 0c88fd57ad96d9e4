"""Stage 2, parse: the ministry's board pages and RSS feeds into :mod:`monitor.models` records.

Entry points: :func:`parse_listing`, :func:`parse_article` (``board``: the HTML board) and
:func:`parse_feed` (``feed``: RSS); ``urls`` holds canonical URLs and ``(board, seq)`` identity.
"""

from monitor.parse.board import parse_article, parse_listing
from monitor.parse.feed import parse_feed

__all__ = ["parse_article", "parse_feed", "parse_listing"]
