"""What every subcommand module shares: the registry of subcommands, the config on the command
line, stderr notes and the JSON line of a release. The parser (:mod:`monitor.cli.parser`) reads
the registry; the command modules fill it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from monitor.ops.logs import JsonFormatter
from monitor.ops.terminal import for_terminal

if TYPE_CHECKING:  # the config module (pydantic) is imported by the commands that read one
    from monitor.config import Config
    from monitor.models import Release

Handler = Callable[[argparse.Namespace, TextIO], int]
COMMANDS: dict[str, tuple[Handler, str]] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    """Register a subcommand; its docstring's first line is its help."""

    def register(handler: Handler) -> Handler:
        COMMANDS[name] = (handler, (handler.__doc__ or "").strip())
        return handler

    return register


def config_path(args: argparse.Namespace) -> Path:
    """``--config``, else ``$MOFA_MONITOR_CONFIG``, else ``./config.toml``."""
    return args.config or Path(os.environ.get("MOFA_MONITOR_CONFIG") or "config.toml")


def load(args: argparse.Namespace, *, keep: bool = False) -> Config:
    """The validated config named on the command line (from the state folder's cache when the
    file is unchanged: :mod:`monitor.ops.configcache`, which says what ``keep`` does)."""
    from monitor.ops import configcache

    return configcache.load(config_path(args), keep=keep)


def load_readonly(args: argparse.Namespace) -> tuple[Config, str | None]:
    """The config for a command that only reads the state; an invalid file does not stop it.

    Returns the config and, when the file was invalid, the one-line note (also printed on
    stderr) naming what is used instead — see :mod:`monitor.ops.lastgood`.
    """
    from monitor.ops.lastgood import load_for_reading

    found = load_for_reading(config_path(args))
    if found.problem:
        say(f"mofa-monitor: warning: {found.problem}", "warning")
    return found.config, found.problem


_STDERR_FORMAT = ["text"]


def set_stderr_format(log_format: str) -> None:
    """``"text"`` or ``"json"`` (``--log-format``): how :func:`say` writes its lines."""
    _STDERR_FORMAT[0] = log_format


def stderr_format() -> str:
    """How :func:`say` writes its lines now: ``"text"`` or ``"json"``."""
    return _STDERR_FORMAT[0]


def say(line: str, level: str = "info", *, multiline: bool = False) -> None:
    """One line on stderr; a closed stderr is not worth a second failure.

    Lines quote config values, URLs and server or page text, so they pass through
    :func:`~monitor.ops.terminal.for_terminal`. With ``--log-format json`` the line is one JSON
    object shaped as the log's (``time``, ``level`` — ``info``/``warning``/``error`` —,
    ``logger`` ``"mofa-monitor"``, ``message``), so stderr stays one object per line;
    ``multiline`` keeps newlines in text (a traceback).
    """
    if _STDERR_FORMAT[0] == "json":
        record = logging.LogRecord(
            "mofa-monitor", logging.getLevelName(level.upper()), "", 0, line, None, None
        )
        text = JsonFormatter().format(record)
    else:
        text = for_terminal(line, multiline=multiline)
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr, flush=True)


def release_json(release: Release) -> str:
    """One line of ``releases --json`` (the fields of DESIGN §3, plus a few more)."""
    return json.dumps(
        {
            "id": release.id,
            "source": release.source,
            "board": release.board,
            "seq": release.seq,
            "title": release.title,
            "date": release.date.isoformat() if release.date else None,
            "url": release.url,
            "body": release.body,
            "summary": release.summary,
            "themes": list(release.theme_ids),
            "countries": list(release.countries),
            "attachments": [{"name": a.name, "url": a.url} for a in release.attachments],
            "image_only": release.image_only,
            "first_seen_at": release.first_seen_at.isoformat() if release.first_seen_at else None,
            "updated_at": release.updated_at.isoformat() if release.updated_at else None,
            "revision": release.revision,
        },
        ensure_ascii=False,
    )
