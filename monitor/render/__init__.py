"""Stage 6, render: a frozen digest into a mail (text and HTML parts from ``templates/``).

Entry point: :func:`build_message`. ``digest`` renders, ``view`` is the view model the templates
print, ``sample`` a sample digest with every rendering case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor import lazy

if TYPE_CHECKING:
    from monitor.render.digest import build_message

__all__ = ["build_message"]

#: Imported on first use (see :mod:`monitor.lazy`).
__getattr__ = lazy.exports(
    __name__,
    {
        "build_message": "monitor.render.digest",
    },
)
