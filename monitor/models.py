"""Plain frozen records that flow between the pipeline stages.

Every stage takes and returns these, never dicts or tuples, so a reader can follow one release
from the listing row to the digest line by its type alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple
from zoneinfo import ZoneInfo

from monitor.errors import RetryLaterError


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file linked from an article (``down.do``); ``url`` is absolute."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class ListingEntry:
    """One row of a board listing or one feed item: enough to know whether it is new."""

    board: str
    seq: int
    title: str
    date: dt.date | None
    url: str
    has_attachment: bool = False
    body: str | None = None  # feeds carry the text; listings do not


@dataclass(frozen=True, slots=True)
class Listing:
    """One parsed listing page; ``total`` is the board's post count when the page shows it.

    ``problems`` says, one line each, what the parser skipped or could not read (an item with a
    broken link, a date present but unreadable) while keeping the rest of the page.
    """

    entries: tuple[ListingEntry, ...]
    total: int | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Article:
    """One parsed article page: the release as the ministry published it."""

    board: str
    seq: int
    title: str
    date: dt.date | None
    url: str
    body: str
    attachments: tuple[Attachment, ...] = ()
    image_only: bool = False


@dataclass(frozen=True, slots=True)
class Evidence:
    """One matched term: what matched, where (``title`` or ``body``) and how often."""

    term: str
    where: str
    count: int


@dataclass(frozen=True, slots=True)
class ThemeTag:
    """A theme assigned to a release, with its score and the evidence for it."""

    theme: str
    score: float
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Classification:
    """Everything the classifier says of one release, stamped with the rules' version."""

    themes: tuple[ThemeTag, ...]
    countries: tuple[str, ...]
    version: str


@dataclass(frozen=True, slots=True)
class Release:
    """A stored release with its tags: what ``releases --json`` prints and digests show."""

    id: str  # "<board>-<seq>", stable across databases
    source: str
    board: str
    seq: int
    title: str
    date: dt.date | None
    url: str
    body: str
    summary: str
    themes: tuple[ThemeTag, ...] = ()
    countries: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    image_only: bool = False
    first_seen_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None  # set when title or body changed after first seen
    revision: int = 1
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def theme_ids(self) -> tuple[str, ...]:
        """Theme ids, strongest first."""
        return tuple(tag.theme for tag in self.themes)


def release_id(board: str, seq: int) -> str:
    """The public id of a release: identity is ``(board, seq)``, so the id is built from both."""
    return f"{board}-{seq}"


@dataclass(slots=True)
class SourceOutcome:
    """What one poll of one source did; ``error`` is set when the poll failed."""

    source_id: str
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    article_failures: list[str] = field(default_factory=list)
    baseline: bool = False
    pages: int = 0
    error: str | None = None
    listing_empty: bool = False
    consecutive_failures: int = 0
    #: Not polled at all: the server asked us to wait (``error`` says until when).
    deferred: bool = False
    #: Items of the answered pages that were skipped or could not be read fully.
    item_problems: list[str] = field(default_factory=list)
    #: Set when the server asked us to wait (Retry-After) during this poll.
    retry_later: RetryLaterError | None = None
    #: The listing answered ``304 Not Modified``: it is the one the last complete poll read.
    not_modified: bool = False


@dataclass(frozen=True)
class DigestItem:
    """One release in a digest; ``updated`` marks a corrected release sent once more, and
    ``changes`` says what changed since the reader's copy (``digestview.describe_changes``)."""

    release: Release
    updated: bool = False
    changes: str = ""


@dataclass(frozen=True)
class Digest:
    """Everything one mail shows, frozen by the outbox so a retry renders the same mail.

    ``followed`` (optional) lists the subscriber's themes: a release is shown under the
    strongest of *those*, so a sanctions reader sees a North Korea/sanctions item under Sanctions.
    """

    subscriber_email: str
    subscriber_name: str | None
    key: str
    label: str
    items: tuple[DigestItem, ...]
    message_id: str
    created_at: dt.datetime
    followed: tuple[str, ...] = ()
    timezone: str = "UTC"  # the subscriber's zone: every date and time they see is in it
    notice: str = ""  # a line shown above everything (send-test: "TEST MESSAGE ...")

    def local_time(self) -> dt.datetime:
        """``created_at`` in the subscriber's zone."""
        return self.created_at.astimezone(ZoneInfo(self.timezone))


# -- what the store returns (``monitor.store``): read by poll, plan, render, ops and the CLI --------


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What ``status`` and ``/healthz`` report for one source."""

    id: str
    kind: str
    url: str
    baseline_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_success_at: dt.datetime | None
    consecutive_failures: int
    last_error: str | None
    alerted_at: dt.datetime | None
    etag: str | None
    last_modified: str | None
    total_count: int | None
    validated_at: dt.datetime | None = None  # when a full read last saved etag/last_modified


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """What the store knows of a release already seen, to decide new / unchanged / updated."""

    row_id: int
    content_hash: str
    revision: int


#: How a reader unsubscribes themselves: the button of the confirmation page, or an RFC 8058
#: one-click POST from their mail client ("unsubscribe link" is what 0.1.0 recorded for both).
READER_REASONS = ("one-click", "confirmation page", "unsubscribe link")


@dataclass(frozen=True, slots=True)
class Suppression:
    """An address that must not be mailed: since when, how (``reason``) and by whom."""

    email: str
    created_at: dt.datetime
    reason: str
    actor: str | None

    @property
    def by_reader(self) -> bool:
        """Whether the reader asked for it (then only a deliberate operator may undo it)."""
        return self.reason in READER_REASONS


@dataclass(frozen=True, slots=True)
class SubscriptionChange:
    """One row of the subscription log: ``unsubscribe`` or ``resubscribe``, when, how, by whom."""

    action: str
    at: dt.datetime
    how: str
    actor: str | None

    def as_json(self) -> dict[str, str | None]:
        """The change as ``subscribers --json`` prints it (time in ISO 8601 UTC)."""
        at = self.at.astimezone(dt.UTC).isoformat(timespec="seconds")
        return {"action": self.action, "at": at, "how": self.how, "by": self.actor}


@dataclass(frozen=True, slots=True)
class SeenRevision:
    """A revision as a reader saw it; ``attachments`` None when not recorded (before 0.2)."""

    revision: int
    title: str
    body: str
    attachments: tuple[Attachment, ...] | None


@dataclass(frozen=True, slots=True)
class PlanningWindow:
    """A subscriber's place in the release order: due is what was stored after ``planned_row``
    (and revisions after ``planned_revision_row``); ``added_at`` dates their first period."""

    added_at: dt.datetime
    added_row: int
    planned_row: int
    planned_revision_row: int


@dataclass(frozen=True, slots=True)
class TransportHealth:
    """The mail transport's state: failing since when, how often in a row, the last error."""

    failing_since: dt.datetime | None
    last_failure_at: dt.datetime | None
    last_success_at: dt.datetime | None
    consecutive_failures: int
    last_error: str | None
    alerted_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of the outbox: a digest for one subscriber, frozen at planning time."""

    id: int
    subscriber: str
    digest_key: str
    status: str
    message_id: str
    created_at: dt.datetime
    attempts: int
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    last_error: str | None
    uncertain: int = 0  # sends whose final reply never came (the server may have the mail)


@dataclass(frozen=True, slots=True)
class SourceNotes:
    """A source's wait (``wait_until`` aware UTC, or None) and its last poll's item problems."""

    wait_until: dt.datetime | None
    wait_reason: str | None
    item_problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CachedRobots:
    """A robots.txt as fetched: HTTP ``status``, ``body`` text, and when it stops being fresh."""

    origin: str
    status: int
    body: str
    fetched_at: dt.datetime
    expires_at: dt.datetime


class Watermarks(NamedTuple):
    """The monotonic "now" of what is stored: the last release row id and the last revision row.

    Row ids only grow (no release is ever deleted), unlike the wall clock, which NTP or a VM
    resync may step back.
    """

    rows: int
    revisions: int


class PlannedItem(NamedTuple):
    """A release a subscriber is due: its row id, the revision due, and whether it is an update."""

    row_id: int
    revision: int
    updated: bool


class DeliveryItem(NamedTuple):
    """One release of a planned delivery, in planned order: its row id and whether it is an update."""

    row_id: int
    updated: bool


class SubscriberDeliveries(NamedTuple):
    """Per subscriber: the last digest sent (aware UTC, or None) and the pending/failed counts."""

    last_sent_at: dt.datetime | None
    pending: int
    failed: int


class ReleaseText(NamedTuple):
    """What ``reclassify`` reads of a stored release: its row id, title and body."""

    row_id: int
    title: str
    body: str
