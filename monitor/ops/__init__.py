"""Operating the service: health and metrics endpoint, operator alerts, logs, the process lock.

Entry point: :class:`HealthServer`. ``health`` serves ``/healthz`` and ``/metrics`` and routes
``/unsubscribe`` to ``unsubscribe``; ``alerts`` mails the operator, ``logs`` configures logging,
``lock`` keeps one process per state folder, ``lastgood`` keeps the last good configuration,
``terminal`` neutralises text for terminals.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.ops.health import HealthServer

__all__ = ["HealthServer"]

#: Imported on first use (PEP 562), so importing one module of the package does not import
#: them all: a command pays only for what it runs.
_LAZY = {
    "HealthServer": "monitor.ops.health",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
