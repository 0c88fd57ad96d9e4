"""How long does ``mofa-monitor run`` take to exit after SIGTERM while a site trickles its answer?

Serves the board from 127.0.0.1 with an answer that never ends (one byte every 0.2 s in the
headers, or in the body), starts the service with ``timeout = "3s"``, sends SIGTERM as soon as
the site has seen the request, and prints the time to exit. The promise (README, "Stopping"):
within the configured timeout.
Usage: ``python -m bench.stop_latency [--runs N]``.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.sitekit import SiteServer

LIST = "/eng/brd/m_5676/list.do"
CONFIG = """[service]
state_dir = "state"
request_delay = "0s"
timeout = "3s"
respect_robots = false

[[sources]]
id = "src"
url = "{url}"
every = "60s"

[mail]
from = "Bench <bench@example.org>"
transport = "maildir"
maildir = "mail"
"""


def one_stop(kind: str) -> float:
    """Seconds from SIGTERM to exit for one service run against a ``kind`` trickle."""
    with SiteServer(mode="dynamic", cookie_gate=False) as site, tempfile.TemporaryDirectory() as d:
        site.publish(1, "A Release", "2026-06-01", "1. Text.")
        site.fault(LIST, kind, times=None, delay=0.2)
        config = Path(d) / "config.toml"
        config.write_text(CONFIG.format(url=site.list_url()), encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            cwd=d,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not site.requests_to(LIST) and time.monotonic() < deadline:
                time.sleep(0.02)
            signalled = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
            return time.monotonic() - signalled
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main(argv: list[str] | None = None) -> int:
    """Print the median and worst exit time per trickle kind."""
    parser = argparse.ArgumentParser(prog="python -m bench.stop_latency")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    for kind in ("trickle_headers", "trickle_body"):
        times = [one_stop(kind) for _ in range(args.runs)]
        print(f"{kind:16} median {statistics.median(times):.2f} s, worst {max(times):.2f} s "
              f"(timeout 3 s, {args.runs} runs)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
