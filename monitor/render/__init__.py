"""Stage 6, render: a frozen digest into a mail (text and HTML parts from ``templates/``).

Entry point: :func:`build_message`. ``digest`` renders, ``view`` is the view model the templates
print, ``sample`` a sample digest with every rendering case.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.render.digest import build_message

__all__ = ["build_message"]

#: Imported on first use (PEP 562), so importing one module of the package does not import
#: them all: a command pays only for what it runs.
_LAZY = {
    "build_message": "monitor.render.digest",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
