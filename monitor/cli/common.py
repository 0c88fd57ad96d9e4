"""What every subcommand module shares: the registry of subcommands, the config on the command
line, stderr notes and the JSON line of a release. The parser (:mod:`monitor.cli.parser`) reads
the registry; the command modules fill it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from monitor.config import Config, load_config
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


def load(args: argparse.Namespace) -> Config:
    """The validated config named on the command line."""
    return load_config(config_path(args))


def load_readonly(args: argparse.Namespace) -> tuple[Config, str | None]:
    """The config for a command that only reads the state; an invalid file does not stop it.

    Returns the config and, when the file was invalid, the one-line note (also printed on
    stderr) naming what is used instead — see :mod:`monitor.ops.lastgood`.
    """
    from monitor.ops.lastgood import load_for_reading

    found = load_for_reading(config_path(args))
    if found.problem:
        say(f"mofa-monitor: warning: {found.problem}")
    return found.config, found.problem


def say(line: str) -> None:
    """One line on stderr; a closed stderr is not worth a second failure."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


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
