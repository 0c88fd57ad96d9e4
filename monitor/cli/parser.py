"""The command line: argparse subcommands, and the one place that turns errors into exit codes.

Helpers everywhere else raise :class:`~monitor.errors.MonitorError` subclasses with messages a
user can act on; :func:`main` prints them as one line (a traceback only with ``-v``) and exits
1, or 2 for usage and configuration problems. Whatever else escapes a command is still one line:
an ``OSError`` names the file and the reason, a database error says so, anything unforeseen is
an "internal error" naming only its type (its message might carry a secret; ``-v`` shows all).
A reader that closes stdout early (``releases | head``) ends the command quietly with 141, the
status of a program killed by SIGPIPE, as other Unix tools end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import json
import logging
import os
import signal
import sqlite3
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from monitor import __version__
from monitor.config import Config, load_config
from monitor.errors import ConfigError, MonitorError
from monitor.models import Release
from monitor.ops.logs import setup_logging

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
    """An argument that ends up in a mail header: the config's own address rule (RFC 5322)."""
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
    add("send-test").add_argument("--to", type=_address, required=True, metavar="EMAIL")
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


def load_readonly(args: argparse.Namespace) -> tuple[Config, str | None]:
    """The config for a command that only reads the state; an invalid file does not stop it.

    Returns the config and, when the file was invalid, the one-line note (also printed on
    stderr) naming what is used instead — see :mod:`monitor.ops.lastgood`.
    """
    from monitor.ops.lastgood import load_for_reading

    found = load_for_reading(config_path(args))
    if found.problem:
        _say(f"mofa-monitor: warning: {found.problem}")
    return found.config, found.problem


#: Exit status of a command whose reader closed stdout: 128 + SIGPIPE, as for a killed tool.
EXIT_OUTPUT_CLOSED = 128 + signal.SIGPIPE


class OutputClosedError(Exception):
    """stdout cannot take more output: its reader went away (EPIPE) or the disk is full."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error


class GuardedOutput:
    """A text stream that turns a failed write or flush into :class:`OutputClosedError`.

    Only stdout is wrapped, so an ``OSError`` of a socket or a file elsewhere in a command is
    never mistaken for a reader that stopped reading.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputClosedError(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputClosedError(exc) from exc

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mofa-monitor`` and ``python -m monitor``."""
    from monitor.cli import commands  # noqa: F401  (registers the subcommands)

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except BrokenPipeError:  # `mofa-monitor --help | head -1`
        return _output_closed(None)
    setup_logging(args.verbose, args.log_format)
    out = GuardedOutput(sys.stdout)
    try:
        code = int(args.handler(args, out) or 0)  # type: ignore[arg-type]
        out.flush()
        return code
    except OutputClosedError as exc:
        return _output_closed(exc.error)
    except ConfigError as exc:
        for problem in exc.problems:
            _say(problem)
        _traceback(args)
        return exc.exit_code
    except MonitorError as exc:
        _say(f"mofa-monitor: error: {exc}")
        _traceback(args)
        return exc.exit_code
    except KeyboardInterrupt:
        _say("mofa-monitor: interrupted")
        return 130
    except OSError as exc:
        _say(f"mofa-monitor: error: {_os_error(exc)}")
        _traceback(args)
        return 1
    except sqlite3.Error as exc:
        _say(f"mofa-monitor: error: the state database failed: {exc}")
        _traceback(args)
        return 1
    except Exception as exc:
        _say(
            f"mofa-monitor: internal error ({type(exc).__name__}); "
            "run again with -v for the traceback, and please report it"
        )
        _traceback(args)
        return 1


def _output_closed(error: OSError | None) -> int:
    """Point stdout at /dev/null (so the exit flush is quiet) and say why only if not EPIPE."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    if error is None or error.errno == errno.EPIPE:
        return EXIT_OUTPUT_CLOSED
    _say(f"mofa-monitor: error: cannot write the output: {error.strerror or error}")
    return 1


def _os_error(exc: OSError) -> str:
    """``FILE: reason`` (or just the reason) of a filesystem or network error."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' → '.join(names)}: {reason}" if names else reason


def _say(line: str) -> None:
    """One line on stderr; a closed stderr is not worth a second failure."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


def _traceback(args: argparse.Namespace) -> None:
    if args.verbose:
        with contextlib.suppress(OSError, ValueError):
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
