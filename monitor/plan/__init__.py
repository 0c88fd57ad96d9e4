"""Stage 5, plan: who gets what, when — the outbox of due digests, frozen and sent once.

Entry points: :func:`plan_due` and :func:`send_due` (``outbox``); ``subscriptions`` holds each
subscriber's state and the commands that show and change it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor import lazy

if TYPE_CHECKING:
    from monitor.plan.outbox import plan_due, send_due

__all__ = ["plan_due", "send_due"]

#: Imported on first use (see :mod:`monitor.lazy`).
__getattr__ = lazy.exports(
    __name__,
    {
        "plan_due": "monitor.plan.outbox",
        "send_due": "monitor.plan.outbox",
    },
)
