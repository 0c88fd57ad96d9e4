"""Stage 7, deliver: hand a finished mail to a Maildir or an SMTP server.

Entry point: :func:`make_transport`. ``transports`` holds the transports, ``mailmessage`` the header
hygiene and unsubscribe links.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor import lazy

if TYPE_CHECKING:
    from monitor.deliver.transports import make_transport

__all__ = ["make_transport"]

#: Imported on first use (see :mod:`monitor.lazy`).
__getattr__ = lazy.exports(
    __name__,
    {
        "make_transport": "monitor.deliver.transports",
    },
)
