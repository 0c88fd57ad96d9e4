"""When the stages run: one tick (``poll`` then ``app``) and the service that repeats it.

Entry points: :class:`App` (one tick, ``run-once``) and :func:`run_service` (``run``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.schedule.app import App
    from monitor.schedule.service import run_service

__all__ = ["App", "run_service"]

#: Imported on first use (PEP 562), so importing one module of the package does not import
#: them all: a command pays only for what it runs.
_LAZY = {
    "App": "monitor.schedule.app",
    "run_service": "monitor.schedule.service",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
