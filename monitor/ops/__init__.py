"""Operating the service: health and metrics endpoint, operator alerts, logs, the process lock.

Entry point: :class:`HealthServer`. ``health`` serves ``/healthz`` and ``/metrics`` and routes
``/unsubscribe`` to ``unsubscribe``; ``alerts`` mails the operator, ``logs`` configures logging,
``lock`` keeps one process per state folder, ``lastgood`` keeps the last good configuration,
``terminal`` neutralises text for terminals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor import lazy

if TYPE_CHECKING:
    from monitor.ops.health import HealthServer

__all__ = ["HealthServer"]

#: Imported on first use (see :mod:`monitor.lazy`).
__getattr__ = lazy.exports(
    __name__,
    {
        "HealthServer": "monitor.ops.health",
    },
)
