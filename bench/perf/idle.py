"""An idle ``run-once`` (nothing new) against urlwatch polling the same local listing; the
cost of ``--help``; parse cost per article page (backfill)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from bs4 import BeautifulSoup

from bench.perf import _product
from bench.perf.harness import Paired, cli, interleave, run_process, write_config

ARTICLES = _product.site_root() / "eng" / "brd" / "m_5676"
ARTICLE_URL = "https://www.mofa.go.kr/eng/brd/m_5676/view.do?seq={seq}"


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


def parse_cpu(reps: int) -> Paired:
    """CPU seconds per article page: the product's parser vs a bare bs4 ``html.parser`` tree."""
    pages = sorted(ARTICLES.glob("view_seq*.html"))
    docs = [(p.read_text("utf-8"), int(p.stem.removeprefix("view_seq"))) for p in pages]

    def product() -> float:
        start = time.process_time()
        for html, seq in docs:
            _product.parse_article(html, ARTICLE_URL.format(seq=seq))
        return (time.process_time() - start) / len(docs)

    def baseline() -> float:
        start = time.process_time()
        for html, _ in docs:
            BeautifulSoup(html, "html.parser")
        return (time.process_time() - start) / len(docs)

    product()  # compile selectors and the like once, as a long backfill does
    return interleave(reps, product, baseline)
