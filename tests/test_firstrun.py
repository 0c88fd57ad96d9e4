"""The first runs of a new user: offline, one clear line per failed source and a pointer to the
demo; online, a progress line per listing page of a long poll or backfill."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sitekit import SiteServer

from monitor.cli.parser import main
from monitor.schedule import poll as pipeline

MINISTRY = """\
[service]
state_dir = "state"
request_delay = "0s"

[[sources]]
id = "mofa-en"
url = "https://www.mofa.go.kr/eng/brd/m_5676/list.do"
"""


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """main() installs its own stderr handler on the root logger; later tests get theirs back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def one_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """One retry (not three) keeps the tests quick; what is printed does not depend on it."""
    real = pipeline.fetch_settings
    monkeypatch.setattr(
        pipeline,
        "fetch_settings",
        lambda config, source: dataclasses.replace(real(config, source), retries=1),
    )


@pytest.fixture
def offline(one_retry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: every name lookup fails, as on a machine without a connection."""

    def no_dns(host: Any, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)


def test_offline_first_run_says_it_once_and_points_at_the_demo(
    offline: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.toml").write_text(MINISTRY, encoding="utf-8")
    code = main(["--config", str(tmp_path / "config.toml"), "run-once"])
    out, err = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 3
    assert lines == [
        "mofa-en: FAILED (1 in a row): https://www.mofa.go.kr/robots.txt: connection failed after "
        "1 retries: cannot resolve www.mofa.go.kr (no network, or DNS failing?)",
        "The ministry's site could not be reached (offline, or blocked?). To see what "
        "mofa-monitor does without it, try: mofa-monitor demo",
        "digests: 0 planned, 0 sent, 0 deferred, 0 failed",
    ]
    # stderr: no retry chatter, no second report of the same failure, no robots.txt detour.
    assert [line for line in err.splitlines() if "creating the state database" not in line] == []


def test_offline_retries_are_debug_lines(
    offline: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.toml").write_text(MINISTRY, encoding="utf-8")
    main(["--config", str(tmp_path / "config.toml"), "-v", "run-once"])
    err = capsys.readouterr().err
    retries = [line for line in err.splitlines() if "retrying GET" in line]
    assert len(retries) == 1 and " DEBUG " in retries[0]
    assert "retrying GET /robots.txt after" in retries[0] and "(retry 1)" in retries[0]


def test_a_refused_connection_is_one_plain_line(
    one_retry: None, tmp_path: Path, free_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens on the port: said in words, once; not the ministry, so no demo hint."""
    (tmp_path / "config.toml").write_text(
        f'[service]\nstate_dir = "state"\nrequest_delay = "0s"\n\n[[sources]]\nid = "mirror"\n'
        f'url = "http://127.0.0.1:{free_port}/eng/brd/m_5676/list.do"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(tmp_path / "config.toml"), "run-once"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"mirror: FAILED (1 in a row): http://127.0.0.1:{free_port}/robots.txt: connection failed "
        f"after 1 retries: cannot connect to 127.0.0.1:{free_port}: Connection refused",
        "digests: 0 planned, 0 sent, 0 deferred, 0 failed",
    ]
    assert [line for line in err.splitlines() if "creating the state database" not in line] == []


def test_no_demo_pointer_once_the_source_has_worked(
    offline: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A source that worked before and fails now is an outage, not a first run."""
    from monitor.store.sqlite import Store

    (tmp_path / "config.toml").write_text(MINISTRY, encoding="utf-8")
    with Store.in_dir(tmp_path / "state") as store:
        store.ensure_source(
            "mofa-en", "mofa-board", "https://www.mofa.go.kr/eng/brd/m_5676/list.do"
        )
        store.record_poll_success("mofa-en", baseline=True)
    main(["--config", str(tmp_path / "config.toml"), "run-once"])
    assert "mofa-monitor demo" not in capsys.readouterr().out


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MOFA_MONITOR_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_progress_lines_on_the_first_poll_and_a_backfill(site: SiteServer, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        f'[service]\nstate_dir = "state"\nrequest_delay = "0s"\n\n'
        f'[[sources]]\nid = "board"\nurl = "{site.list_url()}"\n',
        encoding="utf-8",
    )
    first = cli("run-once", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    progress = [line for line in first.stderr.splitlines() if line.startswith("board: ")]
    assert progress == [
        "board: listing page 1: 10 rows, 10 release(s) to fetch so far",
        "board: fetching 10 release pages…",
    ]
    assert first.stdout.splitlines()[0] == "board: 10 new (baseline, not mailed), 0 updated"

    again = cli("run-once", cwd=tmp_path)  # nothing new: a quick poll prints no progress
    assert [line for line in again.stderr.splitlines() if line.startswith("board: ")] == []

    back = cli("backfill", "--since", "2020-01-01", cwd=tmp_path)
    assert back.returncode == 0, back.stderr
    progress = [line for line in back.stderr.splitlines() if line.startswith("board: ")]
    assert progress[-1] == "board: fetching 14 release pages…"
    assert [line.split(":")[1] for line in progress[:-1]] == [" page 1", " page 2", " page 3"]
