"""Operator alerts: one mail when a source starts failing, one when it recovers — never a flood.

Users of similar tools get either silence (a feed quietly stops) or a mail per failed poll. The
state machine here sits between the two: a source is *down* after ``alert_after`` consecutive
failures, or at once when its listing parses to nothing (a changed site, not "no news"). The
alert state lives in the database (``sources.alerted_at``), so a restart neither repeats an alert
nor forgets to announce the recovery.

Each mail is sent *before* the state is recorded, under a key derived from state that does not
change during the episode (the last success before it, or the time of the alert). A crash in
between therefore resends under the same key, which the Maildir transport turns into a no-op.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING, Literal

from monitor.config import Config
from monitor.errors import DeliveryError
from monitor.models import SourceHealth, TransportHealth
from monitor.store.sqlite import Store

if TYPE_CHECKING:  # the pipeline is only a source of records here
    from monitor.deliver.transports import Transport
    from monitor.models import SourceOutcome

log = logging.getLogger(__name__)

Kind = Literal["down", "recovered"]


@dataclass(frozen=True, slots=True)
class Alert:
    """One operator mail to send: which source, which transition, and its idempotency key."""

    source_id: str
    kind: Kind
    key: str
    health: SourceHealth
    listing_empty: bool = False


def decide(outcome: SourceOutcome, health: SourceHealth, alert_after: int) -> Alert | None:
    """The alert this poll outcome calls for, given the stored health after the poll."""
    if outcome.error is not None:
        down = outcome.listing_empty or health.consecutive_failures >= alert_after
        if not down or health.alerted_at is not None:
            return None
        since = health.last_success_at.isoformat() if health.last_success_at else "never"
        key = f"alert:{health.id}:down:{since}"
        return Alert(health.id, "down", key, health, outcome.listing_empty)
    if health.alerted_at is None:
        return None
    return Alert(
        health.id, "recovered", f"alert:{health.id}:up:{health.alerted_at.isoformat()}", health
    )


def notify_operator(
    config: Config,
    store: Store,
    outcomes: Iterable[SourceOutcome],
    transport: Callable[[], Transport],
) -> list[Alert]:
    """Send the alerts these outcomes call for and record them; returns what was sent.

    Without ``[service] admin_email`` the transitions are still logged and recorded, so the log
    says once that a source is down and once that it is back.
    """
    due = []
    for outcome in outcomes:
        health = store.source(outcome.source_id)
        alert = None if health is None else decide(outcome, health, config.service.alert_after)
        if alert is not None:
            due.append(alert)
    if not due:
        return []
    return _deliver(config, store, due, transport)


def _deliver(
    config: Config, store: Store, due: list[Alert], transport: Callable[[], Transport]
) -> list[Alert]:
    admin = config.service.admin_email
    if not admin:
        for alert in due:
            _log(alert)
            store.set_alerted(alert.source_id, alert.kind == "down")
        return due
    sent = []
    with transport() as channel:
        for alert in due:
            _log(alert)
            try:
                channel.send(alert.key, build_alert(config, alert, admin))
            except DeliveryError as exc:
                log.error("could not mail the %s alert of %s: %s", alert.kind, alert.source_id, exc)
                continue  # state unchanged: the next poll tries again, under the same key
            store.set_alerted(alert.source_id, alert.kind == "down")
            sent.append(alert)
    return sent


def _log(alert: Alert) -> None:
    h = alert.health
    if alert.kind == "down":
        log.error(
            "ALERT source %s is down (%d failure(s) in a row): %s",
            h.id,
            h.consecutive_failures,
            h.last_error,
        )
    else:
        log.warning("source %s recovered", h.id)


def build_alert(config: Config, alert: Alert, to: str) -> EmailMessage:
    """A plain-text operator mail; scraped or error text reaches the Subject only sanitised."""
    # imported here, not at the top: a poll that calls for no alert builds no mail
    from monitor.deliver.mailmessage import (
        MAIL_POLICY,
        mail_domain,
        set_mailbox_header,
        set_text_header,
    )

    h = alert.health
    message = EmailMessage(policy=MAIL_POLICY)
    set_mailbox_header(message, "From", config.mail.from_)
    set_mailbox_header(message, "To", to)
    set_text_header(message, "Subject", _subject(alert))
    message["Date"] = formatdate(localtime=False, usegmt=True)
    token = hashlib.sha256(alert.key.encode()).hexdigest()[:32]
    message["Message-ID"] = f"<alert.{token}@{mail_domain(config.mail.from_)}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    message.set_content(_body(alert, h))
    return message


def _subject(alert: Alert) -> str:
    from monitor.deliver.mailmessage import safe_header_text

    h = alert.health
    if alert.kind == "recovered":
        return safe_header_text(f"[mofa-monitor] source {h.id} recovered")
    what = (
        "listing parsed to nothing" if alert.listing_empty else f"{h.consecutive_failures} failures"
    )
    reason = safe_header_text(h.last_error or "", limit=80)
    return safe_header_text(f"[mofa-monitor] source {h.id} is DOWN ({what}): {reason}")


def _when(value: dt.datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "never"


def _body(alert: Alert, h: SourceHealth) -> str:
    from monitor.deliver.mailmessage import strip_controls

    lines = [
        f"Source:        {h.id} ({h.kind})",
        f"URL:           {h.url}",
        f"Last success:  {_when(h.last_success_at)}",
        f"Last attempt:  {_when(h.last_attempt_at)}",
    ]
    if alert.kind == "down":
        head = (
            "The listing answered but parsed to no releases: the site or its markup changed.\n"
            "This is not 'no news' — new releases are not being picked up."
            if alert.listing_empty
            else f"The source failed {h.consecutive_failures} times in a row."
        )
        error = strip_controls(h.last_error or "(none recorded)", keep_newlines=True)
        lines += [f"Failures:      {h.consecutive_failures} in a row", "", "Last error:", error]
        tail = (
            "Nothing is lost: once the source answers again, missed releases are picked up.\n"
            "You will get one more mail when it recovers, not one per failure.\n"
            "Check with: mofa-monitor status"
        )
    else:
        head = f"The source {h.id} answers again; polling is back to normal."
        tail = "Releases published during the outage are picked up and mailed as usual."
    return "\n".join([head, "", *lines, "", tail, ""])


# --- the mail transport --------------------------------------------------------------------


def notify_transport(
    config: Config, store: Store, transport: Transport, now: dt.datetime
) -> str | None:
    """One alert when mail stops going out, one when it flows again; returns the kind sent.

    Called after each sending pass with the pass's own transport. The log line is written once
    per episode, whatever happens to the mail (a broken Maildir cannot carry its own alert, so
    ``status`` and ``/healthz`` say it too). The keys follow the source alerts': derived from the
    episode's start, so a crash between mail and record resends under the same key.
    """
    health = store.transport_health()
    if health.failing_since is not None and health.alerted_at is None:
        log.error(
            "ALERT mail transport is failing since %s (%d attempt(s)): %s",
            health.failing_since.isoformat(timespec="seconds"),
            health.consecutive_failures,
            health.last_error,
        )
        kind, key = "down", f"alert:transport:down:{health.failing_since.isoformat()}"
    elif health.failing_since is None and health.alerted_at is not None:
        log.warning("mail transport recovered: digests are delivered again")
        kind, key = "recovered", f"alert:transport:up:{health.alerted_at.isoformat()}"
    else:
        return None
    admin = config.service.admin_email
    if admin:
        try:
            transport.send(key, _transport_alert(config, kind, health, admin, key))
        except DeliveryError as exc:
            log.error("could not mail the transport %s alert: %s", kind, exc)
    store.set_transport_alerted(kind == "down", now)
    return kind


def _transport_alert(
    config: Config, kind: str, health: TransportHealth, to: str, key: str
) -> EmailMessage:
    from monitor.deliver.mailmessage import (
        MAIL_POLICY,
        mail_domain,
        set_mailbox_header,
        set_text_header,
        strip_controls,
    )

    message = EmailMessage(policy=MAIL_POLICY)
    set_mailbox_header(message, "From", config.mail.from_)
    set_mailbox_header(message, "To", to)
    subject = (
        f"[mofa-monitor] mail transport is FAILING: {health.last_error}"
        if kind == "down"
        else "[mofa-monitor] mail transport recovered"
    )
    set_text_header(message, "Subject", subject)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    token = hashlib.sha256(key.encode()).hexdigest()[:32]
    message["Message-ID"] = f"<alert.{token}@{mail_domain(config.mail.from_)}>"
    message["Auto-Submitted"] = "auto-generated"
    error = strip_controls(health.last_error or "(none recorded)", keep_newlines=True)
    if kind == "down":
        body = (
            f"Digests are not going out through [mail] transport = {config.mail.transport}.\n\n"
            f"Failing since: {_when(health.failing_since)}\n"
            f"Attempts:      {health.consecutive_failures} in a row\n\n"
            f"Last error:\n{error}\n\n"
            "Nothing is lost: deliveries stay pending and are retried with backoff.\n"
            "Check with: mofa-monitor status\n"
        )
    else:
        body = "Digests are delivered again; pending ones go out as usual.\n"
    message.set_content(body)
    return message
