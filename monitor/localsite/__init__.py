"""A local stand-in for the ministry's site on 127.0.0.1: the offline demo and the test suite.

It reproduces what matters to a client (the cookie gate, paging, the markup parsers rely on,
conditional GET) and can misbehave on request (resets, ``Retry-After``, huge or truncated bodies),
so the real pipeline can be exercised without the internet.
"""

from monitor.localsite.server import SiteServer

__all__ = ["SiteServer"]
