"""Planning digests from the database: due periods, downtime, updates, opt-ins, suppressions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from monitor.config import Config, load_config
from monitor.models import Attachment, Classification, Release, ThemeTag
from monitor.plan import outbox
from monitor.store.sqlite import Store

KST = dt.timezone(dt.timedelta(hours=9))
NK = Classification((ThemeTag("north-korea", 9.0),), ("KP",), "test")
TRADE = Classification((ThemeTag("economy-trade", 9.0),), ("CL",), "test")


def kst(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=KST)


def config_with(tmp_path: Path, subscribers: str) -> Config:
    path = tmp_path / "config.toml"
    path.write_text('[service]\nstate_dir = "state"\n' + subscribers, encoding="utf-8")
    return load_config(path)


class Ledger:
    """A store with helpers to place releases and subscribers at chosen instants (through the
    store's injected clock, never by rewriting timestamps)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        self.store = Store.in_dir(config.state_dir, clock=lambda: self.now)
        self.store.ensure_source(
            "mofa-en", "mofa-board", "https://www.mofa.go.kr/eng/brd/m_5676/list.do"
        )

    def subscribe(self, email: str, at: dt.datetime) -> None:
        self.now = at.astimezone(dt.UTC)
        self.store.sync_subscribers([email, *self.store.known_subscribers()])

    def release(
        self, seq: int, seen: dt.datetime, tags: Classification = NK, *, baseline: bool = False
    ) -> int:
        record = Release(
            f"m_5676-{seq}",
            "mofa-en",
            "m_5676",
            seq,
            f"Release {seq}",
            seen.date(),
            f"https://x/view.do?seq={seq}",
            "Body.",
            "Body.",
        )
        self.now = seen.astimezone(dt.UTC)
        return self.store.insert_release(
            record, content_hash=str(seq), baseline=baseline, poll_run_id=None, classification=tags
        )

    def correct(self, row: int, seq: int, at: dt.datetime) -> None:
        record = Release(
            f"m_5676-{seq}",
            "mofa-en",
            "m_5676",
            seq,
            f"Release {seq} (corrected)",
            at.date(),
            "u",
            "New body.",
            "New body.",
        )
        self.now = at.astimezone(dt.UTC)
        self.store.update_release(row, record, content_hash=f"{seq}b", classification=NK)

    def plan(self, now: dt.datetime, poll_run: int | None = None) -> list[str]:
        return outbox.plan_due(
            self.config, self.store, now=now.astimezone(dt.UTC), poll_run=poll_run
        )

    def contents(self) -> dict[str, list[tuple[int, bool]]]:
        rows = self.store.db.execute(
            "SELECT d.subscriber || ' ' || d.digest_key, r.seq, i.updated FROM deliveries d "
            "JOIN delivery_items i ON i.delivery_id = d.id JOIN releases r ON r.id = i.release_id ORDER BY d.id, i.position"
        )
        found: dict[str, list[tuple[int, bool]]] = {}
        for key, seq, updated in rows:
            found.setdefault(key, []).append((seq, bool(updated)))
        return found


@pytest.fixture
def daily(tmp_path: Path) -> Ledger:
    ledger = Ledger(
        config_with(
            tmp_path,
            '[[subscribers]]\nemail = "d@example.org"\nfrequency = "daily"\nsend_at = "08:00"\n',
        )
    )
    ledger.subscribe("d@example.org", kst(26, 10))
    return ledger


class TestDuePeriods:
    @pytest.mark.parametrize(
        ("frequency", "now", "key"),
        [
            ("daily", kst(27, 7, 59), "daily:2026-11-26"),
            ("daily", kst(27, 8, 0), "daily:2026-11-27"),
            ("weekly", kst(27, 9), "weekly:2026-W48"),  # Friday; the week's Monday 08:00 passed
            ("weekly", kst(23, 7), "weekly:2026-W47"),  # Monday before 08:00: last week's
        ],
    )
    def test_period_keys_in_the_subscriber_zone(
        self, tmp_path: Path, frequency: str, now: dt.datetime, key: str
    ) -> None:
        """Keys name the local day or ISO week whose send time passed last."""
        config = config_with(
            tmp_path, f'[[subscribers]]\nemail = "a@example.org"\nfrequency = "{frequency}"\n'
        )
        assert outbox.due_period(config.subscribers[0], now, None).key == key

    @pytest.mark.parametrize(
        ("weekday", "now", "label"),
        [
            ("monday", dt.datetime(2026, 11, 30, 9, tzinfo=KST), "23–30 Nov 2026"),
            ("monday", dt.datetime(2026, 11, 30, 7, tzinfo=KST), "16–23 Nov 2026"),
            ("thursday", dt.datetime(2026, 12, 3, 9, tzinfo=KST), "26 Nov – 3 Dec 2026"),
            ("friday", dt.datetime(2027, 1, 1, 9, tzinfo=KST), "25 Dec 2026 – 1 Jan 2027"),
        ],
    )
    def test_weekly_label_names_the_week_covered(
        self, tmp_path: Path, weekday: str, now: dt.datetime, label: str
    ) -> None:
        """A weekly digest sent on Monday covers the seven days before, not the week begun."""
        config = config_with(
            tmp_path,
            f'[[subscribers]]\nemail = "a@example.org"\nfrequency = "weekly"\nweekday = "{weekday}"\n',
        )
        period = outbox.due_period(config.subscribers[0], now, None)
        assert period is not None and period.label == label

    def test_zone_decides_the_day(self, tmp_path: Path) -> None:
        """08:00 in Berlin is not 08:00 in Seoul."""
        config = config_with(
            tmp_path,
            '[[subscribers]]\nemail = "a@example.org"\nfrequency = "daily"\ntimezone = "Europe/Berlin"\n',
        )
        assert outbox.due_period(config.subscribers[0], kst(27, 15), None).key == "daily:2026-11-26"
        assert (
            outbox.due_period(config.subscribers[0], kst(27, 16, 1), None).key == "daily:2026-11-27"
        )


class TestDailyPlanning:
    def test_nothing_before_the_first_send_time_after_subscribing(self, daily: Ledger) -> None:
        """A new subscriber's first digest is at the next send time, not at once."""
        daily.release(1, kst(26, 12))
        assert daily.plan(kst(27, 7, 59)) == []
        assert daily.plan(kst(27, 8, 1)) == ["d@example.org daily:2026-11-27"]
        assert daily.contents() == {"d@example.org daily:2026-11-27": [(1, False)]}

    def test_planning_twice_freezes_once(self, daily: Ledger) -> None:
        """Re-planning the same period adds nothing, even with newer releases."""
        daily.release(1, kst(26, 12))
        daily.plan(kst(27, 8, 1))
        daily.release(2, kst(27, 9))
        assert daily.plan(kst(27, 10)) == []
        assert daily.contents() == {"d@example.org daily:2026-11-27": [(1, False)]}
        assert daily.plan(kst(28, 8)) == ["d@example.org daily:2026-11-28"]

    def test_downtime_delays_one_digest_instead_of_losing_or_repeating(self, daily: Ledger) -> None:
        """Down over two send times: one digest on return, with everything since the last."""
        daily.release(1, kst(26, 12))
        daily.plan(kst(27, 8, 1))
        daily.release(2, kst(27, 15))
        daily.release(3, kst(29, 6))
        assert daily.plan(kst(29, 11)) == ["d@example.org daily:2026-11-29"]
        assert daily.contents()["d@example.org daily:2026-11-29"] == [(2, False), (3, False)]

    def test_baseline_and_earlier_releases_are_never_mailed(self, tmp_path: Path) -> None:
        """Releases from a baseline, or stored before the subscriber joined, are not theirs."""
        ledger = Ledger(
            config_with(tmp_path, '[[subscribers]]\nemail = "d@example.org"\nfrequency = "daily"\n')
        )
        ledger.release(1, kst(26, 9))  # before the subscriber was added
        ledger.subscribe("d@example.org", kst(26, 10))
        ledger.release(2, kst(26, 11), baseline=True)
        assert ledger.plan(kst(27, 9)) == []

    def test_a_correction_is_sent_once_marked_updated(self, daily: Ledger) -> None:
        """After a release was mailed, its corrected text comes once more as an update."""
        row = daily.release(1, kst(26, 12))
        daily.plan(kst(27, 8, 1))
        daily.correct(row, 1, kst(27, 12))
        daily.plan(kst(28, 8, 1))
        assert daily.contents()["d@example.org daily:2026-11-28"] == [(1, True)]
        assert daily.plan(kst(29, 8, 1)) == []

    def test_an_update_says_what_changed_since_the_readers_copy(self, daily: Ledger) -> None:
        """Two corrections between digests: the item compares with what the reader got (rev 1)."""
        row = daily.release(1, kst(26, 12))
        daily.plan(kst(27, 8, 1))
        daily.correct(row, 1, kst(27, 12))  # revision 2: title and body
        third = Release(
            "m_5676-1", "mofa-en", "m_5676", 1, "Release 1 (corrected)", kst(27, 13).date(),
            "u", "New body.", "New body.", attachments=(Attachment("Annex.pdf", "https://x/a"),),
        )  # fmt: skip
        daily.now = kst(27, 13).astimezone(dt.UTC)
        daily.store.update_release(row, third, content_hash="1c", classification=NK)
        daily.plan(kst(28, 8, 1))
        delivery = daily.store.deliveries()[0]
        assert delivery.digest_key == "daily:2026-11-28"
        message = outbox.render(daily.config, daily.store, delivery, {}, b"secret")
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert (
            "  Changed: title (was “Release 1”); body “Body.” → “New body.”;\n"
            "  attachment added: Annex.pdf\n"
        ) in text
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert (
            "Changed: title (was “Release 1”); body “Body.” → “New body.”; attachment added: Annex.pdf"
            in html
        )
        # A preview renders the same line; the first digest (new, not updated) has none.
        sub = daily.config.subscribers[0]
        first = outbox.digest_for(daily.config, daily.store, daily.store.deliveries()[1])[0]
        assert [i.changes for i in first.items] == [""]
        assert outbox.preview(daily.config, daily.store, sub, kst(28, 9)).items == ()

    def test_no_empty_digests_unless_asked(self, tmp_path: Path) -> None:
        """send_empty = true makes a delivery even without news."""
        ledger = Ledger(
            config_with(
                tmp_path,
                '[[subscribers]]\nemail = "e@example.org"\nfrequency = "daily"\nsend_empty = true\n[[subscribers]]\nemail = "q@example.org"\nfrequency = "daily"\n',
            )
        )
        ledger.subscribe("e@example.org", kst(25, 10))
        ledger.subscribe("q@example.org", kst(25, 10))
        assert ledger.plan(kst(27, 9)) == ["e@example.org daily:2026-11-27"]


class TestFilters:
    def test_themes_and_suppression(self, tmp_path: Path) -> None:
        """Only matching releases are planned; an unsubscribed address gets nothing."""
        ledger = Ledger(
            config_with(
                tmp_path,
                (
                    '[[subscribers]]\nemail = "nk@example.org"\nthemes = ["north-korea"]\nfrequency = "immediate"\n'
                    '[[subscribers]]\nemail = "gone@example.org"\nfrequency = "immediate"\n'
                ),
            )
        )
        ledger.subscribe("nk@example.org", kst(26, 10))
        ledger.subscribe("gone@example.org", kst(26, 10))
        ledger.store.suppress("gone@example.org", "one-click")
        ledger.release(1, kst(26, 12), NK)
        ledger.release(2, kst(26, 12), TRADE)
        assert ledger.plan(kst(26, 13), poll_run=7) == ["nk@example.org immediate:7"]
        assert ledger.contents() == {"nk@example.org immediate:7": [(1, False)]}

    def test_preview_writes_nothing(self, daily: Ledger) -> None:
        """preview shows the would-be digest without planning it."""
        daily.release(1, kst(26, 12))
        digest = outbox.preview(
            daily.config, daily.store, daily.config.subscribers[0], kst(27, 12).astimezone(dt.UTC)
        )
        assert [item.release.seq for item in digest.items] == [1]
        assert daily.contents() == {}


class TestSending:
    def test_a_digest_that_cannot_be_rendered_fails_alone(self, tmp_path: Path) -> None:
        """A ledger row whose address a mail header cannot hold (e.g. planned before the config
        check was tightened) fails only its own delivery."""
        from monitor.deliver.transports import MaildirTransport

        ledger = Ledger(
            config_with(
                tmp_path,
                '[[subscribers]]\nemail = "bad@example.org"\nfrequency = "immediate"\n'
                '[[subscribers]]\nemail = "ok@example.org"\nfrequency = "immediate"\n',
            )
        )
        ledger.subscribe("bad@example.org", kst(26, 10))
        ledger.subscribe("ok@example.org", kst(26, 10))
        ledger.release(1, kst(26, 12))
        assert len(ledger.plan(kst(26, 13), poll_run=1)) == 2
        ledger.store.db.execute(
            "UPDATE deliveries SET subscriber = 'a..b@example.org' WHERE subscriber = 'bad@example.org'"
        )
        with MaildirTransport(tmp_path / "box") as box:
            report = outbox.send_due(
                ledger.config, ledger.store, box, {}, now=lambda: kst(26, 13).astimezone(dt.UTC)
            )
        assert report.sent == ["ok@example.org immediate:1"]
        assert report.failed == ["a..b@example.org immediate:1"]
        assert ledger.store.delivery_counts() == {"pending": 0, "sent": 1, "failed": 1}
