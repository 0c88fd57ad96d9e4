"""A local stand-in for the ministry's board on 127.0.0.1, for the offline demo.

It reproduces what matters to a client (the cookie gate, paging, the markup parsers rely on,
conditional GET), so `mofa-monitor demo` runs the real pipeline without the internet. The test
suite builds its misbehaving, recording site on top of it (``tests/sitekit.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.localsite.server import SiteServer

__all__ = ["SiteServer"]

#: Imported on first use (PEP 562), so importing one module of the package does not import
#: them all: a command pays only for what it runs.
_LAZY = {
    "SiteServer": "monitor.localsite.server",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
