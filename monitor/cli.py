"""The command line: argparse subcommands, and the one place that turns errors into exit codes.

Helpers everywhere else raise :class:`~monitor.errors.MonitorError` subclasses with messages a
user can act on; :func:`main` prints them as one line (a traceback only with ``-v``) and exits
1, or 2 for usage and configuration problems.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from monitor import __version__
from monitor.config import Config, load_config
from monitor.errors import ConfigError, MonitorError
from monitor.logs import setup_logging
from monitor.models import Release

log = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace, TextIO], int]
_COMMANDS: dict[str, tuple[Handler, str]] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    """Register a subcommand; its docstring's first line is its help."""

    def register(handler: Handler) -> Handler:
        _COMMANDS[name] = (handler, (handler.__doc__ or "").strip())
        return handler

    return register


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer")
    return int(value)


def _address(value: str) -> str:
    from monitor.config import check_email

    try:
        return check_email(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The full parser; every subcommand has help (a test checks it)."""
    parser = argparse.ArgumentParser(
        prog="mofa-monitor",
        description="Follow the press releases of Korea's Ministry of Foreign Affairs, by theme, by e-mail.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: $MOFA_MONITOR_CONFIG, else ./config.toml)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging; tracebacks on errors"
    )
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="log line format (stderr)"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # The global options are accepted after the subcommand too (`releases --config FILE`);
    # SUPPRESS keeps a value given before it when none is given after.
    globals_after = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    globals_after.add_argument("--config", type=Path, help="config file (as before COMMAND)")
    globals_after.add_argument("-v", "--verbose", action="count", help="as before COMMAND")
    globals_after.add_argument("--log-format", choices=("text", "json"), help="as before COMMAND")

    def add(name: str) -> argparse.ArgumentParser:
        handler, doc = _COMMANDS[name]
        summary = doc.partition("\n")[0]
        p = sub.add_parser(name, help=summary, description=doc, parents=[globals_after])
        p.set_defaults(handler=handler)
        return p

    add("check-config")
    add("run")
    add("run-once").add_argument(
        "--no-send", action="store_true", help="store a baseline; plan and mail nothing"
    )
    p = add("releases")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--theme", metavar="ID", help="only releases tagged with this theme")
    p.add_argument(
        "--since", type=_date, metavar="YYYY-MM-DD", help="only releases dated on or after"
    )
    p.add_argument("--limit", type=_positive, metavar="N", help="at most N releases (newest first)")
    add("explain").add_argument(
        "release_id", metavar="RELEASE_ID", help="e.g. m_5676-322002, or a bare seq"
    )
    p = add("preview")
    p.add_argument("--subscriber", required=True, metavar="EMAIL")
    p.add_argument("--html", action="store_true", help="print the HTML part instead of the text")
    add("send-test").add_argument("--to", required=True, metavar="EMAIL")
    add("status")
    p = add("backfill")
    p.add_argument("--since", type=_date, required=True, metavar="YYYY-MM-DD")
    p.add_argument("--source", metavar="ID", help="only this source (default: every board source)")
    add("reclassify")
    p = add("eval")
    p.add_argument(
        "file", type=Path, nargs="+", metavar="FILE.jsonl", help="labelled releases (title, themes)"
    )
    p.add_argument(
        "--cv",
        type=_positive,
        metavar="K",
        help="K-fold cross-validation (model retrained per fold)",
    )
    p.add_argument("--seed", type=int, default=13, help="fold shuffle seed (default 13)")
    p.add_argument(
        "--train",
        type=Path,
        action="append",
        default=[],
        metavar="FILE.jsonl",
        help="also train every fold on this file (with --cv)",
    )
    p.add_argument(
        "--predictions",
        type=Path,
        metavar="OUT.jsonl",
        help="write id, expected, predicted, evidence per release",
    )
    add("subscribers").add_argument("--json", action="store_true", help="one JSON object per line")
    add("unsubscribe").add_argument("emails", type=_address, nargs="+", metavar="EMAIL")
    p = add("resubscribe")
    p.add_argument("email", type=_address, metavar="EMAIL")
    p.add_argument(
        "--yes", action="store_true", help="also when the reader unsubscribed themselves"
    )
    p = add("demo")
    p.add_argument(
        "--dir",
        type=Path,
        default=Path("demo-state"),
        help="where to put the demo state (default ./demo-state)",
    )
    return parser


def config_path(args: argparse.Namespace) -> Path:
    """``--config``, else ``$MOFA_MONITOR_CONFIG``, else ``./config.toml``."""
    return args.config or Path(os.environ.get("MOFA_MONITOR_CONFIG") or "config.toml")


def load(args: argparse.Namespace) -> Config:
    """The validated config named on the command line."""
    return load_config(config_path(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mofa-monitor`` and ``python -m monitor``."""
    from monitor import commands  # noqa: F401  (registers the subcommands)

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.log_format)
    try:
        return int(args.handler(args, sys.stdout) or 0)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        _traceback(args)
        return exc.exit_code
    except MonitorError as exc:
        print(f"mofa-monitor: error: {exc}", file=sys.stderr)
        _traceback(args)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mofa-monitor: interrupted", file=sys.stderr)
        return 130


def _traceback(args: argparse.Namespace) -> None:
    if args.verbose:
        traceback.print_exc(file=sys.stderr)


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
