"""Stage 3, store: the durable state in one SQLite file.

Entry point: :class:`Store` (``sqlite``), a small facade over one repository per concern:
``releases`` (releases and revisions), ``sources`` (health, poll runs, waits, robots.txt),
``subscribers`` (suppressions, subscription log), ``deliveries`` (the outbox, transport health);
``db`` is the shared connection and ``migrations`` the numbered schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor import lazy

if TYPE_CHECKING:
    from monitor.store.sqlite import Store

__all__ = ["Store"]

#: Imported on first use (see :mod:`monitor.lazy`).
__getattr__ = lazy.exports(
    __name__,
    {
        "Store": "monitor.store.sqlite",
    },
)
