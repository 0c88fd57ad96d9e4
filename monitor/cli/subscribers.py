"""The ``subscribers``, ``unsubscribe`` and ``resubscribe`` commands: show and change who gets
what without opening the database (the states themselves: :mod:`monitor.plan.subscriptions`).
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import TextIO

from monitor.cli.common import command, load_readonly
from monitor.errors import MonitorError
from monitor.ops.terminal import for_terminal, json_for_terminal

log = logging.getLogger(__name__)


@command("subscribers")
def subscribers(args: argparse.Namespace, out: TextIO) -> int:
    """Each subscriber's state, themes, frequency, last digest and pending deliveries.

    States: active; unsubscribed (since when, how, by whom); removed from the config.
    --json prints one object per line. An invalid config file does not stop it (see ``status``).
    """
    from monitor.plan.subscriptions import describe_suppression, local_time, subscriber_states
    from monitor.schedule.app import App

    with App(load_readonly(args)[0]) as app:
        states = subscriber_states(app.config, app.store)
    if args.json:
        for s in states:
            print(json_for_terminal(json.dumps(s.as_json(), ensure_ascii=False)), file=out)
        return 0
    if not states:
        print(for_terminal(f"no subscribers in {app.config.path}"), file=out)
        return 0
    for s in states:
        name = f" ({s.name})" if s.name else ""
        state = {"active": "active", "unsubscribed": "UNSUBSCRIBED", "removed": "removed"}[s.state]
        if s.suppression:
            state += " " + describe_suppression(s.suppression)
        if not s.configured:
            state += (
                "; no longer in the config" if s.state == "unsubscribed" else " from the config"
            )
        print(for_terminal(f"{s.email}{name}: {state}"), file=out)
        if s.configured:
            follows = [f"themes {', '.join(s.themes)}" if s.themes else None]
            follows.append(f"keywords {', '.join(s.keywords)}" if s.keywords else None)
            if not s.themes and not s.keywords:
                follows = ["every release"]
            if s.countries:
                follows.append(f"only naming {', '.join(s.countries)}")
            if s.exclude:
                follows.append(f"except {', '.join(s.exclude)}")
            print(for_terminal(f"  follows:     {'; '.join(f for f in follows if f)}"), file=out)
            print(f"  frequency:   {s.schedule}", file=out)
        if s.last_change and s.last_change.action == "resubscribe":
            c = s.last_change
            print(
                for_terminal(f"  resubscribed: {local_time(c.at)} by {c.actor or 'an operator'}"),
                file=out,
            )
        print(f"  last digest: {local_time(s.last_sent_at)}", file=out)
        failed = f" ({s.failed} failed)" if s.failed else ""
        print(f"  pending:     {s.pending} deliveries{failed}", file=out)
    return 0


@command("unsubscribe")
def unsubscribe(args: argparse.Namespace, out: TextIO) -> int:
    """Stop mailing one or more addresses now (pending digests are dropped); the config may
    keep them. Also re-applies suppressions after a lost state (see README, Backups)."""
    from monitor.plan.subscriptions import describe_suppression, operator_name
    from monitor.schedule.app import App

    config = load_readonly(args)[0]
    actor = operator_name()
    with App(config) as app:
        for email in args.emails:
            existing = app.store.suppressions().get(email.lower())
            if existing is not None:
                print(
                    for_terminal(
                        f"{email} is already unsubscribed {describe_suppression(existing)}"
                    ),
                    file=out,
                )
                continue
            app.store.suppress(email, "operator", actor=actor)
            log.info("unsubscribed %s (by %s)", email, actor)
            note = "" if config.subscriber(email) else f" (it is not a subscriber in {config.path})"
            print(for_terminal(f"{email} unsubscribed by {actor}; no more digests{note}"), file=out)
    return 0


@command("resubscribe")
def resubscribe(args: argparse.Namespace, out: TextIO) -> int:
    """Mail an unsubscribed address again, from now on; --yes is needed if the reader did it."""
    from monitor.plan.subscriptions import describe_suppression, operator_name
    from monitor.schedule.app import App

    config = load_readonly(args)[0]
    actor = operator_name()
    with App(config) as app:
        existing = app.store.suppressions().get(args.email.lower())
        if existing is None:
            raise MonitorError(f"{args.email} is not unsubscribed (see `mofa-monitor subscribers`)")
        if existing.by_reader and not args.yes:
            raise MonitorError(
                f"{args.email} unsubscribed themselves {describe_suppression(existing)}; "
                "mail them again only with their consent: pass --yes"
            )
        app.store.unsuppress(args.email, actor=actor, now=app.clock())
    log.warning(
        "resubscribed %s (by %s; was unsubscribed %s)",
        args.email,
        actor,
        describe_suppression(existing),
    )
    if config.subscriber(args.email) is None:
        print(
            for_terminal(
                f"{args.email} resubscribed by {actor}, but it is not a subscriber in "
                f"{config.path}: add it there to mail it"
            ),
            file=out,
        )
    else:
        print(
            for_terminal(
                f"{args.email} resubscribed by {actor}; digests resume with releases from now on"
            ),
            file=out,
        )
    return 0
