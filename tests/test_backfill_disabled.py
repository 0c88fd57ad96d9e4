"""backfill polls what run-once polls: a disabled source only when named (no network otherwise)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.localsite import SiteServer

pytestmark = pytest.mark.timeout(120)


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=config.parent,
    )


def test_disabled_sources_are_not_backfilled_unless_named(
    make_site: Callable[..., SiteServer], tmp_path: Path
) -> None:
    site = make_site(mode="dynamic")
    site.publish(500001, "First Release", "2026-06-01", "1. Text.")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[service]\nstate_dir = "state"\nrequest_delay = "0s"\ntimeout = "2s"\n'
        f'[[sources]]\nid = "s"\nurl = "{site.list_url()}"\nenabled = false\n',
        encoding="utf-8",
    )
    result = run(config, "backfill", "--since", "2026-01-01")
    assert result.returncode == 1
    assert "no enabled board source" in result.stderr and "--source" in result.stderr
    assert site.requests == []
    named = run(config, "backfill", "--since", "2026-01-01", "--source", "s")
    assert named.returncode == 0, named.stderr
    assert "s: 1 stored" in named.stdout
