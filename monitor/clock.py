"""The one clock: every component that stamps or compares time is handed a :data:`Clock`.

A clock is a callable returning an aware UTC :class:`datetime.datetime`. The command line and the
service create :func:`system_clock` once at the top and pass it down (App, Store, Poller, Fetcher,
planning, sending); tests pass a settable clock instead and never rewrite timestamps with SQL.
No other module reads the wall clock itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

#: ``() -> aware UTC datetime``.
Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """The wall clock, aware UTC (the only place that reads it)."""
    return dt.datetime.now(dt.UTC)
