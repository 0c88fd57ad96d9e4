"""A local stand-in for the ministry's board on 127.0.0.1, for the offline demo.

It reproduces what matters to a client (the cookie gate, paging, the markup parsers rely on,
conditional GET), so `mofa-monitor demo` runs the real pipeline without the internet. The test
suite builds its misbehaving, recording site on top of it (``tests/sitekit.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor import lazy

if TYPE_CHECKING:
    from monitor.localsite.server import SiteServer

__all__ = ["SiteServer"]

#: Imported on first use (see :mod:`monitor.lazy`).
__getattr__ = lazy.exports(
    __name__,
    {
        "SiteServer": "monitor.localsite.server",
    },
)
