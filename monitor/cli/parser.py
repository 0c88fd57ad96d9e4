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
import datetime as dt
import errno
import itertools
import logging
import os
import signal
import sqlite3
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from monitor import __version__
from monitor.cli import commands, subscribers  # noqa: F401  (they register the subcommands)
from monitor.cli.common import COMMANDS, say, set_stderr_format, stderr_format
from monitor.errors import ConfigError, MonitorError
from monitor.ops.logs import setup_logging

log = logging.getLogger(__name__)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


#: The largest count a command-line option takes (a "no limit" that still fits SQLite's int64).
MAX_COUNT = 10**9


def _positive(value: str) -> int:
    """A count from 1 to :data:`MAX_COUNT`, written in ASCII digits."""
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits.lstrip("0")) > 10:
        raise argparse.ArgumentTypeError(f"{value[:40]!r} is not a positive integer")
    if not 1 <= int(digits) <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{value!r} must be from 1 to {MAX_COUNT}")
    return int(digits)


def _address(value: str) -> str:
    """An argument that ends up in a mail header: the config's own address rule (RFC 5322)."""
    from monitor.config import check_email

    try:
        return check_email(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors follow ``--log-format``: with ``json`` the error is one JSON
    object on stderr like every other line there (:func:`~monitor.cli.common.say`), exit 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Each subcommand's own parser, by name (its usage and ``--help`` name its options).
        self.command_parsers: dict[str, argparse.ArgumentParser] = {}

    def error(self, message: str) -> NoReturn:
        if stderr_format() == "json":
            say(f"{self.prog}: error: {message} (see {self.prog} --help)", "error")
            sys.exit(2)
        super().error(message)


def _asks_for_json(argv: Sequence[str]) -> bool:
    """Whether the last ``--log-format`` of ``argv`` (as argparse keeps the last; also written
    as an abbreviation such as ``--log``, which argparse accepts) is ``json``."""
    chosen = None
    for word, after in itertools.pairwise([*argv, ""]):
        if word == "--":
            break
        name, equals, value = word.partition("=")
        if len(name) > 3 and "--log-format".startswith(name):
            chosen = value if equals else after
    return chosen == "json"


def build_parser() -> _Parser:
    """The full parser; every subcommand has help (a test checks it)."""
    parser = _Parser(
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
    globals_after = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    globals_after.add_argument("--config", type=Path, help="config file (as before COMMAND)")
    globals_after.add_argument("-v", "--verbose", action="count", help="as before COMMAND")
    globals_after.add_argument("--log-format", choices=("text", "json"), help="as before COMMAND")

    def add(name: str) -> argparse.ArgumentParser:
        handler, doc = COMMANDS[name]
        summary = doc.partition("\n")[0]
        p = sub.add_parser(name, help=summary, description=doc, parents=[globals_after])
        p.set_defaults(handler=handler)
        parser.command_parsers[name] = p
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
    parser = build_parser()
    words = sys.argv[1:] if argv is None else argv
    # read before parsing, so that a usage error is written as the command line asks (_Parser)
    set_stderr_format("json" if _asks_for_json(words) else "text")
    try:
        args, extras = parser.parse_known_args(words)
        if extras:  # named by the command's own parser, whose --help lists what it takes
            command_parser = parser.command_parsers.get(args.command, parser)
            command_parser.error(f"unrecognized arguments: {' '.join(extras)}")
    except BrokenPipeError:  # `mofa-monitor --help | head -1`
        return _output_closed(None)
    setup_logging(args.verbose, args.log_format)
    set_stderr_format(args.log_format)
    out = GuardedOutput(sys.stdout)
    try:
        code = int(args.handler(args, out) or 0)  # type: ignore[arg-type]
        out.flush()
        return code
    except OutputClosedError as exc:
        return _output_closed(exc.error)
    except ConfigError as exc:
        for problem in exc.problems:
            say(problem, "error")
        _traceback(args)
        return exc.exit_code
    except MonitorError as exc:
        say(f"mofa-monitor: error: {exc}", "error")
        _traceback(args)
        return exc.exit_code
    except KeyboardInterrupt:
        say("mofa-monitor: interrupted", "error")
        return 130
    except OSError as exc:
        say(f"mofa-monitor: error: {_os_error(exc)}", "error")
        _traceback(args)
        return 1
    except sqlite3.Error as exc:
        say(f"mofa-monitor: error: the state database failed: {exc}", "error")
        _traceback(args)
        return 1
    except Exception as exc:
        say(
            f"mofa-monitor: internal error ({type(exc).__name__}); "
            "run again with -v for the traceback, and please report it",
            "error",
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
    say(f"mofa-monitor: error: cannot write the output: {error.strerror or error}", "error")
    return 1


def _os_error(exc: OSError) -> str:
    """``FILE: reason`` (or just the reason) of a filesystem or network error."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' → '.join(names)}: {reason}" if names else reason


def _traceback(args: argparse.Namespace) -> None:
    if args.verbose:
        say(traceback.format_exc().rstrip("\n"), "error", multiline=True)
