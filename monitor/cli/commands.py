"""The subcommands of ``mofa-monitor``: each reads arguments, calls the pipeline, prints.

Each handler returns an exit code and raises MonitorError for anything expected; the error
boundary is :func:`monitor.cli.parser.main`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from monitor.cli.common import command, config_path, load, load_readonly, release_json, say
from monitor.errors import MonitorError, PermanentDeliveryError, UsageError
from monitor.ops.lock import StateLock
from monitor.ops.terminal import for_terminal, json_for_terminal

# What a command runs is imported inside it, so ``--help`` and a light command do not import
# the whole pipeline (config validation, HTTP, parsers, templates, the scheduler).
if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.schedule.app import App


@command("check-config")
def check_config(args: argparse.Namespace, out: TextIO) -> int:
    """Validate the configuration; exit 0, or 2 listing every problem as FILE: path: message."""
    from monitor.config import load_config
    from monitor.plan.subscriptions import config_warnings, unsubscribed_in_config

    config = load_config(config_path(args))  # always validated: never from the cache
    unsubscribed = unsubscribed_in_config(config)
    print(
        f"{config.path}: OK — {len(config.sources)} source(s), {len(config.subscribers)} "
        f"subscriber(s){f' ({unsubscribed} unsubscribed)' if unsubscribed else ''}, "
        f"{len(config.themes)} custom theme(s), state in {config.state_dir}",
        file=out,
    )
    for warning in config_warnings(config):
        say(f"{config.path}: warning: {warning}", "warning")
    return 0


@command("run-once")
def run_once(args: argparse.Namespace, out: TextIO) -> int:
    """One tick: poll every source, store and tag new releases, plan and send every due digest.

    With --no-send, what is found is stored as a baseline and nothing is planned or mailed.
    Exits 1 if any source failed (the others are still polled and mailed).
    """
    from monitor.ops.lastgood import remember as remember_config
    from monitor.schedule.app import App

    config = load(args, keep=True)  # it takes the state lock: it keeps the config cache
    with StateLock(config.state_dir), App(config) as app, _failures_said_once():
        remember_config(config, app.clock())
        app.reclaim_interrupted_sends()
        app.poller.progress = _progress
        never_polled = {s.id for s in config.sources if _never_succeeded(app, s.id)}
        report = app.tick(send=not args.no_send)
    failed = 0
    if report.poll is not None and not report.poll.outcomes:
        print(f"no enabled source in {config.path}: nothing polled", file=out)
    for outcome in report.poll.outcomes if report.poll else ():
        if outcome.deferred:
            print(f"{outcome.source_id}: {outcome.error}", file=out)
            continue
        if outcome.error:
            failed += 1
            print(
                for_terminal(
                    f"{outcome.source_id}: FAILED ({outcome.consecutive_failures} in a row): {outcome.error}"
                ),
                file=out,
            )
            continue
        note = " (baseline, not mailed)" if outcome.baseline and outcome.new else ""
        retry = f", {len(outcome.article_failures)} to retry" if outcome.article_failures else ""
        print(
            f"{outcome.source_id}: {len(outcome.new)} new{note}, {len(outcome.updated)} updated{retry}",
            file=out,
        )
    unreached = [
        o.source_id
        for o in (report.poll.outcomes if report.poll else ())
        if o.error and o.source_id in never_polled and _is_ministry(config, o.source_id)
    ]
    if unreached:
        print(
            "The ministry's site could not be reached (offline, or blocked?). To see what "
            "mofa-monitor does without it, try: mofa-monitor demo",
            file=out,
        )
    if report.send is not None:
        s = report.send
        print(
            f"digests: {len(report.planned)} planned, {len(s.sent)} sent, {len(s.retry)} deferred, {len(s.failed)} failed",
            file=out,
        )
    return 1 if failed else 0


def _progress(line: str) -> None:
    """A progress line of a long poll or backfill, on stderr (stdout keeps the summary)."""
    say(line)


def _never_succeeded(app: App, source_id: str) -> bool:
    health = app.store.source(source_id)
    return health is None or health.last_success_at is None


def _is_ministry(config: Config, source_id: str) -> bool:
    source = next(s for s in config.sources if s.id == source_id)
    host = urlsplit(source.url).hostname or ""
    return host == "mofa.go.kr" or host.endswith(".mofa.go.kr")


class _DropSourceFailureLogs(logging.Filter):
    """run-once prints each failed source as one line on stdout; the pipeline's ERROR record of
    the same failure (the service's only report of it) would say it a second time."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "monitor.schedule.poll" and record.levelno == logging.ERROR)


@contextlib.contextmanager
def _failures_said_once() -> Iterator[None]:
    dropper = _DropSourceFailureLogs()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(dropper)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(dropper)


@command("releases")
def releases(args: argparse.Namespace, out: TextIO) -> int:
    """List stored releases, newest first (--json: one object per line).

    Streams: each line is written as its row is read, so memory stays flat and the first line
    comes at once whatever the size of the archive.
    """
    from monitor.config import DEFAULT_THEME_IDS, suggest
    from monitor.schedule.app import App

    config = load_readonly(args)[0]
    if args.theme:
        # The ids alone, as the config's validation knows them: compiling the classifier's
        # rules (most of a second) is not needed to list releases.
        known = sorted(set(DEFAULT_THEME_IDS) | {theme.id for theme in config.themes})
        if args.theme not in known:
            raise UsageError(
                f"unknown theme {args.theme!r}{suggest(args.theme, known)} (known: {', '.join(known)})"
            )
    with App(config) as app:
        for release in app.store.iter_releases(
            theme=args.theme, since=args.since, limit=args.limit, evidence=False
        ):
            if args.json:
                print(json_for_terminal(release_json(release)), file=out)
            else:
                date = release.date.isoformat() if release.date else "????-??-??"
                themes = ",".join(release.theme_ids) or "-"
                print(
                    for_terminal(f"{date}  {release.id:<16} {release.title}  [{themes}]"), file=out
                )
    return 0


@command("explain")
def explain(args: argparse.Namespace, out: TextIO) -> int:
    """Show a release's themes, scores and the evidence for each, and the countries it names."""
    from monitor.schedule.app import App

    with App(load_readonly(args)[0]) as app:
        release = app.store.release(args.release_id)
        if release is None:
            raise MonitorError(
                f"no stored release {args.release_id!r} (see `mofa-monitor releases`)"
            )
        names = app.theme_names
        version = app.classifier.version
    print(for_terminal(f"{release.id}  {release.date or ''}  {release.title}"), file=out)
    print(for_terminal(f"url: {release.url}"), file=out)
    if not release.themes:
        print("themes: none (no theme had enough evidence)", file=out)
    for tag in release.themes:
        evidence = "; ".join(f"{e.term!r} in {e.where} ×{e.count}" for e in tag.evidence)
        print(
            for_terminal(
                f"  {tag.theme:<20} {tag.score:6.1f}  {names.get(tag.theme, tag.theme)}: {evidence}"
            ),
            file=out,
        )
    print(for_terminal(f"countries: {', '.join(release.countries) or 'none'}"), file=out)
    print(for_terminal(f"summary: {release.summary or '(none)'}"), file=out)
    print(f"classifier: {version}", file=out)
    return 0


@command("preview")
def preview(args: argparse.Namespace, out: TextIO) -> int:
    """Render what a subscriber would receive now, without sending or recording anything."""
    from monitor.deliver.mailmessage import unsubscribe_links
    from monitor.plan import outbox
    from monitor.render.digest import render_html, render_text
    from monitor.schedule.app import App

    config, _ = load_readonly(args)
    sub = config.subscriber(args.subscriber)
    if sub is None:
        with App(config) as app:
            was = args.subscriber.lower() in app.store.known_subscribers()
        raise MonitorError(
            f"{args.subscriber} is not a subscriber in {config.path}"
            + (" any more (removed from the config; see `mofa-monitor subscribers`)" if was else "")
        )
    with App(config) as app:
        suppression = app.store.suppressions().get(sub.email.lower())
        if suppression is not None:
            from monitor.plan.subscriptions import describe_suppression

            say(
                f"note: {sub.email} is unsubscribed {describe_suppression(suppression)}: "
                "nothing is sent to them (`mofa-monitor resubscribe` undoes it)",
                "warning",
            )
        digest = outbox.preview(config, app.store, sub, app.clock())
        secret = outbox.unsubscribe_secret(config, app.store)
        links = unsubscribe_links(
            config.mail.from_, sub.email, url=config.mail.unsubscribe_url, secret=secret
        )
        render = render_html if args.html else render_text
        rendered = render(digest, theme_names=app.theme_names, unsubscribe=links)
        print(for_terminal(rendered, multiline=True), file=out)
    return 0


@command("send-test")
def send_test(args: argparse.Namespace, out: TextIO) -> int:
    """Send a sample digest marked as a test (made-up releases of every theme, an update, an
    attachment) through the configured transport."""
    from monitor.deliver.transports import MaildirTransport
    from monitor.plan import outbox
    from monitor.render.digest import build_message, sample_digest
    from monitor.schedule.app import App

    config = load(args)
    sub = config.subscriber(args.to)
    zone = sub.timezone if sub else config.service.timezone
    # Marked as a test in the Subject too, so nobody takes the made-up releases for news.
    mail = dataclasses.replace(config.mail, subject_prefix=f"[TEST] {config.mail.subject_prefix}")
    with App(config) as app:
        digest = dataclasses.replace(
            sample_digest(app.clock(), zone),
            subscriber_email=args.to,
            subscriber_name=sub.name if sub else None,
        )
        try:
            message = build_message(
                digest,
                mail,
                format="html",
                theme_names=app.theme_names,
                unsubscribe_secret=outbox.unsubscribe_secret(config, app.store),
            )
            message.as_bytes()  # a header that cannot be written fails here, in one line
        except Exception as exc:  # any fault of rendering: one clear line, as in a send pass
            raise PermanentDeliveryError(
                f"cannot build the message ({type(exc).__name__}): {exc}"
            ) from exc
        key = f"send-test-{digest.message_id}"
        with app.transport() as transport:
            if isinstance(transport, MaildirTransport) and transport.delivered(key):
                raise PermanentDeliveryError(f"{key} is already in the Maildir; nothing written")
            transport.send(key, message)
    where = (
        config.maildir
        if config.mail.transport == "maildir"
        else f"{config.mail.smtp.host}:{config.mail.smtp.port}"
    )
    print(
        for_terminal(f"sample digest sent to {args.to} via {config.mail.transport} ({where})"),
        file=out,
    )
    return 0


@command("status")
def status(args: argparse.Namespace, out: TextIO) -> int:
    """Per source: last poll, last success, failures, last error; deliveries and subscribers by state."""
    from monitor.plan import outbox
    from monitor.schedule.app import App

    config, problem = load_readonly(args)
    if problem:
        print(f"config: INVALID — {problem}", file=out)
    with App(config) as app:
        health = {h.id: h for h in app.store.sources()}
        notes = {source_id: app.store.source_notes(source_id) for source_id in health}
        counts = app.store.delivery_counts()
        mail_status = outbox.status_lines(app.store, app.clock())
        total = app.store.count_releases()
        configured = app.config.sources
        from monitor.plan.subscriptions import state_counts, subscriber_states

        subscribers = state_counts(subscriber_states(app.config, app.store))

    def when(value: dt.datetime | None) -> str:
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if value else "never"

    for source in configured:
        h = health.get(source.id)
        state = (
            "never polled" if h is None else ("OK" if h.consecutive_failures == 0 else "FAILING")
        )
        if not source.enabled:
            state += " (disabled: not polled)"
        print(for_terminal(f"{source.id} ({source.kind}) {source.url}: {state}"), file=out)
        if h is not None:
            print(f"  last poll:    {when(h.last_attempt_at)}", file=out)
            print(f"  last success: {when(h.last_success_at)}", file=out)
            print(f"  failures:     {h.consecutive_failures} in a row", file=out)
            if h.total_count is not None:
                print(f"  posts on board: {h.total_count} (as the listing shows)", file=out)
            if h.last_error:
                print(for_terminal(f"  last error:   {h.last_error}"), file=out)
            note = notes[source.id]
            if note.wait_until is not None and note.wait_until > app.clock():
                print(
                    for_terminal(
                        f"  waiting:      not polled before {when(note.wait_until)} "
                        f"(the server asked: {note.wait_reason})"
                    ),
                    file=out,
                )
            if note.item_problems:
                print(
                    f"  last poll skipped or could not read {len(note.item_problems)} item(s):",
                    file=out,
                )
                for problem in note.item_problems:
                    print(for_terminal(f"    {problem}"), file=out)
    print(f"releases stored: {total}", file=out)
    print("deliveries: " + ", ".join(f"{n} {state}" for state, n in counts.items()), file=out)
    for line in mail_status:
        print(for_terminal(line), file=out)
    print(
        f"subscribers: {subscribers['active']} active, {subscribers['unsubscribed']} unsubscribed, "
        f"{subscribers['removed']} removed from the config (see `mofa-monitor subscribers`)",
        file=out,
    )
    return 0


@command("backfill")
def backfill(args: argparse.Namespace, out: TextIO) -> int:
    """Walk a board's listing back to --since and store what is missing (never mailed)."""
    from monitor.config import suggest
    from monitor.schedule.app import App

    config = load(args)
    # Without --source only enabled boards (as run-once polls); a named one even if disabled.
    sources = [
        s
        for s in config.sources
        if s.kind == "mofa-board" and (s.id == args.source or (args.source is None and s.enabled))
    ]
    boards = [s.id for s in config.sources if s.kind == "mofa-board"]
    if args.source is not None and args.source not in boards:
        raise UsageError(
            f"no board source {args.source!r} in {config.path}{suggest(args.source, boards)}"
            + (f" (board sources: {', '.join(boards)})" if boards else "")
        )
    if not sources and args.source is None:
        raise MonitorError(
            f"no enabled board source to backfill in {config.path}: nothing fetched "
            "(name a disabled one with --source to backfill it anyway)"
        )
    with StateLock(config.state_dir), App(config) as app:
        app.poller.progress = _progress
        for source in sources:

            def progress(page: int, rows: int, missing: int, source_id: str = source.id) -> None:
                say(f"{source_id}: page {page}: {rows} rows, {missing} missing so far")

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
    from monitor.classify.summarize import summarize
    from monitor.schedule.app import App

    config = load(args)
    count = last = 0
    with StateLock(config.state_dir), App(config) as app:
        # a page of releases at a time, each page one transaction: memory flat at any size, and
        # an interrupted run leaves every release tagged by the old rules or the new (rerun it)
        while rows := app.store.release_texts(after=last):
            app.store.retag_many(
                [
                    (r.row_id, app.classifier.classify(r.title, r.body), summarize(r.body))
                    for r in rows
                ]
            )
            count, last = count + len(rows), rows[-1].row_id
        print(f"re-tagged {count} release(s) with {app.classifier.version}", file=out)
    return 0


@command("eval")
def evaluate(args: argparse.Namespace, out: TextIO) -> int:
    """Score the classifier against labelled releases: per-theme precision, recall, F1.

    With --cv K, a K-fold cross-validation (the honest figure for labels the model may have
    seen). The config's [[themes]] apply when a config file is given or ./config.toml exists.
    """
    from monitor.classify.evaluate import main_eval
    from monitor.classify.themes import Classifier

    classifier = None
    if args.config or config_path(args).exists():
        from monitor.schedule.app import build_taxonomy

        classifier = Classifier(build_taxonomy(load(args)))
    return main_eval(
        args.file,
        out=out,
        classifier=classifier,
        cv=args.cv,
        seed=args.seed,
        train_paths=args.train,
        predictions=args.predictions,
    )


@command("demo")
def demo(args: argparse.Namespace, out: TextIO) -> int:
    """Try it offline: serve bundled pages on 127.0.0.1, poll a baseline then news, mail a digest."""
    from monitor.cli.demo import run_demo

    if not args.verbose:  # the demo tells its own story; -v shows the service's log as well
        logging.getLogger().setLevel(logging.WARNING)
    return run_demo(args.dir, out=out)


@command("run")
def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run the service until SIGTERM/SIGINT: poll on schedule, send digests, reload on change."""
    from monitor.schedule.service import run_service

    return run_service(config_path(args), out=out)
