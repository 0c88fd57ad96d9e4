"""Stage 1, fetch: the only HTTP client of the ministry's site (politeness, retries, decoding).

Entry point: :class:`Fetcher`. ``http`` speaks HTTP, ``retry`` is its retry policy, ``payload``
turns fetched bytes into text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor import lazy

if TYPE_CHECKING:
    from monitor.fetch.http import Fetcher

__all__ = ["Fetcher"]

#: Imported on first use (see :mod:`monitor.lazy`).
__getattr__ = lazy.exports(
    __name__,
    {
        "Fetcher": "monitor.fetch.http",
    },
)
