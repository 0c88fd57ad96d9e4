"""Stage 7, deliver: hand a finished mail to a Maildir or an SMTP server.

Entry point: :func:`make_transport`. ``transports`` holds the transports, ``mailmessage`` the header
hygiene and unsubscribe links.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.deliver.transports import make_transport

__all__ = ["make_transport"]

#: Imported on first use (PEP 562), so importing one module of the package does not import
#: them all: a command pays only for what it runs.
_LAZY = {
    "make_transport": "monitor.deliver.transports",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
