"""The outbox: decide which digests are due, freeze them, and send them exactly once.

Planning computes due periods from the clock and the database alone (never from scheduler
memory), so a digest whose hour passed while the service was down is planned when it comes back —
once, because deliveries are keyed ``(subscriber, digest_key)``. Each subscriber has a planning
window; every release first seen inside it is considered for them exactly once, and the window
moves in the same transaction that freezes the digest.

Sending claims one delivery at a time with a lease, sends it, and commits ``sent`` right after the
transport accepted it. A crash repeats at most the message in flight (never for Maildir, whose
file name is derived from the delivery).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from monitor.clock import local_time_label
from monitor.config import Config, SubscriberConfig
from monitor.errors import (
    DeliveryAbandonedError,
    DeliveryUncertainError,
    PermanentDeliveryError,
    RecipientRefusedError,
    TemporaryDeliveryError,
)
from monitor.models import Delivery, DeliveryItem, Digest, DigestItem, PlanningWindow, Release
from monitor.store.deliveries import DeliveryPlan
from monitor.store.sqlite import Store

if TYPE_CHECKING:
    from monitor.deliver.transports import Transport
    from monitor.render.digest import DigestRenderer

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
MAX_BACKOFF = dt.timedelta(hours=1)
UNSUBSCRIBE_SECRET_KEY = "unsubscribe_secret"


@dataclass(frozen=True, slots=True)
class DuePeriod:
    """A digest period that is due: its ledger key, when it fell due, and a label for people."""

    key: str
    due_at: dt.datetime
    label: str


@dataclass(slots=True)
class SendReport:
    """What one pass of the sender did."""

    sent: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def matches(sub: SubscriberConfig, release: Release) -> bool:
    """:func:`monitor.render.digest.matches`, imported on first use: a tick with nothing to
    plan imports no renderer."""
    from monitor.render.digest import matches as rule

    return rule(sub, release)


def period_label(key: str, created_at: dt.datetime, zone: str, weekday: int = 0) -> str:
    """What a digest covers, for people: "28 Nov 2026", "23–30 Nov 2026", "28 Nov 2026, 09:31 KST"
    (days of the subscriber's zone; a time in it, labelled).

    A weekly key names the ISO week of its send day (``weekday``, Monday 0); the digest covers
    the seven days up to that day, so it is labelled with those — not the week just begun.
    """
    kind, _, value = key.partition(":")
    if kind == "daily":
        return dt.date.fromisoformat(value).strftime("%-d %b %Y")
    if kind == "weekly":
        year, _, week = value.partition("-W")
        sent = dt.date.fromisocalendar(int(year), int(week), weekday + 1)
        return day_range(sent - dt.timedelta(days=7), sent)
    local = created_at.astimezone(ZoneInfo(zone))
    return f"{local:%-d %b %Y, %H:%M} {local_time_label(local).rpartition(' ')[2]}"


def day_range(first: dt.date, last: dt.date) -> str:
    """ "23–30 Nov 2026", "27 Nov – 4 Dec 2026", "28 Dec 2026 – 4 Jan 2027"."""
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last:%-d %b %Y}"
    if first.year == last.year:
        return f"{first:%-d %b} – {last:%-d %b %Y}"
    return f"{first:%-d %b %Y} – {last:%-d %b %Y}"


def due_period(sub: SubscriberConfig, now: dt.datetime, poll_run: int | None) -> DuePeriod | None:
    """The latest period of this subscriber whose send time has passed, or None if none applies.

    ``immediate`` digests are tied to a poll run; ``daily``/``weekly`` fall due at ``send_at``
    local time in the subscriber's zone (on ``weekday`` for weekly).
    """
    if sub.frequency == "immediate":
        if poll_run is None:
            return None
        key = f"immediate:{poll_run}"
        return DuePeriod(key, now, period_label(key, now, sub.timezone))
    zone = ZoneInfo(sub.timezone)
    local = now.astimezone(zone)
    day = local.date()
    if local.time() < sub.send_at:
        day -= dt.timedelta(days=1)
    if sub.frequency == "weekly":
        day -= dt.timedelta(days=(day.weekday() - sub.weekday_index) % 7)
        year, week, _ = day.isocalendar()
        key = f"weekly:{year}-W{week:02d}"
    else:
        key = f"daily:{day.isoformat()}"
    due_at = dt.datetime.combine(day, sub.send_at, tzinfo=zone)
    return DuePeriod(key, due_at, period_label(key, due_at, sub.timezone, sub.weekday_index))


def new_message_id(config: Config, key: str, unique: str | None = None) -> str:
    """A Message-ID frozen at planning, so a retried send carries the same one; ``unique``:
    32 random hex digits (default: a fresh UUID4's)."""
    from monitor.deliver.mailmessage import mail_domain

    if unique is None:
        import uuid  # here: a tick that plans nothing needs no identifier

        unique = uuid.uuid4().hex
    return f"<{unique}.{key.replace(':', '-')}@{mail_domain(config.mail.from_)}>"


def plan_due(
    config: Config,
    store: Store,
    *,
    now: dt.datetime,
    poll_run: int | None = None,
    release_filter: Callable[[SubscriberConfig, Release], bool] = matches,
) -> list[str]:
    """Freeze every due digest that is due now; returns the keys planned (``email key``).

    Subscribers are planned :data:`PLAN_BATCH` at a time: their windows, the releases due to
    any of them and what each was already planned are read with a few queries per batch, each
    release is read and matched against each distinct subscription once, and the batch's
    digests are frozen in one transaction (:meth:`Store.plan_deliveries`).
    """
    suppressed = store.suppressed()
    periods: dict[tuple[object, ...], DuePeriod | None] = {}  # subscribers share schedules
    due = []
    for sub in config.subscribers:
        if sub.email.lower() in suppressed:
            continue
        schedule = (sub.frequency, sub.timezone, sub.send_at, sub.weekday_index)
        if schedule not in periods:
            periods[schedule] = due_period(sub, now, poll_run)
        period = periods[schedule]
        if period is not None:
            due.append((sub, period))
    selector = _Selector(store, release_filter)
    planned: list[str] = []
    for start in range(0, len(due), PLAN_BATCH):
        planned += _plan_batch(config, store, due[start : start + PLAN_BATCH], now, selector)
    return planned


#: Subscribers planned per transaction.
PLAN_BATCH = 1000


class _Selector:
    """Which releases a subscriber gets, for one planning pass: each release read once, its
    text normalised once, and (with the default rule) each distinct subscription matched once
    per release."""

    def __init__(
        self, store: Store, release_filter: Callable[[SubscriberConfig, Release], bool]
    ) -> None:
        self.store = store
        self.release_filter = release_filter
        self.releases: dict[int, Release] = {}
        self.texts: dict[int, str] = {}
        self.verdicts: dict[tuple[object, int], bool] = {}

    def load(self, row_ids: set[int]) -> None:
        missing = sorted(row_ids - self.releases.keys())
        if missing:
            self.releases.update(self.store.releases_by_row(missing))

    def wants(self, sub: SubscriberConfig, row_id: int) -> bool:
        release = self.releases[row_id]
        if self.release_filter is not matches:
            return self.release_filter(sub, release)
        profile = (
            tuple(sub.themes) if sub.themes is not None else None,
            tuple(sub.keywords),
            tuple(sub.exclude),
            tuple(sub.countries),
        )
        key = (profile, row_id)
        verdict = self.verdicts.get(key)
        if verdict is None:
            from monitor.render.digest import matchable_text
            from monitor.render.digest import matches as rule

            text = self.texts.get(row_id)
            if text is None:
                text = self.texts[row_id] = matchable_text(release)
            verdict = self.verdicts[key] = rule(sub, release, text=text)
        return verdict


def _plan_batch(
    config: Config,
    store: Store,
    due: list[tuple[SubscriberConfig, DuePeriod]],
    now: dt.datetime,
    selector: _Selector,
) -> list[str]:
    windows = store.planning_windows(sub.email for sub, _ in due)
    done = store.planned_periods((sub.email, period.key) for sub, period in due)
    todo = [
        (sub, period, window)
        for sub, period in due
        if (window := windows.get(sub.email.lower())) is not None
        and period.due_at > window.added_at
        and (sub.email.lower(), period.key) not in done
    ]
    if not todo:
        return []
    through = store.watermarks()
    candidates = store.candidates_for({sub.email: window for sub, _, window in todo}, through)
    selector.load({item.row_id for items in candidates.values() for item in items})
    plans = []
    random = secrets.token_hex(16 * len(todo))  # one read of the system's randomness
    for number, (sub, period, _) in enumerate(todo):
        items = [
            (item.row_id, item.revision, item.updated)
            for item in candidates[sub.email]
            if item.row_id in selector.releases
            and selector.wants(sub, item.row_id)
            and (sub.updates or not item.updated)
        ]
        allow_empty = sub.send_empty and sub.frequency != "immediate"  # "on news"
        unique = random[32 * number : 32 * number + 32]
        # a plan with nothing to send only moves the window (no message, so no Message-ID)
        message_id = new_message_id(config, period.key, unique) if items or allow_empty else ""
        plans.append(
            DeliveryPlan(sub.email, period.key, message_id, items, allow_empty=allow_empty)
        )
    created = store.plan_deliveries(plans, through=through, now=now)
    return [f"{plan.email} {plan.digest_key}" for plan in plans if plan.email.lower() in created]


def _due_items(
    store: Store,
    sub: SubscriberConfig,
    window: PlanningWindow,
    through: tuple[int, int],
    release_filter: Callable[[SubscriberConfig, Release], bool],
) -> list[tuple[int, int, DigestItem]]:
    """(row id, revision, item) of what the subscriber is due since their window last moved.

    The window is a range of row ids (:meth:`Store.watermarks`), not of times: a release first
    seen while the clock was stepped back is still after the window, and still mailed.
    """
    candidates = store.candidate_releases(sub.email, window, through)
    releases = store.releases_by_row([row_id for row_id, _, _ in candidates])
    return [
        (row_id, revision, item_for(store, sub.email, releases[row_id], row_id, updated))
        for row_id, revision, updated in candidates
        if row_id in releases
        and release_filter(sub, releases[row_id])
        and (sub.updates or not updated)
    ]


def item_for(
    store: Store,
    email: str,
    release: Release,
    row_id: int,
    updated: bool,
    delivery_id: int | None = None,
) -> DigestItem:
    """A digest item; an update says what changed since the revision the reader last got."""
    if not updated:
        return DigestItem(release)
    from monitor.render.view import describe_changes

    seen = store.last_seen_revision(email, row_id, before_delivery=delivery_id)
    return DigestItem(release, True, describe_changes(seen, release) if seen else "")


def preview(config: Config, store: Store, sub: SubscriberConfig, now: dt.datetime) -> Digest:
    """The digest this subscriber would get if their period fell due now; writes nothing."""
    through = store.watermarks()
    window = store.planning_window(sub.email) or PlanningWindow(now, *through[:1], *through)
    items = tuple(item for _, _, item in _due_items(store, sub, window, through, matches))
    return Digest(
        subscriber_email=sub.email,
        subscriber_name=sub.name,
        key="preview",
        label=period_label("preview", now, sub.timezone),
        items=items,
        message_id=new_message_id(config, "preview"),
        created_at=now,
        followed=tuple(sub.themes or ()),
        timezone=sub.timezone,
    )


def unsubscribe_secret(config: Config, store: Store) -> bytes:
    """The HMAC key of unsubscribe links: from the environment if configured, else generated once."""
    if config.mail.unsubscribe_secret_env:
        value = os.environ.get(config.mail.unsubscribe_secret_env)
        if value:
            return value.encode()
        log.warning(
            "%s is not set; using the generated unsubscribe secret",
            config.mail.unsubscribe_secret_env,
        )
    return store.set_setting_once(UNSUBSCRIBE_SECRET_KEY, secrets.token_urlsafe(32)).encode()


def digest_for(
    config: Config, store: Store, delivery: Delivery
) -> tuple[Digest, SubscriberConfig | None]:
    """Rebuild the frozen digest of a delivery from the ledger."""
    sub = config.subscriber(delivery.subscriber)
    items = store.delivery_items(delivery.id)
    releases = store.releases_by_row([row_id for row_id, _ in items])
    digest_items = tuple(
        item_for(store, delivery.subscriber, releases[row_id], row_id, updated, delivery.id)
        for row_id, updated in items
        if row_id in releases
    )
    digest = Digest(
        subscriber_email=delivery.subscriber,
        subscriber_name=sub.name if sub else None,
        key=delivery.digest_key,
        label=period_label(
            delivery.digest_key,
            delivery.created_at,
            sub.timezone if sub else "UTC",
            sub.weekday_index if sub else 0,
        ),
        items=digest_items,
        message_id=delivery.message_id,
        created_at=delivery.created_at,
        followed=tuple(sub.themes or ()) if sub else (),
        timezone=sub.timezone if sub else "UTC",
    )
    return digest, sub


def render(
    config: Config, store: Store, delivery: Delivery, theme_names: Mapping[str, str], secret: bytes
) -> EmailMessage:
    """The e-mail of a delivery, identical on every retry (same items, Message-ID and Date)."""
    from monitor.render.digest import build_message

    digest, sub = digest_for(config, store, delivery)
    return build_message(
        digest,
        config.mail,
        format=sub.format if sub else "html",
        theme_names=theme_names,
        unsubscribe_secret=secret,
    )


def send_due(
    config: Config,
    store: Store,
    transport: Transport,
    theme_names: Mapping[str, str],
    *,
    now: Callable[[], dt.datetime],
    cancel: threading.Event | None = None,
) -> SendReport:
    """Send every due delivery; one failing recipient never blocks the others.

    Deliveries are claimed :data:`BATCH` at a time, in one transaction. Each distinct digest
    (same releases, period, zone, followed themes and format) is rendered once per pass
    (:class:`~monitor.render.digest.DigestRenderer`); each reader's message is those bytes
    with their own fields put in. A message the SMTP server accepted is recorded ``sent`` at
    once, before the next one goes out, so a crash repeats at most that one; into a Maildir,
    whose transport is exactly-once by file name (``exactly_once``), a batch is recorded in
    one transaction after its files are written (see docs/DELIVERY.md).

    Each outcome also updates the transport's health (:meth:`Store.record_transport_failure`),
    which ``status``, ``/healthz`` and the operator alert (:func:`monitor.ops.alerts.notify_transport`)
    report. A send whose outcome is uncertain (the data went out, no final reply came) is sent
    once more at most, then failed — so it costs at most one duplicate, like a crash.

    ``cancel`` is the process's stop event: once set, no further delivery is tried (claimed
    ones are given back), and a send waiting for its final reply is abandoned by the transport
    and recorded as uncertain (:class:`DeliveryAbandonedError`), not as a transport failure.
    """
    report = SendReport()
    suppressed = store.suppressed()
    secret = unsubscribe_secret(config, store)
    stopping = cancel.is_set if cancel is not None else lambda: False
    renderer: DigestRenderer | None = None  # made (and the renderer imported) at the first claim
    digests = _DigestSource(config, store)
    health = _Health(store)
    record_per_batch = False
    while not stopping():
        batch = store.claim_deliveries(now(), LEASE, BATCH)
        if not batch:
            break
        if renderer is None:  # the transport is first touched here: a pass may send nothing
            from monitor.render.digest import DigestRenderer

            record_per_batch = bool(getattr(transport, "exactly_once", False))
            renderer = DigestRenderer(
                config.mail, theme_names, secret, linesep=getattr(transport, "linesep", "\n")
            )
        digests.load(batch)
        accepted: list[int] = []
        tried = 0
        try:
            for delivery in batch:
                if stopping():
                    break
                tried += 1
                sent = _send_one(
                    config,
                    store,
                    health,
                    transport,
                    renderer,
                    digests,
                    suppressed,
                    delivery,
                    now,
                    report,
                )
                if sent is None:
                    continue
                if record_per_batch:
                    accepted.append(delivery.id)
                else:  # recorded before the next message goes out: a crash repeats only this one
                    store.mark_sent(delivery.id, sent)
                health.success(sent)
                log.info("delivered %s", _label(delivery))
                report.sent.append(_label(delivery))
        finally:
            store.mark_all_sent(accepted, now())
            health.flush()
            store.release_claims([d.id for d in batch[tried:]])
    if stopping():
        return report  # the operator alert waits for the next pass: the transport is closing
    from monitor.ops.alerts import notify_transport  # alerts send through this module's transports

    notify_transport(config, store, transport, now())
    return report


#: Deliveries claimed (and, into a Maildir, recorded sent) per transaction.
BATCH = 200


class _Health:
    """The transport's health as one send pass records it: a failure at once (status, /healthz
    and the alert read it), a success when the batch ends or before the next failure — so the
    record reads as if each outcome were written in turn, at one write per batch when all goes
    well."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.success_at: dt.datetime | None = None

    def success(self, now: dt.datetime) -> None:
        self.success_at = now

    def failure(self, error: str, now: dt.datetime) -> None:
        self.flush()
        self.store.record_transport_failure(error, now)

    def flush(self) -> None:
        if self.success_at is not None:
            self.store.record_transport_success(self.success_at)
            self.success_at = None


class _DigestSource:
    """The frozen digests of one send pass, rebuilt from the ledger: each release read once per
    pass (so digests that share releases share the very objects, and a rendering), subscribers
    looked up by address, what an update changed described once per release and revision."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.releases: dict[int, Release] = {}
        self.items: dict[int, list[DeliveryItem]] = {}
        self.changes: dict[tuple[int, int], str] = {}
        self.labels: dict[tuple[str, dt.datetime, str, int], str] = {}

    def load(self, batch: list[Delivery]) -> None:
        """Read the items of ``batch`` and every release they name not read yet."""
        self.items = self.store.items_of_deliveries([d.id for d in batch])
        wanted = {row for items in self.items.values() for row, _ in items}
        missing = sorted(wanted - self.releases.keys())
        if missing:
            self.releases.update(self.store.releases_by_row(missing))

    def digest(self, delivery: Delivery, sub: SubscriberConfig) -> Digest:
        """What :func:`digest_for` builds, from the pass's caches."""
        items = tuple(
            self._item(delivery, self.releases[row_id], row_id, updated)
            for row_id, updated in self.items.get(delivery.id, ())
            if row_id in self.releases
        )
        period = (delivery.digest_key, delivery.created_at, sub.timezone, sub.weekday_index)
        label = self.labels.get(period)
        if label is None:
            label = self.labels[period] = period_label(*period)
        return Digest(
            subscriber_email=delivery.subscriber,
            subscriber_name=sub.name,
            key=delivery.digest_key,
            label=label,
            items=items,
            message_id=delivery.message_id,
            created_at=delivery.created_at,
            followed=tuple(sub.themes or ()),
            timezone=sub.timezone,
        )

    def _item(self, delivery: Delivery, release: Release, row_id: int, updated: bool) -> DigestItem:
        if not updated:
            return DigestItem(release)
        seen = self.store.last_seen_revision(
            delivery.subscriber, row_id, before_delivery=delivery.id
        )
        if seen is None:
            return DigestItem(release, True, "")
        key = (row_id, seen.revision)
        if key not in self.changes:
            from monitor.render.view import describe_changes

            self.changes[key] = describe_changes(seen, release)
        return DigestItem(release, True, self.changes[key])


def _label(delivery: Delivery) -> str:
    return f"{delivery.subscriber} {delivery.digest_key}"


def _send_one(
    config: Config,
    store: Store,
    health: _Health,
    transport: Transport,
    renderer: DigestRenderer,
    digests: _DigestSource,
    suppressed: set[str],
    delivery: Delivery,
    now: Callable[[], dt.datetime],
    report: SendReport,
) -> dt.datetime | None:
    """Try one claimed delivery; when the transport accepted it, the time it did (the caller
    records it sent), else None and its outcome is recorded here."""
    label = _label(delivery)
    if delivery.subscriber in suppressed:
        store.mark_failed(delivery.id, "unsubscribed before sending")
        report.failed.append(label)
        return None
    sub = config.subscriber(delivery.subscriber)
    if sub is None:
        store.mark_failed(delivery.id, REMOVED)
        log.warning("delivery %s not sent: %s", label, REMOVED)
        report.failed.append(label)
        return None
    from monitor.deliver.mailmessage import mailbox_value

    try:
        mailbox_value(None, delivery.subscriber, header="To")
    except ValueError as exc:  # an address no header can hold: retrying cannot help
        store.mark_failed(delivery.id, f"cannot build the message: {exc}")
        log.error("delivery %s failed for good: cannot build the message: %s", label, exc)
        report.failed.append(label)
        return None
    try:
        message = renderer.message(digests.digest(delivery, sub), format=sub.format)
    except Exception as exc:  # any fault of rendering is one line and a deferral, not a crash
        _unbuildable(store, health, delivery, label, exc, now(), report)
        return None
    try:
        transport.send(delivery.message_id, message)
    except DeliveryUncertainError as exc:
        _uncertain(store, health, delivery, label, exc, now(), report)
        return None
    except TemporaryDeliveryError as exc:
        retry_at = now() + _backoff(delivery.attempts)
        store.mark_retry(delivery.id, str(exc), retry_at)
        health.failure(str(exc), now())
        log.warning(
            "delivery %s deferred until %s: %s",
            label,
            retry_at.isoformat(timespec="seconds"),
            exc,
        )
        report.retry.append(label)
        return None
    except PermanentDeliveryError as exc:
        store.mark_failed(delivery.id, str(exc))
        if not isinstance(exc, RecipientRefusedError):  # the relay refuses our messages
            health.failure(str(exc), now())
        log.error("delivery %s failed for good: %s", label, exc)
        report.failed.append(label)
        return None
    except Exception as exc:  # a fault the transport did not classify: it may have sent
        fault = DeliveryUncertainError(
            f"unexpected fault while sending ({type(exc).__name__}): {exc}"
        )
        log.debug("delivery %s: the fault in full", label, exc_info=exc)
        _uncertain(store, health, delivery, label, fault, now(), report)
        return None
    return now()


#: Why a delivery planned for an address no longer in the config is not sent.
REMOVED = "removed from the config before sending"

#: How often a delivery with an uncertain outcome is sent again: once, so at most one duplicate.
UNCERTAIN_RESENDS = 1


def _backoff(attempts: int) -> dt.timedelta:
    return min(MAX_BACKOFF, dt.timedelta(seconds=30 * 2 ** min(attempts, 10)))


def _unbuildable(
    store: Store,
    health: _Health,
    delivery: Delivery,
    label: str,
    exc: Exception,
    now: dt.datetime,
    report: SendReport,
) -> None:
    """A delivery whose message cannot be built (a config value no header can hold, a template
    fault): deferred, not failed, so fixing the config sends it; recorded as a failure of the
    mail path so ``status``, ``/healthz`` and the operator alert say why nothing goes out."""
    problem = f"cannot build the message ({type(exc).__name__}): {exc}"
    retry_at = now + _backoff(delivery.attempts)
    store.mark_retry(delivery.id, problem, retry_at)
    health.failure(problem, now)
    log.error(
        "delivery %s deferred until %s: %s", label, retry_at.isoformat(timespec="seconds"), problem
    )
    log.debug("delivery %s: the fault in full", label, exc_info=exc)
    report.retry.append(label)


def _uncertain(
    store: Store,
    health: _Health,
    delivery: Delivery,
    label: str,
    exc: DeliveryUncertainError,
    now: dt.datetime,
    report: SendReport,
) -> None:
    """Record an uncertain outcome: resend once (the relay may have lost it), then stop."""
    if not isinstance(exc, DeliveryAbandonedError):  # a stop is no fault of the transport
        health.failure(str(exc), now)
    if delivery.uncertain < UNCERTAIN_RESENDS:
        retry_at = now + _backoff(delivery.attempts)
        store.mark_uncertain(
            delivery.id,
            f"delivery uncertain, will be sent once more: {exc}",
            retry_at,
            give_up=False,
        )
        log.warning("delivery %s uncertain; sending it once more at %s: %s", label, retry_at, exc)
        report.retry.append(label)
        return
    store.mark_uncertain(
        delivery.id,
        f"delivery uncertain twice, not sent again to avoid more duplicates "
        f"(check the recipient's mailbox): {exc}",
        now,
        give_up=True,
    )
    log.error("delivery %s uncertain twice; not sending it again: %s", label, exc)
    report.failed.append(label)


def status_lines(store: Store, now: dt.datetime, *, limit: int = 10) -> list[str]:
    """What ``status`` says about mail: the transport's health, then deliveries that need a look
    (pending with an error, failed, uncertain), newest first. Text may hold scraped or server
    text: neutralise it before printing."""
    health = store.transport_health()
    if health.failing_since is not None:
        lines = [
            f"mail transport: FAILING since {_local(health.failing_since)} "
            f"({health.consecutive_failures} failed attempt(s) in a row): {health.last_error}"
        ]
    elif health.last_success_at is not None:
        lines = [f"mail transport: OK (last delivery {_local(health.last_success_at)})"]
    else:
        lines = ["mail transport: nothing delivered yet"]
    troubled = [
        d
        for d in store.deliveries(limit=200)
        if d.status == "failed" or d.uncertain or (d.status == "pending" and d.last_error)
    ]
    for d in troubled[:limit]:
        state = d.status + (" (uncertain)" if d.uncertain else "")
        when = f", next try {_local(d.next_attempt_at)}" if d.status == "pending" else ""
        lines.append(
            f"  {state} {d.subscriber} {d.digest_key}: {d.attempts} attempt(s){when}: "
            f"{d.last_error or ''}".rstrip(": ")
        )
    if len(troubled) > limit:
        lines.append(f"  … and {len(troubled) - limit} more")
    return lines


def _local(value: dt.datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
