"""`mofa-monitor demo` as a newcomer meets it: every next step it suggests works after it exits,
and its digests link to the ministry, never to the port of a board that is gone."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from email import message_from_binary_file, policy
from pathlib import Path

import pytest


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
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


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("demo")
    result = run(["demo"], folder)
    assert result.returncode == 0, result.stderr
    return folder, result.stdout


def suggested(stdout: str) -> list[list[str]]:
    """The commands of the hint block, one per line, as argument lists."""
    return [
        shlex.split(line.strip())[1:]
        for line in stdout.splitlines()
        if line.strip().startswith("mofa-monitor ")
    ]


def test_next_steps_are_one_command_a_line(demo: tuple[Path, str]) -> None:
    """No `a | b | c` that reads like a shell pipeline; each line runs as printed."""
    _, stdout = demo
    hint = stdout.split("\n\n", 1)[1]
    assert hint.startswith("The local board has stopped; these commands read what the demo stored:")
    assert " | " not in hint
    assert [args[2] for args in suggested(stdout)] == [
        "releases",
        "subscribers",
        "status",
        "explain",
    ]


def test_every_suggested_command_works_after_the_demo(demo: tuple[Path, str]) -> None:
    folder, stdout = demo
    for args in suggested(stdout):
        result = run(args, folder)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stdout.strip(), args
        assert "127.0.0.1" not in result.stdout, args
    explained = run(suggested(stdout)[3], folder).stdout
    assert "url: https://www.mofa.go.kr/eng/brd/m_5676/view.do?seq=" in explained


def test_run_once_after_the_demo_is_quick_and_polls_nothing(demo: tuple[Path, str]) -> None:
    """The board is gone: the config no longer points at it, so nothing retries or fails."""
    folder, _ = demo
    result = run(["--config", "demo-state/config.toml", "run-once"], folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "no enabled source in demo-state/config.toml: nothing polled",
        "digests: 0 planned, 0 sent, 0 deferred, 0 failed",
    ]
    assert "retrying" not in result.stderr
    status = run(["--config", "demo-state/config.toml", "status"], folder).stdout
    assert status.splitlines()[0] == (
        "demo-board (mofa-board) https://www.mofa.go.kr/eng/brd/m_5676/list.do: "
        "OK (disabled: not polled)"
    )
    assert "FAILING" not in status


def test_digest_links_point_at_the_ministry(demo: tuple[Path, str]) -> None:
    folder, _ = demo
    mails = sorted((folder / "demo-state" / "outbox" / "new").iterdir())
    assert len(mails) == 3
    for path in mails:
        with path.open("rb") as f:
            message = message_from_binary_file(f, policy=policy.default)
        parts = [
            p.get_content() for p in message.walk() if p.get_content_type().startswith("text/")
        ]
        text = "\n".join(parts)
        assert "127.0.0.1" not in text, path.name
        assert "https://www.mofa.go.kr/eng/brd/m_5676/view.do?seq=" in text, path.name
