"""Shared plumbing of the performance bench: processes with their rusage, interleaved runs,
config files, the SMTP sink process, urlwatch's own environment, and the result table."""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.perf.archive import CACHE

REPO = Path(__file__).resolve().parents[2]
URLWATCH_VENV = CACHE / "urlwatch-venv"
URLWATCH_REQUIREMENT = "urlwatch>=2.28"


@dataclass(frozen=True)
class ProcRun:
    """One finished process: wall seconds, CPU seconds (user + system, its children included),
    peak resident memory in bytes, exit status."""

    wall: float
    cpu: float
    peak_rss: int
    returncode: int


def run_process(
    cmd: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 300.0
) -> ProcRun:
    """Run ``cmd`` with its output discarded; its own rusage comes from ``wait4``."""
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty child never blocks
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=env,
            cwd=REPO,
        )
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            errors.seek(0)
            err = errors.read().decode("utf-8", "replace").strip()
            raise RuntimeError(f"{' '.join(cmd[:4])} … exited {proc.returncode}: {err[-400:]}")
    return ProcRun(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, proc.returncode)


def cli() -> list[str]:
    """The product's command as a user runs it (the console script of this environment), its
    modules byte-compiled as an installed package's are (:func:`byte_compile_product`)."""
    byte_compile_product()
    script = Path(sys.executable).parent / "mofa-monitor"
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor"]


@functools.cache
def byte_compile_product() -> None:
    """Write the ``.pyc`` files of the product's package, as ``pip install`` does for every
    installed package (urlwatch's environment included), so a timed process does not compile
    the product from source. An editable install leaves that to the first import, which writes
    nothing when ``PYTHONDONTWRITEBYTECODE`` is set: each run would then pay it again."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("monitor")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Paired:
    """Interleaved runs of a product and its baseline; ratios are taken per repetition."""

    product: list[float]
    baseline: list[float]

    @property
    def ratio(self) -> float:
        return median([p / b for p, b in zip(self.product, self.baseline, strict=True) if b])


def interleave(
    reps: int, product: Callable[[], float], baseline: Callable[[], float], *, budget: float = 1e9
) -> Paired:
    """``reps`` repetitions, each running the product then its baseline (swapped on odd
    repetitions so neither always runs on a warmer machine); stops early once ``budget``
    seconds are spent, after at least one repetition."""
    out = Paired([], [])
    start = time.perf_counter()
    for i in range(reps):
        if i % 2 == 0:
            p = product()
            b = baseline()
        else:
            b = baseline()
            p = product()
        out.product.append(p)
        out.baseline.append(b)
        if time.perf_counter() - start > budget:
            break
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_sink() -> Iterator[int]:
    """An aiosmtpd sink in its own process on 127.0.0.1; yields its port."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.perf.sink", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if line != "ready":
            raise RuntimeError(f"the SMTP sink did not start: {line!r}")
        yield port
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_config(
    folder: Path,
    *,
    site_url: str,
    subscribers: Sequence[dict[str, object]],
    transport: str = "maildir",
    smtp_port: int = 25,
    state_dir: str = "state",
) -> Path:
    """A config file for the product (the documented TOML format)."""
    lines = [
        "[service]",
        f"state_dir = {toml_str(state_dir)}",
        'request_delay = "0s"',
        'timeout = "30s"',
        'timezone = "UTC"',
        "",
        "[[sources]]",
        'id = "mofa-en"',
        'kind = "mofa-board"',
        f"url = {toml_str(site_url)}",
        'every = "15m"',
        "",
        "[mail]",
        'from = "MOFA Monitor <monitor@bench.example>"',
        f"transport = {toml_str(transport)}",
        "",
        "[mail.smtp]",
        'host = "127.0.0.1"',
        f"port = {smtp_port}",
        'security = "none"',
        'timeout = "30s"',
    ]
    for sub in subscribers:
        lines += ["", "[[subscribers]]"]
        for key, value in sub.items():
            if isinstance(value, str):
                lines.append(f"{key} = {toml_str(value)}")
            elif isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            else:
                lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def urlwatch_bin(*, install: bool) -> tuple[Path | None, str]:
    """urlwatch from PyPI in the bench's own environment (never the project's): its path, or
    None and why not."""
    exe = URLWATCH_VENV / "bin" / "urlwatch"
    if exe.exists():
        return exe, ""
    if not install:
        return None, "not installed (smoke runs do not install it)"
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "venv", str(URLWATCH_VENV)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [str(URLWATCH_VENV / "bin" / "pip"), "install", "--quiet", URLWATCH_REQUIREMENT],
            check=True,
            capture_output=True,
            timeout=300,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        last = detail.decode("utf-8", "replace").strip().splitlines()[-1:] if detail else []
        shutil.rmtree(URLWATCH_VENV, ignore_errors=True)
        return None, f"cannot install {URLWATCH_REQUIREMENT}: {(last or [str(exc)])[0]}"
    return (exe, "") if exe.exists() else (None, "installed, but no urlwatch script")


def machine() -> str:
    """Cores, CPU model, Python version: printed with the table."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, "
        f"SQLite {__import__('sqlite3').sqlite_version}, {platform.system()} {platform.release()}"
    )


@dataclass
class Row:
    """One line of the result table."""

    measure: str
    now: str
    baseline: str = ""
    ratio: str = ""


def fmt_ratio(value: float, digits: int = 2) -> str:
    if value != value:  # NaN
        return "n/a"
    return f"{value:,.{digits}f}" if value < 100 else f"{value:,.0f}"


def table(rows: Sequence[Row]) -> str:
    """A Markdown table (also readable on a terminal)."""
    head = ("measure", "now", "baseline in the same run", "ratio")
    body = [(r.measure, r.now, r.baseline, r.ratio) for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(4)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"]
    out.append("| " + " | ".join("-" * w for w in widths) + " |")
    for line in body:
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
    return "\n".join(out)
