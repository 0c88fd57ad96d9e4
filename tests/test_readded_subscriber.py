"""A subscriber removed from the config and added back (F22): their news starts anew at the
re-adding — no backlog of their absence (README: "only releases first seen after they were
added") — and a delivery planned before the removal is not sent to a removed address."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from test_mail_headers import THEMES
from test_outbox import Ledger, config_with, kst

from monitor.clock import system_clock as utcnow
from monitor.deliver.transports import MaildirTransport
from monitor.plan import outbox

A = "a@example.org"
B = "b@example.org"


def immediate(tmp_path: Path, *emails: str) -> Ledger:
    subs = "".join(f'[[subscribers]]\nemail = "{e}"\nfrequency = "immediate"\n' for e in emails)
    return Ledger(config_with(tmp_path, subs))


def planned_seqs(ledger: Ledger, email: str) -> list[int]:
    return [
        seq for key, items in ledger.contents().items() if key.startswith(email) for seq, _ in items
    ]


def test_a_readded_subscriber_gets_only_what_came_after_the_readding(tmp_path: Path) -> None:
    ledger = immediate(tmp_path, A, B)
    store = ledger.store
    store.sync_subscribers([A, B])
    ledger.release(1, kst(26, 12))
    later = utcnow() + dt.timedelta(hours=1)
    assert ledger.plan(later, poll_run=1) == [f"{A} immediate:1", f"{B} immediate:1"]

    store.sync_subscribers([B])  # A removed from the config
    ledger.release(2, kst(26, 13))  # published while A was away
    store.sync_subscribers([A, B])  # A added back
    ledger.release(3, kst(26, 14))
    ledger.plan(later + dt.timedelta(minutes=1), poll_run=2)
    assert planned_seqs(ledger, A) == [1, 3]  # not 2
    assert planned_seqs(ledger, B) == [1, 2, 3]


def test_staying_configured_keeps_the_window(tmp_path: Path) -> None:
    """Re-syncing an unchanged list (every start, every reload) moves nobody's window."""
    ledger = immediate(tmp_path, A)
    ledger.store.sync_subscribers([A])
    before = ledger.store.planning_window(A)
    ledger.release(1, kst(26, 12))
    ledger.store.sync_subscribers([A])
    assert ledger.store.planning_window(A) == before


def test_a_pending_delivery_of_a_removed_subscriber_is_not_sent(tmp_path: Path) -> None:
    ledger = immediate(tmp_path, A, B)
    ledger.store.sync_subscribers([A, B])
    ledger.release(1, kst(26, 12))
    now = utcnow() + dt.timedelta(hours=1)
    ledger.plan(now, poll_run=1)
    config_without_a = config_with(
        tmp_path, f'[[subscribers]]\nemail = "{B}"\nfrequency = "immediate"\n'
    )
    with MaildirTransport(tmp_path / "out") as transport:
        report = outbox.send_due(config_without_a, ledger.store, transport, THEMES, now=lambda: now)
    assert report.sent == [f"{B} immediate:1"]
    assert report.failed == [f"{A} immediate:1"]
    status = "\n".join(outbox.status_lines(ledger.store, now))
    assert f"failed {A} immediate:1" in status and "removed from the config" in status
