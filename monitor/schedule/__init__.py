"""When the stages run: one tick (``poll`` then ``app``) and the service that repeats it.

Entry points: :class:`App` (one tick, ``run-once``) and :func:`run_service` (``run``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor import lazy

if TYPE_CHECKING:
    from monitor.schedule.app import App
    from monitor.schedule.service import run_service

__all__ = ["App", "run_service"]

#: Imported on first use (see :mod:`monitor.lazy`).
__getattr__ = lazy.exports(
    __name__,
    {
        "App": "monitor.schedule.app",
        "run_service": "monitor.schedule.service",
    },
)
