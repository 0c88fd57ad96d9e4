"""``python -m bench.perf [--smoke]``: every performance measure in one table.

Each measure runs against its baseline in the same process tree, interleaved (product and
baseline alternate within each repetition, their order swapped every other one); the ratio is
taken per repetition and the median is printed. Everything runs on 127.0.0.1: the ministry's
site is the project's local copy (monitor/localsite), the SMTP relay an aiosmtpd sink in its own
process. Archives of 100 and 100,000 releases are synthesised once from the real corpus and cached
in ``~/.cache/mofa-bench`` (set ``MOFA_BENCH_CACHE`` to move it); urlwatch is installed from PyPI
into that folder too, never into the project's environment.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.perf import fanout, idle, scale
from bench.perf.harness import Row, fmt_ratio, machine, median, table, urlwatch_bin

SECTIONS = ("fanout", "idle", "scale", "help", "parse")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms" if seconds < 0.01 else f"{seconds * 1e3:,.0f} ms"


def _s(seconds: float) -> str:
    return f"{seconds:,.2f} s" if seconds < 10 else f"{seconds:,.1f} s"


def main(argv: list[str] | None = None, prog: str = "python -m bench.perf") -> int:
    """Run every measure (or those of ``--only``) and print the table; returns the exit status."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small sizes, ~30 s: checks it runs")
    parser.add_argument("--subscribers", type=int, help="fan-out size (default 10,000; smoke 50)")
    parser.add_argument("--large", type=int, help="large archive (default 100,000; smoke 500)")
    parser.add_argument("--repeat", type=int, help="repetitions of quick measures (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this group of measures (repeatable; default: all)",
    )
    args = parser.parse_args(argv)
    only = set(args.only or SECTIONS)
    smoke = args.smoke
    n = args.subscribers or (50 if smoke else 10_000)
    large = args.large or (500 if smoke else 100_000)
    small = 100
    reps = args.repeat or (1 if smoke else 5)
    fan_reps, fan_budget = (1, 0.0) if smoke else (3, 240.0)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="mofa-bench-"))
    rows: list[Row] = []
    try:
        print(f"machine: {machine()}", flush=True)
        urlwatch, why_not = urlwatch_bin(install=not smoke)

        fan_n = 0
        if "fanout" in only:
            fan_n = _fanout(rows, work, n, fan_reps, fan_budget)
        if "idle" in only:
            _idle(rows, work, reps, urlwatch, why_not)
        if "scale" in only:
            _scale(rows, work, small, large, reps)
        if "help" in only:
            _help(rows, reps, urlwatch)
        if "parse" in only:
            _parse(rows, reps, passes=1 if smoke else idle.PASSES)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    print()
    print(f"machine: {machine()}")
    print(
        f"command: {prog}{' --smoke' if smoke else ''}; medians of interleaved runs "
        f"(fan-out: {fan_n} repetition(s), others: {reps}); ratio = product / baseline "
        f"for times and bytes, product rate / baseline rate for msg/s; {elapsed:,.0f} s in all"
    )
    print(table(rows))
    return 0


def _fanout(rows: list[Row], work: Path, n: int, fan_reps: int, fan_budget: float) -> int:
    print(f"-- fan-out to {n:,} subscribers (5 distinct digests) …", flush=True)
    fan = fanout.run(work / "fanout", n, fan_reps, fan_budget)
    smtp_rate = median([fan.rate(r.send_s) for r in fan.smtp])
    rows.append(Row(
        f"fan-out of one immediate run to {n:,} subscribers over SMTP (5 distinct digests)",
        f"{smtp_rate:,.0f} msg/s",
        f"plain `smtplib`, one connection, pre-rendered: {median([fan.rate(s) for s in fan.plain]):,.0f} msg/s",
        fmt_ratio(fan.ratio(fan.smtp, fan.plain)),
    ))  # fmt: skip
    rows.append(Row(
        "same, against a naive sender (render per subscriber, a connection per message)",
        f"{smtp_rate:,.0f} msg/s",
        f"{median([fan.rate(s) for s in fan.naive]):,.0f} msg/s",
        fmt_ratio(fan.ratio(fan.smtp, fan.naive)),
    ))  # fmt: skip
    renders = int(median([r.renders for r in fan.smtp]))
    inlinings = int(median([r.inlinings for r in fan.smtp]))
    least = fanout.minimum_renders()
    rows.append(Row(
        f"template renders for those {n:,} mails",
        f"{renders:,} renders + {inlinings:,} CSS inlinings",
        f"5 distinct digests, each rendered once: {least[0]} renders + {least[1]} inlinings",
        f"{fmt_ratio((renders + inlinings) / sum(least), 1)}×",
    ))  # fmt: skip
    rows.append(Row(
        "fan-out into Maildir",
        f"{median([fan.rate(r.send_s) for r in fan.maildir]):,.0f} msg/s",
        f"the same bytes, raw tmp→fsync→link: {median([fan.rate(s) for s in fan.raw]):,.0f} msg/s",
        fmt_ratio(fan.ratio(fan.maildir, fan.raw)),
    ))  # fmt: skip
    plan_s = median([r.plan_s for r in fan.smtp + fan.maildir])
    rows.append(Row(f"planning {n:,} subscribers", _s(plan_s)))
    print(f"   done ({len(fan.smtp)} repetition(s))", flush=True)
    return len(fan.smtp)


def _idle(rows: list[Row], work: Path, reps: int, urlwatch: Path | None, why_not: str) -> None:

    print("-- idle polls, product vs urlwatch …", flush=True)
    polls = idle.idle_polls(work / "idle", reps, urlwatch, why_not)
    na = f"n/a: {polls.urlwatch_missing}"
    cpu = median(polls.product_cpu)
    rows.append(Row(
        "idle `run-once` (nothing new), whole process CPU",
        _ms(cpu),
        f"urlwatch polling the same listing: {_ms(median(polls.cpu.baseline))}" if polls.cpu else na,
        fmt_ratio(polls.cpu.ratio) if polls.cpu else "n/a",
    ))  # fmt: skip
    cond = "conditional GET" if polls.conditional else "no conditional GET"
    mine = f"{median(polls.product_bytes):,.0f} B, {median(polls.product_requests):.0f} requests, {cond}"
    if polls.bytes and polls.requests:
        other_cond = "conditional GET" if polls.urlwatch_conditional else "no conditional GET"
        other = f"urlwatch: {median(polls.bytes.baseline):,.0f} B, {median(polls.requests.baseline):.0f} requests, {other_cond}"
        rows.append(
            Row("bytes downloaded per idle poll", mine, other, fmt_ratio(polls.bytes.ratio, 1))
        )
    else:
        rows.append(Row("bytes downloaded per idle poll", mine, na, "n/a"))


def _scale(rows: list[Row], work: Path, small: int, large: int, reps: int) -> None:

    print(f"-- archives of {small:,} and {large:,} releases …", flush=True)
    site = idle._product.CountingSite(root=idle._product.site_root(), mode="recorded").start()
    try:
        sc = scale.run(work / "scale", small, large, reps, 1, site.list_url())
    finally:
        site.stop()
    k = f"{large:,} vs {small:,} releases"
    rows.append(Row(
        f"planning per subscriber, {k} stored",
        f"{_ms(median(sc.plan_per_sub.product))} vs {_ms(median(sc.plan_per_sub.baseline))}",
        "", fmt_ratio(sc.plan_per_sub.ratio, 1) + "×",
    ))  # fmt: skip
    rows.append(Row(
        f"idle poll's store work, {k}",
        f"{_ms(median(sc.idle_store.product))} vs {_ms(median(sc.idle_store.baseline))}",
        "", fmt_ratio(sc.idle_store.ratio, 1) + "×",
    ))  # fmt: skip
    rows.append(Row(
        f"`releases --theme {scale.THEME} --since {scale.SINCE}` at {large:,} releases",
        _ms(median(sc.query.product)),
        f"the same SQL in bare sqlite3 (a process): {_ms(median(sc.query.baseline))}",
        fmt_ratio(sc.query.ratio, 1),
    ))  # fmt: skip
    rows.append(Row(
        f"`releases --theme {scale.THEME} --since {scale.SINCE}`, {k}",
        f"{_ms(median(sc.query_flat.product))} vs {_ms(median(sc.query_flat.baseline))} "
        f"({sc.query_rows[1]:,} vs {sc.query_rows[0]:,} releases printed)",
        "", fmt_ratio(sc.query_flat.ratio, 2) + "×",
    ))  # fmt: skip
    full_mib = median([r.peak_rss for r in sc.full]) / 2**20
    rows.append(Row(
        f"`releases` with no filter at {large:,}",
        f"{_s(median([r.wall for r in sc.full]))}, {full_mib:,.0f} MiB peak memory",
    ))  # fmt: skip
    if sc.full_mid:
        mid_mib = median([r.peak_rss for r in sc.full_mid]) / 2**20
        rows.append(Row(
            f"`releases` with no filter, peak memory, {large:,} vs {sc.mid:,} releases",
            f"{full_mib:,.0f} MiB vs {mid_mib:,.0f} MiB "
            f"({_s(median([r.wall for r in sc.full_mid]))} at {sc.mid:,})",
            "", fmt_ratio(full_mib / mid_mib, 2) + "×",
        ))  # fmt: skip
    rows.append(Row(
        "database bytes per release",
        f"{sc.db_bytes / sc.releases:,.0f} B",
        f"title + body: {sc.text_bytes / sc.releases:,.0f} B",
        fmt_ratio(sc.db_bytes / sc.text_bytes, 1),
    ))  # fmt: skip


def _help(rows: list[Row], reps: int, urlwatch: Path | None) -> None:
    na = "n/a: urlwatch is not installed"
    print("-- --help …", flush=True)
    helps, mine_help = idle.help_times(reps + 2, urlwatch)
    rows.append(Row(
        "`mofa-monitor --help`",
        _ms(median(mine_help)),
        f"`urlwatch --help`: {_ms(median(helps.baseline))}" if helps else na,
        fmt_ratio(helps.ratio, 1) if helps else "n/a",
    ))  # fmt: skip


def _parse(rows: list[Row], reps: int, passes: int) -> None:
    print("-- parse cost, product vs the parser before issue 10 …", flush=True)
    for kind in ("article", "listing"):
        parse = idle.parse_cpu(reps, kind, passes)
        rows.append(Row(
            f"backfill, CPU per {kind} page (parse; target ratio ≤ 0.25)",
            _ms(median(parse.product)),
            f"the parser before issue 10 (bs4 `html.parser`, frozen: bench/perf/baseline_parse.py): {_ms(median(parse.baseline))}",
            fmt_ratio(parse.ratio),
        ))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
