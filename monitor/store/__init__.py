"""Stage 3, store: the durable state in one SQLite file.

Entry point: :class:`Store` (``sqlite``), a small facade over one repository per concern:
``releases`` (releases and revisions), ``sources`` (health, poll runs, waits, robots.txt),
``subscribers`` (suppressions, subscription log), ``deliveries`` (the outbox, transport health);
``db`` is the shared connection and ``migrations`` the numbered schema.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.store.sqlite import Store

__all__ = ["Store"]

#: Imported on first use (PEP 562), so importing one module of the package does not import
#: them all: a command pays only for what it runs.
_LAZY = {
    "Store": "monitor.store.sqlite",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
