"""Costs that must stay flat as the archive grows: an idle poll's store work, planning one
subscriber, ``releases --theme --since``, ``releases`` with no filter, bytes per release."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.perf import _product
from bench.perf.archive import copy_to, index_rows, text_bytes
from bench.perf.harness import (
    REPO,
    Paired,
    ProcRun,
    cli,
    interleave,
    run_process,
    write_config,
)

#: The filter of the ``releases --theme X --since D`` measure.
THEME, SINCE = "north-korea", "2024-01-01"
#: The statement ``releases --theme X --since D`` ran when this bench was written (Store.releases),
#: run in bare sqlite3 as the floor of that query.
RELEASES_SQL = (
    "SELECT * FROM releases r WHERE 1 AND EXISTS (SELECT 1 FROM release_themes t "
    "WHERE t.release_id = r.id AND t.theme = ?) AND r.date >= ? "
    "ORDER BY r.date DESC, r.first_seen_at DESC, r.seq DESC"
)
PLAN_SUBSCRIBERS = 50


@dataclass
class World:
    """A working copy of an archive of ``size`` releases, with its config and open App."""

    size: int
    folder: Path
    config: Path
    app: _product.App
    next_seq: int = 950_000


@dataclass
class ScaleResult:
    small: int
    large: int
    idle_store: Paired = field(default_factory=lambda: Paired([], []))
    plan_per_sub: Paired = field(default_factory=lambda: Paired([], []))
    query: Paired = field(default_factory=lambda: Paired([], []))
    #: The same command at ``large`` (product) and at ``small`` (baseline): the flatness ratio.
    query_flat: Paired = field(default_factory=lambda: Paired([], []))
    #: Releases that query prints at ``small`` and at ``large``.
    query_rows: tuple[int, int] = (0, 0)
    full: list[ProcRun] = field(default_factory=list)
    #: ``releases`` with no filter at ``mid`` releases (peak memory must not grow with size).
    mid: int = 0
    full_mid: list[ProcRun] = field(default_factory=list)
    db_bytes: int = 0
    text_bytes: int = 0
    releases: int = 0


def open_world(root: Path, size: int, site_url: str) -> World:
    folder = root / f"archive-{size}"
    copy_to(size, folder / "state")
    subs = [
        {"email": f"planner{i:03d}@bench.example", "frequency": "immediate", "format": "html"}
        for i in range(PLAN_SUBSCRIBERS)
    ]
    config = write_config(folder, site_url=site_url, subscribers=subs)
    app = _product.App(_product.load_config(config))
    app.tick(send=False)  # the recorded site's releases: the listing is now known
    return World(size, folder, config, app)


def idle_store_seconds(world: World) -> float:
    """Seconds spent in the store during one idle poll (nothing new on the site)."""
    timer = _product.StoreTimer()
    store = world.app.store
    saved = dict(vars(store))
    timer.install(store)
    try:
        _product.poll(world.app)
    finally:
        for name in list(vars(store)):
            if name not in saved:
                delattr(store, name)
    return timer.seconds


def plan_seconds_per_subscriber(world: World) -> float:
    """Three new releases arrive in a new poll run; seconds to plan it, per subscriber."""
    store, app = world.app.store, world.app
    run_id = store.start_poll_run()
    rows = index_rows()
    for k in range(3):
        entry = rows[(world.next_seq + k) % len(rows)]
        seq = world.next_seq
        world.next_seq += 1
        body = f"1. {entry['title']}.\n2. The bench's new release {seq}."
        release = _product.make_release(
            seq, str(entry["title"]), dt.date.today(), body, f"https://www.mofa.go.kr/x?seq={seq}"
        )
        _product.store_release(
            store,
            release,
            app.classifier.classify(release.title, body),
            poll_run_id=run_id,
            baseline=False,
        )
    store.finish_poll_run(run_id, 3, 0)
    start = time.perf_counter()
    planned = _product.plan(app, run_id)
    elapsed = time.perf_counter() - start
    if planned != PLAN_SUBSCRIBERS:
        raise RuntimeError(f"planned {planned} of {PLAN_SUBSCRIBERS} subscribers")
    return elapsed / PLAN_SUBSCRIBERS


def bare_query(db: Path) -> ProcRun:
    code = (
        "import sqlite3,sys\n"
        "c=sqlite3.connect(sys.argv[1])\n"
        f"rows=c.execute({RELEASES_SQL!r},({THEME!r},{SINCE!r})).fetchall()\n"
        "sys.stdout.write(str(len(rows)))\n"
    )
    return run_process([sys.executable, "-c", code, str(db)])


def filtered_listing(config: Path) -> list[str]:
    """``mofa-monitor releases --theme THEME --since SINCE`` on that config."""
    return [*cli(), "--config", str(config), "releases", "--theme", THEME, "--since", SINCE]


def printed_lines(cmd: list[str]) -> int:
    """How many lines a command prints (the releases a listing shows)."""
    done = subprocess.run(cmd, capture_output=True, check=True, cwd=REPO, timeout=600)
    return done.stdout.count(b"\n")


def run(
    root: Path,
    small: int,
    large: int,
    reps: int,
    full_reps: int,
    site_url: str,
    mid: int = 10_000,
) -> ScaleResult:
    result = ScaleResult(small, large)
    worlds = {size: open_world(root, size, site_url) for size in (small, large)}
    try:
        lo, hi = worlds[small], worlds[large]
        result.idle_store = interleave(
            reps, lambda: idle_store_seconds(hi), lambda: idle_store_seconds(lo)
        )
        result.plan_per_sub = interleave(
            reps, lambda: plan_seconds_per_subscriber(hi), lambda: plan_seconds_per_subscriber(lo)
        )
        for world in worlds.values():
            world.app.close()
        worlds = {}
        db = next(p for p in (hi.folder / "state").iterdir() if p.suffix == ".sqlite3")
        query, query_small = filtered_listing(hi.config), filtered_listing(lo.config)
        result.query = interleave(
            reps, lambda: run_process(query).wall, lambda: bare_query(db).wall
        )
        result.query_flat = interleave(
            reps, lambda: run_process(query).wall, lambda: run_process(query_small).wall
        )
        result.query_rows = (printed_lines(query_small), printed_lines(query))
        full = [*cli(), "--config", str(hi.config), "releases"]
        result.full = [run_process(full, timeout=600) for _ in range(full_reps)]
        if small < mid < large:
            result.mid = mid
            folder = root / f"archive-{mid}"
            copy_to(mid, folder / "state")
            config = write_config(folder, site_url=site_url, subscribers=[])
            full_mid = [*cli(), "--config", str(config), "releases"]
            result.full_mid = [run_process(full_mid, timeout=600) for _ in range(full_reps)]
    finally:
        for world in worlds.values():
            world.app.close()
    from bench.perf.archive import build

    cached = build(large)
    result.releases, result.text_bytes = text_bytes(cached)
    result.db_bytes = sum(
        p.stat().st_size for p in cached.parent.glob(cached.name + "*") if p.is_file()
    )
    return result
