"""The one clock: every component that stamps or compares time is handed a :data:`Clock`.

A clock is a callable returning an aware UTC :class:`datetime.datetime`. The command line and the
service create :func:`system_clock` once at the top and pass it down (App, Store, Poller, Fetcher,
planning, sending); tests pass a settable clock instead and never rewrite timestamps with SQL.
No other module reads the wall clock itself (``tests/test_clock.py`` scans ``monitor/`` for
``datetime.now``/``utcnow``/``date.today``/``time.time``).

Durations and timeouts are another matter: they use ``time.monotonic`` (or ``perf_counter``),
which never jumps with the wall clock and stamps nothing; modules may read it directly.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

#: ``() -> aware UTC datetime``.
Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """The wall clock, aware UTC (the only place that reads it)."""
    return dt.datetime.now(dt.UTC)


def file_time_ns() -> int:
    """The operating system's clock in ns since the epoch, only to compare with file mtimes
    (``os.stat().st_mtime_ns``), which the OS stamps with this clock whatever the process's
    :data:`Clock` says. Never a stamp of ours."""
    return time.time_ns()


def local_time_label(when: dt.datetime) -> str:
    """``2026-11-27 09:30 KST``: a time as a subscriber reads it, labelled with its zone (the
    abbreviation, or the UTC offset where the zone has none)."""
    zone = when.strftime("%Z")
    if not zone or zone[0] in "+-":
        offset = when.strftime("%z")  # "+0530"
        zone = "UTC" + offset[:3] + (f":{offset[3:5]}" if offset[3:5] != "00" else "")
    return f"{when:%Y-%m-%d %H:%M} {zone}"
