"""One clock (issue 9, phase B): no module outside monitor/clock.py reads the wall clock.

Every stamp and every comparison with "now" goes through the :data:`monitor.clock.Clock` handed
down from the command line or the service, so tests set time through the clock. Durations and
timeouts may read ``time.monotonic``/``perf_counter`` directly (they stamp nothing).
"""

from __future__ import annotations

import ast
from pathlib import Path

import monitor

PACKAGE = Path(monitor.__file__).parent

#: ``module.attribute`` calls that read the wall clock.
WALL_CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "localtime"),
    ("time", "gmtime"),
}
#: Bare names that are wall-clock reads when called (``from time import time`` etc.).
WALL_CLOCK_NAMES = {"utcnow", "time_ns"}
#: Where a read is allowed, and why.
ALLOWED = {
    "clock.py": "the one place that reads the wall clock",
}


def wall_clock_reads(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            owner = func.value
            owner_name = (
                owner.id
                if isinstance(owner, ast.Name)
                else owner.attr
                if isinstance(owner, ast.Attribute)
                else None
            )
            if (owner_name, func.attr) in WALL_CLOCK_CALLS or func.attr in WALL_CLOCK_NAMES:
                found.append((node.lineno, ast.unparse(func)))
        elif isinstance(func, ast.Name) and func.id in WALL_CLOCK_NAMES:
            found.append((node.lineno, func.id))
    return found


def test_no_module_reads_the_wall_clock_but_the_clock() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in ALLOWED:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        offenders += [
            f"monitor/{relative}:{line}: {call}()" for line, call in wall_clock_reads(tree)
        ]
    assert not offenders, "read the injected Clock instead:\n" + "\n".join(offenders)


def test_the_scan_finds_each_kind_of_read() -> None:
    source = """
import datetime as dt, time
from datetime import datetime, date
dt.datetime.now(dt.UTC); datetime.utcnow(); date.today(); dt.date.today()
time.time(); time.time_ns(); utcnow()
time.monotonic(); time.perf_counter(); clock()
"""
    reads = wall_clock_reads(ast.parse(source))
    assert [line for line, _ in reads] == [4, 4, 4, 4, 5, 5, 5]


def test_the_allowed_files_exist() -> None:
    for relative in ALLOWED:
        assert (PACKAGE / relative).is_file(), relative
