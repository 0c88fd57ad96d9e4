"""Stage 5, plan: who gets what, when — the outbox of due digests, frozen and sent once.

Entry points: :func:`plan_due` and :func:`send_due` (``outbox``); ``subscriptions`` holds each
subscriber's state and the commands that show and change it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.plan.outbox import plan_due, send_due

__all__ = ["plan_due", "send_due"]

#: Imported on first use (PEP 562), so importing one module of the package does not import
#: them all: a command pays only for what it runs.
_LAZY = {
    "plan_due": "monitor.plan.outbox",
    "send_due": "monitor.plan.outbox",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
