"""Stage 1, fetch: the only HTTP client of the ministry's site (politeness, retries, decoding).

Entry point: :class:`Fetcher`. ``http`` speaks HTTP, ``retry`` is its retry policy, ``payload``
turns fetched bytes into text.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.fetch.http import Fetcher

__all__ = ["Fetcher"]

#: Imported on first use (PEP 562), so importing one module of the package does not import
#: them all: a command pays only for what it runs.
_LAZY = {
    "Fetcher": "monitor.fetch.http",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
