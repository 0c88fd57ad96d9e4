"""The command line as users meet it: a real subprocess, exact messages, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli.parser import build_parser

REPO = Path(__file__).resolve().parent.parent
SUBCOMMANDS = [
    "check-config",
    "run",
    "run-once",
    "releases",
    "explain",
    "preview",
    "send-test",
    "status",
    "backfill",
    "reclassify",
    "eval",
    "demo",
    "subscribers",
    "unsubscribe",
    "resubscribe",
]


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m monitor`` as a user would, with a bounded time."""
    environment = {k: v for k, v in os.environ.items() if k != "MOFA_MONITOR_CONFIG"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestHelp:
    def test_every_subcommand_is_registered(self) -> None:
        """The parser knows exactly the documented subcommands."""
        from monitor.cli import commands  # noqa: F401

        parser = build_parser()
        choices = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
        assert sorted(choices) == sorted(SUBCOMMANDS)

    @pytest.mark.parametrize("name", SUBCOMMANDS)
    def test_help_for_every_subcommand(self, name: str, tmp_path: Path) -> None:
        """`mofa-monitor NAME --help` answers with a description and exits 0."""
        result = cli(name, "--help", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"usage: mofa-monitor {name}" in result.stdout
        assert len(result.stdout.splitlines()) >= 3

    def test_top_level_help_lists_commands(self, tmp_path: Path) -> None:
        """The overview names every command."""
        result = cli("--help", cwd=tmp_path)
        assert result.returncode == 0
        for name in SUBCOMMANDS:
            assert name in result.stdout


class TestCheckConfig:
    def test_example_config_is_accepted(self, tmp_path: Path) -> None:
        """check-config exits 0 on the shipped example."""
        result = cli("--config", str(REPO / "config.example.toml"), "check-config", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "OK — 1 source(s), 3 subscriber(s)" in result.stdout

    def test_broken_config_exits_2_naming_file_and_field(self, tmp_path: Path) -> None:
        """Every problem is printed as FILE: dotted.path: message, and the exit code is 2."""
        (tmp_path / "config.toml").write_text(
            '[[subscribers]]\nemail = "a@example.org"\n[[subscribers]]\nemail = "b@example.org"\n'
            'frequency = "hourly"\ntimezone = "Nowhere/City"\n',
            encoding="utf-8",
        )
        result = cli("check-config", cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.splitlines() == [
            "config.toml: subscribers.2.frequency: must be one of immediate, daily, weekly",
            "config.toml: subscribers.2.timezone: unknown time zone 'Nowhere/City' (use an IANA name like Asia/Seoul)",
        ]
        assert "Traceback" not in result.stderr

    def test_config_from_environment_variable(self, tmp_path: Path) -> None:
        """$MOFA_MONITOR_CONFIG is used when --config is absent."""
        (tmp_path / "elsewhere.toml").write_text(
            '[[subscribers]]\nemail = "a@example.org"\n', encoding="utf-8"
        )
        result = cli("check-config", cwd=tmp_path, env={"MOFA_MONITOR_CONFIG": "elsewhere.toml"})
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("elsewhere.toml: OK")

    def test_missing_config_says_how_to_start(self, tmp_path: Path) -> None:
        """Without a config the message names the path tried and the first step."""
        result = cli("status", cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip() == (
            "config.toml: config file not found; start from the example: "
            "cp config.example.toml config.toml (or pass --config FILE)"
        )

    def test_usage_error_exits_2(self, tmp_path: Path) -> None:
        """A bad argument is a usage error."""
        result = cli("releases", "--since", "yesterday", cwd=tmp_path)
        assert result.returncode == 2
        assert "'yesterday' is not a date YYYY-MM-DD" in result.stderr
