"""When the stages run: one tick (``poll`` then ``app``) and the service that repeats it.

Entry points: :class:`App` (one tick, ``run-once``) and :func:`run_service` (``run``).
"""

from monitor.schedule.app import App
from monitor.schedule.service import run_service

__all__ = ["App", "run_service"]
