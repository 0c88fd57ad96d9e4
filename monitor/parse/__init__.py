"""Stage 2, parse: the ministry's board pages and RSS feeds into :mod:`monitor.models` records.

Entry points: :func:`parse_listing`, :func:`parse_article` (``board``: the HTML board) and
:func:`parse_feed` (``feed``: RSS); ``urls`` holds canonical URLs and ``(board, seq)`` identity.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.parse.board import parse_article, parse_listing
    from monitor.parse.feed import parse_feed

__all__ = ["parse_article", "parse_feed", "parse_listing"]

#: Imported on first use (PEP 562), so importing one module of the package does not import
#: them all: a command pays only for what it runs.
_LAZY = {
    "parse_article": "monitor.parse.board",
    "parse_listing": "monitor.parse.board",
    "parse_feed": "monitor.parse.feed",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
