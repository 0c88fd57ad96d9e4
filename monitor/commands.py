"""The subcommands of ``mofa-monitor``: each reads arguments, calls the pipeline, prints.

Each handler returns an exit code and raises MonitorError for anything expected; the error
boundary is :func:`monitor.cli.main`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import sys
from typing import TextIO

from monitor import outbox
from monitor.app import App
from monitor.cli import command, config_path, load, load_readonly, release_json
from monitor.errors import MonitorError
from monitor.lastgood import remember as remember_config
from monitor.lock import StateLock
from monitor.store import utcnow


@command("check-config")
def check_config(args: argparse.Namespace, out: TextIO) -> int:
    """Validate the configuration; exit 0, or 2 listing every problem as FILE: path: message."""
    config = load(args)
    print(
        f"{config.path}: OK — {len(config.sources)} source(s), {len(config.subscribers)} "
        f"subscriber(s), {len(config.themes)} custom theme(s), state in {config.state_dir}",
        file=out,
    )
    return 0


@command("run-once")
def run_once(args: argparse.Namespace, out: TextIO) -> int:
    """One tick: poll every source, store and tag new releases, plan and send every due digest.

    With --no-send, what is found is stored as a baseline and nothing is planned or mailed.
    Exits 1 if any source failed (the others are still polled and mailed).
    """
    config = load(args)
    with StateLock(config.state_dir), App(config) as app:
        remember_config(config)
        app.reclaim_interrupted_sends()
        report = app.tick(send=not args.no_send)
    failed = 0
    for outcome in report.poll.outcomes if report.poll else ():
        if outcome.error:
            failed += 1
            print(
                f"{outcome.source_id}: FAILED ({outcome.consecutive_failures} in a row): {outcome.error}",
                file=out,
            )
            continue
        note = " (baseline, not mailed)" if outcome.baseline and outcome.new else ""
        retry = f", {len(outcome.article_failures)} to retry" if outcome.article_failures else ""
        print(
            f"{outcome.source_id}: {len(outcome.new)} new{note}, {len(outcome.updated)} updated{retry}",
            file=out,
        )
    if report.send is not None:
        s = report.send
        print(
            f"digests: {len(report.planned)} planned, {len(s.sent)} sent, {len(s.retry)} deferred, {len(s.failed)} failed",
            file=out,
        )
    return 1 if failed else 0


@command("releases")
def releases(args: argparse.Namespace, out: TextIO) -> int:
    """List stored releases, newest first (--json: one object per line)."""
    with App(load_readonly(args)[0]) as app:
        if args.theme and args.theme not in app.theme_names:
            raise MonitorError(
                f"unknown theme {args.theme!r}; known: {', '.join(sorted(app.theme_names))}"
            )
        found = app.store.releases(theme=args.theme, since=args.since, limit=args.limit)
    for release in found:
        if args.json:
            print(release_json(release), file=out)
        else:
            date = release.date.isoformat() if release.date else "????-??-??"
            themes = ",".join(release.theme_ids) or "-"
            print(f"{date}  {release.id:<16} {release.title}  [{themes}]", file=out)
    return 0


@command("explain")
def explain(args: argparse.Namespace, out: TextIO) -> int:
    """Show a release's themes, scores and the evidence for each, and the countries it names."""
    with App(load_readonly(args)[0]) as app:
        release = app.store.release(args.release_id)
        if release is None:
            raise MonitorError(
                f"no stored release {args.release_id!r} (see `mofa-monitor releases`)"
            )
        names = app.theme_names
        version = app.classifier.version
    print(f"{release.id}  {release.date or ''}  {release.title}", file=out)
    print(f"url: {release.url}", file=out)
    if not release.themes:
        print("themes: none (no theme had enough evidence)", file=out)
    for tag in release.themes:
        evidence = "; ".join(f"{e.term!r} in {e.where} ×{e.count}" for e in tag.evidence)
        print(
            f"  {tag.theme:<20} {tag.score:6.1f}  {names.get(tag.theme, tag.theme)}: {evidence}",
            file=out,
        )
    print(f"countries: {', '.join(release.countries) or 'none'}", file=out)
    print(f"summary: {release.summary or '(none)'}", file=out)
    print(f"classifier: {version}", file=out)
    return 0


@command("preview")
def preview(args: argparse.Namespace, out: TextIO) -> int:
    """Render what a subscriber would receive now, without sending or recording anything."""
    from monitor.digest import render_html, render_text
    from monitor.mailmessage import unsubscribe_links

    config, _ = load_readonly(args)
    sub = config.subscriber(args.subscriber)
    if sub is None:
        raise MonitorError(f"{args.subscriber} is not a subscriber in {config.path}")
    with App(config) as app:
        digest = outbox.preview(config, app.store, sub, utcnow())
        secret = outbox.unsubscribe_secret(config, app.store)
        links = unsubscribe_links(
            config.mail.from_, sub.email, url=config.mail.unsubscribe_url, secret=secret
        )
        render = render_html if args.html else render_text
        print(render(digest, theme_names=app.theme_names, unsubscribe=links), file=out)
    return 0


@command("send-test")
def send_test(args: argparse.Namespace, out: TextIO) -> int:
    """Send a sample digest (every theme, an update, an attachment) through the configured transport."""
    from monitor.digest import build_message, sample_digest

    config = load(args)
    with App(config) as app:
        digest = dataclasses.replace(sample_digest(utcnow()), subscriber_email=args.to)
        message = build_message(
            digest,
            config.mail,
            format="html",
            theme_names=app.theme_names,
            unsubscribe_secret=outbox.unsubscribe_secret(config, app.store),
        )
        with app.transport() as transport:
            transport.send(f"send-test-{digest.message_id}", message)
    where = (
        config.maildir
        if config.mail.transport == "maildir"
        else f"{config.mail.smtp.host}:{config.mail.smtp.port}"
    )
    print(f"sample digest sent to {args.to} via {config.mail.transport} ({where})", file=out)
    return 0


@command("status")
def status(args: argparse.Namespace, out: TextIO) -> int:
    """Per source: last poll, last success, failures, last error; deliveries by state."""
    config, problem = load_readonly(args)
    if problem:
        print(f"config: INVALID — {problem}", file=out)
    with App(config) as app:
        health = {h.id: h for h in app.store.sources()}
        counts = app.store.delivery_counts()
        total = app.store.count_releases()
        configured = app.config.sources

    def when(value: dt.datetime | None) -> str:
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if value else "never"

    for source in configured:
        h = health.get(source.id)
        state = (
            "never polled" if h is None else ("OK" if h.consecutive_failures == 0 else "FAILING")
        )
        print(f"{source.id} ({source.kind}) {source.url}: {state}", file=out)
        if h is not None:
            print(f"  last poll:    {when(h.last_attempt_at)}", file=out)
            print(f"  last success: {when(h.last_success_at)}", file=out)
            print(f"  failures:     {h.consecutive_failures} in a row", file=out)
            if h.total_count is not None:
                print(f"  posts on board: {h.total_count} (as the listing shows)", file=out)
            if h.last_error:
                print(f"  last error:   {h.last_error}", file=out)
    print(f"releases stored: {total}", file=out)
    print("deliveries: " + ", ".join(f"{n} {state}" for state, n in counts.items()), file=out)
    return 0


@command("backfill")
def backfill(args: argparse.Namespace, out: TextIO) -> int:
    """Walk a board's listing back to --since and store what is missing (never mailed)."""
    config = load(args)
    sources = [
        s for s in config.sources if s.kind == "mofa-board" and (args.source in (None, s.id))
    ]
    if not sources:
        raise MonitorError(
            f"no board source {args.source or ''} to backfill in {config.path}".replace("  ", " ")
        )
    with StateLock(config.state_dir), App(config) as app:
        for source in sources:

            def progress(page: int, rows: int, missing: int, source_id: str = source.id) -> None:
                print(
                    f"{source_id}: page {page}: {rows} rows, {missing} missing so far",
                    file=sys.stderr,
                )

            outcome = app.poller.backfill(source, args.since, progress=progress)
            retry = (
                f", {len(outcome.article_failures)} failed (run again)"
                if outcome.article_failures
                else ""
            )
            print(
                f"{source.id}: {len(outcome.new)} stored from {outcome.pages} page(s){retry}",
                file=out,
            )
    return 0


@command("reclassify")
def reclassify(args: argparse.Namespace, out: TextIO) -> int:
    """Re-tag every stored release with the current rules (after themes changed)."""
    from monitor.summarize import summarize

    config = load(args)
    with StateLock(config.state_dir), App(config) as app:
        rows = app.store.release_rows_for_reclassify()
        for row_id, title, body in rows:
            app.store.retag(row_id, app.classifier.classify(title, body), summarize(body))
        print(f"re-tagged {len(rows)} release(s) with {app.classifier.version}", file=out)
    return 0


@command("eval")
def evaluate(args: argparse.Namespace, out: TextIO) -> int:
    """Score the classifier against labelled releases: per-theme precision, recall, F1."""
    from monitor.evaluate import main_eval

    return main_eval(args.file, out=out)


@command("demo")
def demo(args: argparse.Namespace, out: TextIO) -> int:
    """Try it offline: serve bundled pages on 127.0.0.1, poll a baseline then news, mail a digest."""
    from monitor.demo import run_demo

    if not args.verbose:  # the demo tells its own story; -v shows the service's log as well
        logging.getLogger().setLevel(logging.WARNING)
    return run_demo(args.dir, out=out)


@command("run")
def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run the service until SIGTERM/SIGINT: poll on schedule, send digests, reload on change."""
    from monitor.service import run_service

    return run_service(config_path(args), out=out)
