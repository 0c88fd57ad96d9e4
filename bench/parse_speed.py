"""How fast are the page parsers, compared with parsing the same HTML with bare BeautifulSoup?

Every parser must build a tree; what ours adds (row rules, text normalisation, attachments) is
the ratio to that baseline, measured in the same run so the machine's speed cancels out.
Usage: ``python -m bench.parse_speed [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from bs4 import BeautifulSoup

from monitor.parse.board import parse_article, parse_listing

SITE = Path(__file__).resolve().parents[1] / "tests" / "data" / "site" / "eng" / "brd" / "m_5676"
URL = "https://www.mofa.go.kr/eng/brd/m_5676/"


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def peak_bytes(fn: Callable[[], object]) -> int:
    """Peak traced allocation of one call."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main(argv: list[str] | None = None) -> int:
    """Print medians and ratios for listing and article pages."""
    parser = argparse.ArgumentParser(prog="python -m bench.parse_speed")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    listing = (SITE / "list_page1.html").read_text("utf-8")
    articles = [p.read_text("utf-8") for p in sorted(SITE.glob("view_seq*.html"))]
    seqs = [int(p.stem.removeprefix("view_seq")) for p in sorted(SITE.glob("view_seq*.html"))]
    cases = {
        "listing page": (
            lambda: BeautifulSoup(listing, "html.parser"),
            lambda: parse_listing(listing, URL + "list.do?page=1"),
        ),
        f"{len(articles)} article pages": (
            lambda: [BeautifulSoup(a, "html.parser") for a in articles],
            lambda: [
                parse_article(a, f"{URL}view.do?seq={s}")
                for a, s in zip(articles, seqs, strict=True)
            ],
        ),
    }
    print(f"median of {args.repeat} runs; baseline = BeautifulSoup(html, 'html.parser') alone")
    for name, (baseline, ours) in cases.items():
        base, mine = median_seconds(baseline, args.repeat), median_seconds(ours, args.repeat)
        print(
            f"  {name:<18} bs4 {base * 1e3:7.2f} ms   parse {mine * 1e3:7.2f} ms   "
            f"ratio {mine / base:5.2f}x   peak {peak_bytes(ours) / 1024:7.0f} KiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
