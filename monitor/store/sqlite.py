"""The store's one face: :class:`Store`, a small facade over the repositories of each concern.

Everything the service must not forget across crashes lives behind it — seen releases and their
revisions, themes, source health, subscribers, and the delivery ledger (the outbox). The SQL lives
in one repository per concern, each in its own module:

- :mod:`monitor.store.releases` — releases, revisions, theme tags, listing rows seen;
- :mod:`monitor.store.sources` — source health, poll runs, waits, item problems, robots.txt;
- :mod:`monitor.store.subscribers` — subscribers, suppressions, the subscription log;
- :mod:`monitor.store.deliveries` — the delivery ledger (outbox) and the transport's health;
- :mod:`monitor.store.db` — the shared connection, transactions, migrations, settings, and every
  SQLite-specific setting (the path to PostgreSQL, DESIGN §9, replaces that module).

Each public method of :class:`Store` is the repository method of the same name (see there for
shapes and rules); records come from :mod:`monitor.models`. No method takes SQL.
Migrations are numbered functions in :mod:`monitor.store.migrations`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from monitor.clock import Clock, system_clock
from monitor.closing import Closing

# Records the store returns, importable from here as before the split (their home: models).
from monitor.models import (  # noqa: F401
    READER_REASONS,
    CachedRobots,
    Delivery,
    PlanningWindow,
    SeenRevision,
    SourceHealth,
    SourceNotes,
    StoredVersion,
    SubscriptionChange,
    Suppression,
    TransportHealth,
)
from monitor.store.db import Database
from monitor.store.deliveries import DeliveryRepository
from monitor.store.releases import ReleaseRepository
from monitor.store.sources import SourceRepository
from monitor.store.subscribers import SubscriberRepository

DB_NAME = "monitor.sqlite3"

P = ParamSpec("P")
T = TypeVar("T")


class _Delegate(Generic[P, T]):
    """A facade method: ``store.name(...)`` is ``store.<repository>.name(...)``, typed as the
    repository's method (so mypy checks every call through the facade)."""

    def __init__(self, repository: str, method: Callable[Concatenate[Any, P], T]) -> None:
        self.repository = repository
        self.method = method
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, store: None, owner: type) -> Self: ...
    @overload
    def __get__(self, store: object, owner: type) -> Callable[P, T]: ...
    def __get__(self, store: object | None, owner: type) -> Self | Callable[P, T]:
        if store is None:
            return self
        bound: Callable[P, T] = getattr(getattr(store, self.repository), self.method.__name__)
        return bound


class Store(Closing):
    """All reads and writes of the state database. Not shared between threads: open one each.

    ``clock`` stamps everything the store records on its own (first seen, added, health, poll
    runs, suppressions, listing rows); methods that take ``now`` use the caller's time. Raises
    :class:`monitor.errors.StoreError` when the file cannot be opened or migrated.
    """

    def __init__(self, path: Path, *, clock: Clock = system_clock) -> None:
        self.path = path
        self.database = Database(path, clock=clock)
        #: The raw connection, for tests and diagnostics only; the application goes through the
        #: repositories.
        self.db: sqlite3.Connection = self.database.conn
        self.release_repository = ReleaseRepository(self.database)
        self.source_repository = SourceRepository(self.database)
        self.subscriber_repository = SubscriberRepository(self.database)
        self.delivery_repository = DeliveryRepository(self.database)

    @classmethod
    def in_dir(cls, state_dir: Path, *, clock: Clock = system_clock) -> Store:
        """Open (creating if needed) the database inside ``state_dir``."""
        return cls(state_dir / DB_NAME, clock=clock)

    @property
    def clock(self) -> Clock:
        """The clock the store stamps with."""
        return self.database.clock

    def close(self) -> None:
        """Close the connection; the WAL is checkpointed by SQLite."""
        self.database.close()

    @property
    def schema_version(self) -> int:
        """The number of migrations applied."""
        return self.database.schema_version

    def setting(self, key: str) -> str | None:
        """A small persistent value (e.g. the generated unsubscribe secret)."""
        return self.database.setting(key)

    def set_setting_once(self, key: str, value: str) -> str:
        """Store ``value`` unless a value exists; return the stored one (race-free)."""
        return self.database.set_setting_once(key, value)

    # -- releases and revisions (:mod:`monitor.store.releases`) ------------------------------------
    known_seqs = _Delegate("release_repository", ReleaseRepository.known_seqs)
    stored_titles = _Delegate("release_repository", ReleaseRepository.stored_titles)
    listed_seqs = _Delegate("release_repository", ReleaseRepository.listed_seqs)
    owed_listings = _Delegate("release_repository", ReleaseRepository.owed_listings)
    mark_listed = _Delegate("release_repository", ReleaseRepository.mark_listed)
    stored_version = _Delegate("release_repository", ReleaseRepository.stored_version)
    insert_release = _Delegate("release_repository", ReleaseRepository.insert_release)
    update_release = _Delegate("release_repository", ReleaseRepository.update_release)
    retag_many = _Delegate("release_repository", ReleaseRepository.retag_many)
    rebase_urls = _Delegate("release_repository", ReleaseRepository.rebase_urls)
    releases = _Delegate("release_repository", ReleaseRepository.releases)
    iter_releases = _Delegate("release_repository", ReleaseRepository.iter_releases)
    release = _Delegate("release_repository", ReleaseRepository.release)
    releases_by_row = _Delegate("release_repository", ReleaseRepository.releases_by_row)
    release_texts = _Delegate("release_repository", ReleaseRepository.release_texts)
    count_releases = _Delegate("release_repository", ReleaseRepository.count_releases)
    watermarks = _Delegate("release_repository", ReleaseRepository.watermarks)

    # -- sources, health, poll runs, waits, robots.txt (:mod:`monitor.store.sources`) --------------
    ensure_source = _Delegate("source_repository", SourceRepository.ensure_source)
    source = _Delegate("source_repository", SourceRepository.source)
    sources = _Delegate("source_repository", SourceRepository.sources)
    record_poll_success = _Delegate("source_repository", SourceRepository.record_poll_success)
    record_poll_failure = _Delegate("source_repository", SourceRepository.record_poll_failure)
    set_alerted = _Delegate("source_repository", SourceRepository.set_alerted)
    start_poll_run = _Delegate("source_repository", SourceRepository.start_poll_run)
    finish_poll_run = _Delegate("source_repository", SourceRepository.finish_poll_run)
    set_wait = _Delegate("source_repository", SourceRepository.set_wait)
    set_item_problems = _Delegate("source_repository", SourceRepository.set_item_problems)
    source_notes = _Delegate("source_repository", SourceRepository.source_notes)
    cached_robots = _Delegate("source_repository", SourceRepository.cached_robots)
    save_robots = _Delegate("source_repository", SourceRepository.save_robots)

    # -- subscribers, suppressions, subscription log (:mod:`monitor.store.subscribers`) ------------
    sync_subscribers = _Delegate("subscriber_repository", SubscriberRepository.sync_subscribers)
    known_subscribers = _Delegate("subscriber_repository", SubscriberRepository.known_subscribers)
    planning_window = _Delegate("subscriber_repository", SubscriberRepository.planning_window)
    planning_windows = _Delegate("subscriber_repository", SubscriberRepository.planning_windows)
    suppress = _Delegate("subscriber_repository", SubscriberRepository.suppress)
    suppressed = _Delegate("subscriber_repository", SubscriberRepository.suppressed)
    suppressions = _Delegate("subscriber_repository", SubscriberRepository.suppressions)
    unsuppress = _Delegate("subscriber_repository", SubscriberRepository.unsuppress)
    last_subscription_changes = _Delegate(
        "subscriber_repository", SubscriberRepository.last_subscription_changes
    )

    # -- the delivery ledger and transport health (:mod:`monitor.store.deliveries`) ----------------
    candidate_releases = _Delegate("delivery_repository", DeliveryRepository.candidate_releases)
    candidates_for = _Delegate("delivery_repository", DeliveryRepository.candidates_for)
    plan_delivery = _Delegate("delivery_repository", DeliveryRepository.plan_delivery)
    plan_deliveries = _Delegate("delivery_repository", DeliveryRepository.plan_deliveries)
    planned_periods = _Delegate("delivery_repository", DeliveryRepository.planned_periods)
    has_delivery = _Delegate("delivery_repository", DeliveryRepository.has_delivery)
    claim_delivery = _Delegate("delivery_repository", DeliveryRepository.claim_delivery)
    claim_deliveries = _Delegate("delivery_repository", DeliveryRepository.claim_deliveries)
    release_claims = _Delegate("delivery_repository", DeliveryRepository.release_claims)
    release_leases = _Delegate("delivery_repository", DeliveryRepository.release_leases)
    delivery_items = _Delegate("delivery_repository", DeliveryRepository.delivery_items)
    items_of_deliveries = _Delegate("delivery_repository", DeliveryRepository.items_of_deliveries)
    last_seen_revision = _Delegate("delivery_repository", DeliveryRepository.last_seen_revision)
    mark_sent = _Delegate("delivery_repository", DeliveryRepository.mark_sent)
    mark_all_sent = _Delegate("delivery_repository", DeliveryRepository.mark_all_sent)
    mark_retry = _Delegate("delivery_repository", DeliveryRepository.mark_retry)
    mark_uncertain = _Delegate("delivery_repository", DeliveryRepository.mark_uncertain)
    mark_failed = _Delegate("delivery_repository", DeliveryRepository.mark_failed)
    delivery_counts = _Delegate("delivery_repository", DeliveryRepository.delivery_counts)
    deliveries = _Delegate("delivery_repository", DeliveryRepository.deliveries)
    subscriber_deliveries = _Delegate(
        "delivery_repository", DeliveryRepository.subscriber_deliveries
    )
    transport_health = _Delegate("delivery_repository", DeliveryRepository.transport_health)
    record_transport_success = _Delegate(
        "delivery_repository", DeliveryRepository.record_transport_success
    )
    record_transport_failure = _Delegate(
        "delivery_repository", DeliveryRepository.record_transport_failure
    )
    set_transport_alerted = _Delegate(
        "delivery_repository", DeliveryRepository.set_transport_alerted
    )
