"""Stage 1, fetch: the only HTTP client of the ministry's site (politeness, retries, decoding).

Entry point: :class:`Fetcher`. ``http`` speaks HTTP, ``retry`` is its retry policy, ``payload``
turns fetched bytes into text.
"""

from monitor.fetch.http import Fetcher

__all__ = ["Fetcher"]
