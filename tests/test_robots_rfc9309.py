"""robots.txt read as RFC 9309 says: longest match, Allow on a tie, ``*`` and ``$`` (fetch stage)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from monitor.errors import RobotsDisallowedError
from monitor.fetch.http import Fetcher, FetchSettings, HTTPStatusError, build_user_agent
from monitor.localsite.server import SiteServer

pytestmark = pytest.mark.timeout(30)

LIST = "/eng/brd/m_5676/list.do"
UA = build_user_agent("ops@example.org")

#: (robots.txt, path, allowed) — the cases of the finding and the RFC's own examples.
CASES = [
    ("User-agent: *\nAllow: /\nDisallow: /eng/brd/\n", LIST, False),  # §2.2.2 longest match
    ("User-agent: *\nDisallow: /*.do\n", LIST, False),  # §2.2.3 "*"
    ("User-agent: *\nDisallow: /eng/*/list.do$\n", LIST, False),  # §2.2.3 "$"
    ("User-agent: *\nDisallow: /eng/*/list.do$\n", "/eng/brd/m_5676/list.do.bak", True),
    ("User-agent: *\nDisallow: /\nAllow: /eng/brd/m_5676/\n", LIST, True),  # longer Allow
    ("User-agent: *\nDisallow: /\nAllow: /eng/brd/m_5676/\n", "/kor/list.do", False),
    ("User-agent: *\nDisallow: /eng/\nAllow: /eng/\n", LIST, True),  # tie → Allow
    ("User-agent: mofa-monitor\nDisallow: /eng/\n\nUser-agent: *\nAllow: /\n", LIST, False),
    ("User-agent: other-bot\nDisallow: /\n", LIST, True),
]


@pytest.mark.parametrize(("robots", "path", "allowed"), CASES)
def test_rules_are_read_as_rfc_9309_says(
    make_site: Callable[..., SiteServer], robots: str, path: str, allowed: bool
) -> None:
    site = make_site(robots_txt=robots)
    settings = FetchSettings(UA, request_delay=0.0, retries=0, connect_timeout=2, read_timeout=2)
    with Fetcher(settings) as fetcher:
        if allowed:
            with contextlib.suppress(HTTPStatusError):  # a 404 of the page itself is fine
                fetcher.get_bytes(site.url(path))
            assert {r.path for r in site.requests if r.path != "/robots.txt"} == {path}
        else:
            with pytest.raises(RobotsDisallowedError):
                fetcher.get_bytes(site.url(path))
            assert {r.path for r in site.requests} == {"/robots.txt"}
