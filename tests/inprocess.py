"""The command line in this process: ``monitor.cli.main`` with its output captured.

Same code as ``python -m monitor`` without a Python start-up per command. Use a subprocess only
where the process itself is under test (exit on a signal, the entry point, real stdout/stderr).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

from monitor.cli import main


def run_cli(
    argv: Sequence[str], *, cwd: Path, drop_env: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """``mofa-monitor ARGV`` run in ``cwd``, with ``drop_env`` removed from the environment."""
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # main() installs its own stderr handler
    env = {k: v for k, v in os.environ.items() if k not in drop_env}
    try:
        with (
            mock.patch.dict(os.environ, env, clear=True),
            contextlib.chdir(cwd),
            redirect_stdout(out),
            redirect_stderr(err),
        ):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse's usage errors and --help, as the process exits
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    finally:
        root.handlers[:], root.level = handlers, level
    return subprocess.CompletedProcess(list(argv), code, out.getvalue(), err.getvalue())
