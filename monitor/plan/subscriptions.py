"""Who gets what: each subscriber's state, as the ``subscribers``/``unsubscribe``/``resubscribe``
commands (:mod:`monitor.cli.subscribers`), ``status`` and ``/healthz`` show it.

A subscriber is in one of three states:

* ``active`` — in the config and not suppressed: digests are planned and sent;
* ``unsubscribed`` — suppressed (by the reader's link, or an operator): nothing is planned or
  sent, whatever the config says;
* ``removed`` — in the database's memory (it was configured once) but no longer in the config.

Suppressions win over the config, so an unsubscribed reader stays unsubscribed when the file still
lists them. Only ``resubscribe`` lifts one, and it refuses — unless ``--yes`` — when the reader
unsubscribed themselves: mailing someone who asked to stop needs a deliberate operator.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
from dataclasses import dataclass
from typing import Literal

from monitor.config import Config
from monitor.models import SubscriptionChange, Suppression
from monitor.store.sqlite import DB_NAME, Store

log = logging.getLogger(__name__)

State = Literal["active", "unsubscribed", "removed"]
STATES: tuple[State, ...] = ("active", "unsubscribed", "removed")


@dataclass(frozen=True, slots=True)
class SubscriberState:
    """One address as ``subscribers`` shows it (``name`` … ``frequency`` None when not configured)."""

    email: str
    state: State
    configured: bool
    suppression: Suppression | None
    name: str | None
    themes: tuple[str, ...] | None
    keywords: tuple[str, ...]
    exclude: tuple[str, ...]
    countries: tuple[str, ...]
    frequency: str | None
    schedule: str | None
    added_at: dt.datetime | None
    last_sent_at: dt.datetime | None
    pending: int
    failed: int
    last_change: SubscriptionChange | None = None

    def as_json(self) -> dict[str, object]:
        """The ``subscribers --json`` object (times ISO 8601 UTC; null when unknown)."""
        s = self.suppression
        return {
            "email": self.email,
            "name": self.name,
            "state": self.state,
            "configured": self.configured,
            "unsubscribed_at": _iso(s.created_at) if s else None,
            "unsubscribed_how": s.reason if s else None,
            "unsubscribed_by": (s.actor or ("reader" if s.by_reader else None)) if s else None,
            "themes": list(self.themes) if self.themes is not None else None,
            "keywords": list(self.keywords),
            "exclude": list(self.exclude),
            "countries": list(self.countries),
            "frequency": self.frequency,
            "schedule": self.schedule,
            "added_at": _iso(self.added_at),
            "last_digest_sent_at": _iso(self.last_sent_at),
            "pending_deliveries": self.pending,
            "failed_deliveries": self.failed,
            "last_change": self.last_change.as_json() if self.last_change else None,
        }


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value else None


def _schedule(frequency: str, send_at: dt.time, weekday: str, zone: str) -> str:
    """ "immediate, after each poll that finds news", "daily at 08:00 Asia/Seoul",
    "weekly on Fridays at 07:30 Europe/Paris"."""
    if frequency == "immediate":
        return "immediate, after each poll that finds news"
    day = "" if frequency == "daily" else f" on {weekday.capitalize()}s"
    return f"{frequency}{day} at {send_at:%H:%M} {zone}"


def subscriber_states(config: Config, store: Store) -> list[SubscriberState]:
    """Every configured address, then every other one the database knows, each with its state."""
    suppressions = store.suppressions()
    known = store.known_subscribers()
    deliveries = store.subscriber_deliveries()
    changes = store.last_subscription_changes()
    result: list[SubscriberState] = []
    seen: set[str] = set()
    for sub in config.subscribers:
        key = sub.email.lower()
        seen.add(key)
        last, pending, failed = deliveries.get(key, (None, 0, 0))
        suppression = suppressions.get(key)
        result.append(
            SubscriberState(
                email=sub.email,
                state="unsubscribed" if suppression else "active",
                configured=True,
                suppression=suppression,
                name=sub.name,
                themes=tuple(sub.themes) if sub.themes else None,
                keywords=tuple(sub.keywords),
                exclude=tuple(sub.exclude),
                countries=tuple(sub.countries),
                frequency=sub.frequency,
                schedule=_schedule(sub.frequency, sub.send_at, sub.weekday, sub.timezone),
                added_at=known.get(key),
                last_sent_at=last,
                pending=pending,
                failed=failed,
                last_change=changes.get(key),
            )
        )
    others = (set(known) | set(suppressions)) - seen
    for key in sorted(others):
        last, pending, failed = deliveries.get(key, (None, 0, 0))
        suppression = suppressions.get(key)
        result.append(
            SubscriberState(
                email=key,
                state="unsubscribed" if suppression else "removed",
                configured=False,
                suppression=suppression,
                name=None,
                themes=None,
                keywords=(),
                exclude=(),
                countries=(),
                frequency=None,
                schedule=None,
                added_at=known.get(key),
                last_sent_at=last,
                pending=pending,
                failed=failed,
                last_change=changes.get(key),
            )
        )
    return result


def state_counts(states: list[SubscriberState]) -> dict[State, int]:
    """How many subscribers are in each state (every state present, zero included)."""
    counts: dict[State, int] = dict.fromkeys(STATES, 0)
    for s in states:
        counts[s.state] += 1
    return counts


def local_time(value: dt.datetime | None) -> str:
    """A moment in the operator's zone, as ``status`` prints it; ``never`` for None."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if value else "never"


def describe_suppression(s: Suppression) -> str:
    """``since 2026-11-29 10:00:00 UTC (one-click, by the reader)``."""
    who = f"by {s.actor}" if s.actor else ("by the reader" if s.by_reader else "")
    how = ", ".join(part for part in (s.reason, who) if part)
    return f"since {local_time(s.created_at)} ({how})"


def operator_name() -> str:
    """Who runs this command, for the log: the login name, and the sudo caller if any."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = f"uid {os.getuid()}"
    sudo = os.environ.get("SUDO_USER")
    return f"{user} (via sudo from {sudo})" if sudo and sudo != user else user


def unsubscribed_in_config(config: Config) -> int:
    """How many configured subscribers are suppressed; 0 when there is no state yet.

    Reads an existing database only: ``check-config`` must not create a state folder.
    """
    if not (config.state_dir / DB_NAME).is_file():
        return 0
    with Store.in_dir(config.state_dir) as store:
        suppressed = store.suppressed()
    return sum(s.email.lower() in suppressed for s in config.subscribers)


def config_warnings(config: Config) -> list[str]:
    """What is valid but fragile: an unsubscribe secret that lives only in the state folder.

    The one-click links of every digest already sent are HMACs under that secret; if it is
    generated (kept in the database) a recreated state folder invalidates them all.
    """
    mail = config.mail
    if mail.unsubscribe_url is None:
        return []
    where = f"{config.state_dir / DB_NAME}"
    if mail.unsubscribe_secret_env is None:
        return [
            "mail.unsubscribe_secret_env is not set: the unsubscribe secret is generated and kept "
            f"only in {where}; if that file is lost, every unsubscribe link already sent stops "
            "working — set it (see README, Backups)"
        ]
    if not os.environ.get(mail.unsubscribe_secret_env):
        return [
            f"mail.unsubscribe_secret_env names ${mail.unsubscribe_secret_env}, which is not set "
            f"here: the generated secret in {where} is used instead, and links signed with the "
            "configured one will not verify"
        ]
    return []


# --- commands ------------------------------------------------------------------------------
