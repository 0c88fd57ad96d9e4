"""The store as parts: one injected clock for every stamp, typed filters instead of SQL, named
records, and SQL that stays behind the repositories."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import inspect
import re
from pathlib import Path

import pytest

from monitor.models import (
    Classification,
    DeliveryItem,
    PlannedItem,
    Release,
    ReleaseText,
    SubscriberDeliveries,
    ThemeTag,
    Watermarks,
)
from monitor.store import sqlite as facade
from monitor.store.sqlite import Store

STORE_DIR = Path(facade.__file__).parent
START = dt.datetime(2020, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)


class SetClock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


def release(seq: int, *, board: str = "m_5676", title: str = "Title", day: int = 27) -> Release:
    return Release(
        id=f"{board}-{seq}",
        source="mofa-en",
        board=board,
        seq=seq,
        title=title,
        date=dt.date(2026, 11, day),
        url=f"https://www.mofa.go.kr/eng/brd/{board}/view.do?seq={seq}",
        body="Body.",
        summary="Body.",
    )


def tagged(*themes: str) -> Classification:
    return Classification(tuple(ThemeTag(t, 5.0) for t in themes), (), "test")


@pytest.fixture
def clock() -> SetClock:
    return SetClock(START)


@pytest.fixture
def store(tmp_path: Path, clock: SetClock) -> Store:
    with Store.in_dir(tmp_path, clock=clock) as opened:
        yield opened


class TestOneClock:
    def test_every_stamp_the_store_makes_reads_the_injected_clock(
        self, store: Store, clock: SetClock
    ) -> None:
        """Sources, poll runs, listings, releases, revisions, subscribers and suppressions are
        stamped with the store's clock — a date in 2020 the wall clock cannot give."""
        health = store.ensure_source("mofa-en", "mofa-board", "https://example.org/list.do")
        assert health.last_attempt_at is None
        run = store.start_poll_run()
        store.mark_listed([("m_5676", 1), ("m_5676", 2)])
        row = store.insert_release(
            release(1), content_hash="a", baseline=False, poll_run_id=run, classification=tagged()
        )
        store.sync_subscribers(["Reader@Example.org"])

        first_failure = clock.advance(minutes=1)
        store.record_poll_failure("mofa-en", "boom")
        assert store.source("mofa-en").last_attempt_at == first_failure  # type: ignore[union-attr]
        alerted = clock.advance(minutes=1)
        store.set_alerted("mofa-en", True)
        success = clock.advance(minutes=1)
        store.record_poll_success("mofa-en", baseline=True)
        updated = clock.advance(hours=1)
        store.update_release(
            row, release(1, title="New"), content_hash="b", classification=tagged()
        )
        suppressed = clock.advance(hours=1)
        store.suppress("reader@example.org", "operator", actor="ops")
        finished = clock.advance(seconds=5)
        store.finish_poll_run(run, 1, 1)

        health = store.source("mofa-en")
        assert health is not None
        assert (health.alerted_at, health.last_success_at, health.baseline_at) == (
            alerted,
            success,
            success,
        )
        stored = store.release("m_5676-1")
        assert stored is not None
        assert (stored.first_seen_at, stored.updated_at) == (START, updated)
        assert store.known_subscribers() == {"reader@example.org": START}
        assert store.suppressions()["reader@example.org"].created_at == suppressed
        assert store.last_subscription_changes()["reader@example.org"].at == suppressed
        assert store.owed_listings(["m_5676"]) == {("m_5676", 2): START}
        run_row = store.db.execute(
            "SELECT started_at, finished_at FROM poll_runs WHERE id = ?", (run,)
        ).fetchone()
        assert tuple(dt.datetime.fromisoformat(v) for v in run_row) == (START, finished)
        assert store.clock is clock

    def test_no_module_of_the_store_reads_the_wall_clock(self) -> None:
        """Only monitor.clock may call now()/utcnow()/today()/time(); the store is handed a clock."""
        wall = re.compile(
            r"\b(?:datetime|dt\.datetime|date|dt\.date)\.(?:now|utcnow|today)\(|\btime\.time\("
        )
        offenders = [
            f"{path.name}:{number}"
            for path in sorted(STORE_DIR.glob("*.py"))
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if wall.search(line)
        ]
        assert offenders == []
        assert not hasattr(facade, "utcnow")


class TestTypedFilters:
    def test_no_public_method_of_the_store_takes_sql(self, store: Store) -> None:
        """Every public method's parameters are values, never a WHERE fragment or its params."""
        sql_like = {"where", "params", "sql", "query", "clause", "order_by"}
        methods = {
            name: getattr(store, name)
            for name in dir(Store)
            if not name.startswith("_") and callable(getattr(store, name))
        }
        assert {"releases", "release", "candidate_releases", "suppress"} <= methods.keys()
        found = {
            (name, parameter)
            for name, method in methods.items()
            for parameter in inspect.signature(method).parameters
            if parameter in sql_like
        }
        assert found == set()

    def test_filters_combine_and_keep_the_newest_first_order(self, store: Store) -> None:
        """theme, since, board, seq and limit narrow the same query; order is date then first seen."""
        store.ensure_source("mofa-en", "mofa-board", "https://example.org/list.do")
        for seq, board, day, themes in [
            (1, "m_5676", 20, ("trade",)),
            (2, "m_5676", 25, ("sanctions",)),
            (3, "m_5676", 26, ("trade", "sanctions")),
            (3, "m_5674", 27, ("trade",)),
        ]:
            store.insert_release(
                release(seq, board=board, day=day),
                content_hash=str(seq),
                baseline=False,
                poll_run_id=None,
                classification=tagged(*themes),
            )
        ids = lambda found: [r.id for r in found]  # noqa: E731
        assert ids(store.releases()) == ["m_5674-3", "m_5676-3", "m_5676-2", "m_5676-1"]
        assert ids(store.releases(theme="trade")) == ["m_5674-3", "m_5676-3", "m_5676-1"]
        assert ids(store.releases(theme="trade", since=dt.date(2026, 11, 21))) == [
            "m_5674-3",
            "m_5676-3",
        ]
        assert ids(store.releases(board="m_5676", theme="sanctions", limit=1)) == ["m_5676-3"]
        assert ids(store.releases(seq=3)) == ["m_5674-3", "m_5676-3"]
        assert store.release("3") is None  # a bare seq on two boards is ambiguous
        assert store.release("m_5674-3") is not None
        assert store.release("m_5676-x") is None
        # A value that looks like SQL is only a value: nothing matches, nothing breaks.
        assert store.releases(board="m_5676' OR '1'='1") == []


class TestRetagging:
    def test_texts_come_in_pages_and_retag_many_replaces_tags(self, store: Store) -> None:
        """``reclassify`` reads the archive a page at a time (flat memory) and writes a page per
        transaction."""
        store.ensure_source("mofa-en", "mofa-board", "https://example.org/list.do")
        rows = [
            store.insert_release(
                release(seq),
                content_hash=str(seq),
                baseline=False,
                poll_run_id=None,
                classification=tagged("trade"),
            )
            for seq in range(1, 8)
        ]
        pages, last = [], 0
        while page := store.release_texts(after=last, limit=3):
            pages.append([text.row_id for text in page])
            last = page[-1].row_id
        assert pages == [rows[0:3], rows[3:6], rows[6:7]]
        store.retag_many([(row, tagged("sanctions"), "New.") for row in rows[:6]])
        assert [r.id for r in store.releases(theme="sanctions")] == [
            f"m_5676-{seq}" for seq in range(6, 0, -1)
        ]
        assert [r.id for r in store.releases(theme="trade")] == ["m_5676-7"]
        assert store.release("m_5676-1").summary == "New."  # type: ignore[union-attr]


class TestNamedRecords:
    def test_ledger_reads_return_named_records(self, store: Store, clock: SetClock) -> None:
        """Watermarks, planned items, delivery items, per-subscriber counts and release texts
        have field names (and still unpack like the tuples they replaced)."""
        store.ensure_source("mofa-en", "mofa-board", "https://example.org/list.do")
        store.sync_subscribers(["a@example.org"])
        row = store.insert_release(
            release(1), content_hash="h", baseline=False, poll_run_id=None, classification=tagged()
        )
        through = store.watermarks()
        assert isinstance(through, Watermarks) and through.rows == row and through.revisions >= 1
        window = store.planning_window("a@example.org")
        assert window is not None
        items = store.candidate_releases("a@example.org", window, through)
        assert items == [PlannedItem(row_id=row, revision=1, updated=False)]
        assert store.plan_delivery(
            "a@example.org", "daily:x", "<m@x>", items, through=through, now=clock()
        )
        delivery = store.claim_delivery(clock(), dt.timedelta(minutes=5))
        assert delivery is not None
        assert store.delivery_items(delivery.id) == [DeliveryItem(row_id=row, updated=False)]
        assert store.subscriber_deliveries() == {
            "a@example.org": SubscriberDeliveries(last_sent_at=None, pending=1, failed=0)
        }
        store.mark_sent(delivery.id, clock())
        assert store.subscriber_deliveries()["a@example.org"].last_sent_at == START
        assert store.release_texts() == [ReleaseText(row_id=row, title="Title", body="Body.")]
        window = store.planning_window("a@example.org")
        assert window is not None and window.planned_row == through.rows

    def test_records_the_store_returns_live_in_models(self) -> None:
        """Records other stages read are defined in monitor.models, frozen dataclasses."""
        for name in (
            "SourceHealth",
            "Suppression",
            "SubscriptionChange",
            "SeenRevision",
            "PlanningWindow",
            "TransportHealth",
            "Delivery",
            "StoredVersion",
            "SourceNotes",
            "CachedRobots",
        ):
            record = getattr(facade, name)
            assert record.__module__ == "monitor.models", name
            assert dataclasses.is_dataclass(record) and record.__dataclass_params__.frozen, name


class TestSqlStaysBehind:
    def test_only_the_store_package_holds_sql(self) -> None:
        """No module outside monitor/store executes SQL."""
        root = STORE_DIR.parent
        outside = [
            path.relative_to(root)
            for path in sorted(root.rglob("*.py"))
            if STORE_DIR not in path.parents and ".execute(" in path.read_text(encoding="utf-8")
        ]
        assert outside == []

    def test_sqlite_pragmas_live_in_db_and_migrations_only(self) -> None:
        """The SQLite-only settings sit in one module (and the migrations), for a second backend."""
        holders = {
            path.name
            for path in STORE_DIR.glob("*.py")
            if "PRAGMA" in path.read_text(encoding="utf-8")
        }
        assert holders <= {"db.py", "migrations.py"}

    def test_the_facade_is_small_and_speaks_no_sql(self) -> None:
        """Store delegates; it holds no query of its own."""
        tree = ast.parse(Path(facade.__file__).read_text(encoding="utf-8"))
        strings = [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        ]
        assert not any(re.search(r"\b(SELECT|INSERT|UPDATE|DELETE)\b", s) for s in strings)
