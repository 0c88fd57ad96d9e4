"""Shared fixtures: real parts (a local copy of the ministry's site, free ports), no internet."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sitekit import SiteServer

from smtp_server import free_port as any_free_port

#: The recorded pages of the ministry's site (copied from the project's shared fixtures).
SITE_DIR = Path(__file__).resolve().parent / "data" / "site"

# --- HTTP: the local ministry site (tests/sitekit.py over monitor/localsite) -----------------


@pytest.fixture
def make_site() -> Iterator[Callable[..., SiteServer]]:
    """Factory for started SiteServers (same arguments as SiteServer); all stopped afterwards."""
    servers: list[SiteServer] = []

    def factory(**kwargs: Any) -> SiteServer:
        kwargs.setdefault("root", SITE_DIR)
        server = SiteServer(**kwargs).start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def site(make_site: Callable[..., SiteServer]) -> SiteServer:
    """The recorded site (tests/data/site as stored), cookie gate on, robots.txt allows all."""
    return make_site(mode="recorded", root=SITE_DIR)


@pytest.fixture
def live_site(make_site: Callable[..., SiteServer]) -> SiteServer:
    """A dynamic board seeded with the corpus' m_5676 releases; ``publish()`` adds more."""
    server = make_site(mode="dynamic")
    server.seed_from_corpus()
    return server


# --- Ports ----------------------------------------------------------------------------------


@pytest.fixture
def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (aiosmtpd cannot bind port 0 itself)."""
    return any_free_port()


# --- SMTP fixtures --- (owned by the delivery tests; the server lives in tests/smtp_server.py)
from smtp_server import smtp_server, smtp_server_factory  # noqa: E402, F401
# --- end SMTP fixtures ---
