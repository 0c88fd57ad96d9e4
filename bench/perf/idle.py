"""An idle ``run-once`` (nothing new) against urlwatch polling the same local listing; the
cost of ``--help``; parse cost per article and listing page (backfill) against the parser as it
was before issue 10 (``baseline_parse``, frozen)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.perf import _product, baseline_parse
from bench.perf.harness import Paired, cli, interleave, run_process, write_config

ARTICLES = _product.site_root() / "eng" / "brd" / "m_5676"
ARTICLE_URL = "https://www.mofa.go.kr/eng/brd/m_5676/view.do?seq={seq}"
LISTING_URL = "https://www.mofa.go.kr/eng/brd/m_5676/list.do?page={page}"
#: Each timed pass parses the page set this many times, so one pass takes tens of milliseconds
#: of CPU even for the fast parser (``process_time`` ticks are coarse on some kernels).
PASSES = 5


@dataclass
class IdleResult:
    cpu: Paired | None = None
    bytes: Paired | None = None
    requests: Paired | None = None
    product_bytes: list[float] = field(default_factory=list)
    product_requests: list[float] = field(default_factory=list)
    product_cpu: list[float] = field(default_factory=list)
    conditional: bool = False
    urlwatch_conditional: bool = False
    urlwatch_missing: str = ""


def _measured(site: _product.CountingSite, cmd: list[str]) -> tuple[float, float, float, bool]:
    """(CPU seconds, bytes the site sent, requests it got, whether a request was conditional)."""
    before_bytes, before = site.bytes_sent, len(site.requests)
    run = run_process(cmd)
    new = site.requests[before:]
    conditional = any("If-None-Match" in r.headers or "If-Modified-Since" in r.headers for r in new)
    return run.cpu, site.bytes_sent - before_bytes, len(new), conditional


def idle_polls(root: Path, reps: int, urlwatch: Path | None, why_not: str) -> IdleResult:
    """Both pollers against one local site (the recorded board, its cookie gate on)."""
    result = IdleResult(urlwatch_missing=why_not)
    site = _product.CountingSite(root=_product.site_root(), mode="recorded").start()
    try:
        folder = root / "idle"
        config = write_config(
            folder,
            site_url=site.list_url(),
            subscribers=[{"email": "desk@bench.example", "frequency": "immediate"}],
        )
        mofa = [*cli(), "--config", str(config), "run-once"]
        run_process([*cli(), "--config", str(config), "run-once", "--no-send"], timeout=600)
        run_process(mofa)  # the first run after the baseline may still settle state
        uw: list[str] = []
        if urlwatch is not None:
            (folder / "urls.yaml").write_text(
                f'name: "mofa"\nurl: "{site.list_url()}"\n', encoding="utf-8"
            )
            uw = [
                str(urlwatch),
                "--urls", str(folder / "urls.yaml"),
                "--config", str(folder / "urlwatch.yaml"),
                "--hooks", str(folder / "hooks.py"),
                "--cache", str(folder / "cache.db"),
            ]  # fmt: skip
            run_process(uw)  # first sight of the page fills its cache
        runs: list[tuple[tuple[float, float, float, bool], tuple[float, float, float, bool]]] = []
        for i in range(reps):
            if uw and i % 2:
                other = _measured(site, uw)
                mine = _measured(site, mofa)
            else:
                mine = _measured(site, mofa)
                other = _measured(site, uw) if uw else (0.0, 0.0, 0.0, False)
            runs.append((mine, other))
        result.product_cpu = [m[0] for m, _ in runs]
        result.product_bytes = [m[1] for m, _ in runs]
        result.product_requests = [m[2] for m, _ in runs]
        result.conditional = any(m[3] for m, _ in runs)
        if uw:
            result.cpu = Paired([m[0] for m, _ in runs], [o[0] for _, o in runs])
            result.bytes = Paired([m[1] for m, _ in runs], [o[1] for _, o in runs])
            result.requests = Paired([m[2] for m, _ in runs], [o[2] for _, o in runs])
            result.urlwatch_conditional = any(o[3] for _, o in runs)
    finally:
        site.stop()
    return result


def help_times(reps: int, urlwatch: Path | None) -> tuple[Paired | None, list[float]]:
    """Wall seconds of ``mofa-monitor --help`` (and ``urlwatch --help``), interleaved."""
    mine = [*cli(), "--help"]
    if urlwatch is None:
        return None, [run_process(mine).wall for _ in range(reps)]
    paired = interleave(
        reps, lambda: run_process(mine).wall, lambda: run_process([str(urlwatch), "--help"]).wall
    )
    return paired, paired.product


def _pages(kind: str) -> list[tuple[str, str]]:
    """(markup, URL) of every recorded ``view`` or ``list`` page of the press-release board."""
    if kind == "article":
        paths = sorted(ARTICLES.glob("view_seq*.html"))
        url = [ARTICLE_URL.format(seq=p.stem.removeprefix("view_seq")) for p in paths]
    else:
        paths = sorted(ARTICLES.glob("list_page*.html"))
        url = [LISTING_URL.format(page=p.stem.removeprefix("list_page")) for p in paths]
    return [(p.read_text("utf-8"), u) for p, u in zip(paths, url, strict=True)]


def parse_cpu(reps: int, kind: str = "article", passes: int = PASSES) -> Paired:
    """CPU seconds per ``kind`` page ("article" or "listing"): the product's parser against the
    parser as it was before issue 10 (:mod:`bench.perf.baseline_parse`), interleaved.

    Both parse every recorded page of that kind; each must give the same records (checked once
    here, so a fast parser that reads pages wrongly cannot pass for an improvement).
    """
    docs = _pages(kind)
    mine = _product.parse_article if kind == "article" else _product.parse_listing
    old = baseline_parse.parse_article if kind == "article" else baseline_parse.parse_listing
    for markup, url in docs:  # also the warm-up: selectors compiled once, as in a long backfill
        if mine(markup, url) != old(markup, url):
            raise AssertionError(f"{url}: the product's parser and today's disagree")

    def timed(parse: Callable[[str, str], object]) -> Callable[[], float]:
        def run() -> float:
            start = time.process_time()
            for _ in range(passes):
                for markup, url in docs:
                    parse(markup, url)
            return (time.process_time() - start) / (passes * len(docs))

        return run

    return interleave(reps, timed(mine), timed(old))
