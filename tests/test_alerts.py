"""Operator alerts: one mail when a source goes down, one when it is back, never one per failure."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

from monitor.config import Config, load_config
from monitor.deliver.transports import MaildirTransport
from monitor.errors import TemporaryDeliveryError
from monitor.models import SourceOutcome
from monitor.ops.alerts import notify_operator
from monitor.store.sqlite import Store

SOURCE = "mofa-en"


def write_config(tmp_path: Path, admin: str | None = "ops@example.org") -> Config:
    admin_line = f'admin_email = "{admin}"\n' if admin else ""
    path = tmp_path / "config.toml"
    path.write_text(
        f'[service]\nstate_dir = "state"\n{admin_line}\n'
        f'[[sources]]\nid = "{SOURCE}"\nurl = "http://127.0.0.1:9/eng/brd/m_5676/list.do"\n\n'
        '[mail]\nfrom = "MOFA Monitor <monitor@example.org>"\nmaildir = "mail"\n'
    )
    return load_config(path)


class RecordingTransport:
    """A transport that keeps what it was given; ``fail`` makes the next sends fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, EmailMessage]] = []
        self.fail = False

    def __enter__(self) -> RecordingTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None

    def send(self, delivery_key: str, message: EmailMessage) -> None:
        if self.fail:
            raise TemporaryDeliveryError("451 try later")
        self.sent.append((delivery_key, message))


class Harness:
    """A store with one source that has succeeded once; ``poll`` records an outcome like the poller."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.transport = RecordingTransport()
        self.store = self._open()

    def _open(self) -> Store:
        store = Store.in_dir(self.config.state_dir)
        store.ensure_source(SOURCE, "mofa-board", "http://127.0.0.1:9/eng/brd/m_5676/list.do")
        return store

    def restart(self) -> None:
        """Close and reopen the database: what a service restart does to alert state."""
        self.store.close()
        self.store = self._open()

    def poll(self, error: str | None = None, *, listing_empty: bool = False) -> list[str]:
        outcome = SourceOutcome(SOURCE, error=error, listing_empty=listing_empty)
        if error is None:
            self.store.record_poll_success(SOURCE, baseline=True)
        else:
            outcome.consecutive_failures = self.store.record_poll_failure(SOURCE, error)
        sent = notify_operator(self.config, self.store, [outcome], lambda: self.transport)
        return [a.kind for a in sent]

    @property
    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for _, m in self.transport.sent]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(write_config(tmp_path))
    h.poll()  # one success: the source worked before
    yield h
    h.store.close()


class TestAlertStateMachine:
    def test_threshold_then_one_alert_then_one_recovery(self, harness: Harness) -> None:
        """Fail ×1, ×2 → nothing; ×3 → one alert; ×4 → nothing; success → one recovery."""
        assert harness.poll("boom") == []
        assert harness.poll("boom") == []
        assert harness.poll("boom") == ["down"]
        assert harness.poll("boom") == []
        assert harness.poll() == ["recovered"]
        assert harness.poll() == []
        assert len(harness.transport.sent) == 2
        assert "is DOWN (3 failures)" in harness.subjects[0]
        assert "recovered" in harness.subjects[1]

    def test_restart_in_between_still_sends_one_of_each(self, harness: Harness) -> None:
        """The alert state is in the database: restarts neither repeat nor forget it."""
        harness.poll("boom")
        harness.restart()
        harness.poll("boom")
        harness.restart()
        assert harness.poll("boom") == ["down"]
        harness.restart()
        assert harness.poll("boom") == []
        harness.restart()
        assert harness.poll() == ["recovered"]
        harness.restart()
        assert harness.poll() == []
        assert harness.transport.sent[0][0].startswith(f"alert:{SOURCE}:down:")
        assert len(harness.transport.sent) == 2

    def test_empty_listing_alerts_at_once(self, harness: Harness) -> None:
        """A listing that parses to nothing is a changed site: no waiting for the threshold."""
        assert harness.poll("no rows", listing_empty=True) == ["down"]
        assert harness.poll("no rows", listing_empty=True) == []
        assert "listing parsed to nothing" in harness.subjects[0]
        body = harness.transport.sent[0][1].get_content()
        assert "not 'no news'" in body

    def test_success_without_an_alert_sends_nothing(self, harness: Harness) -> None:
        """Two failures then a success: nobody was told, so nobody is told it recovered."""
        harness.poll("boom")
        harness.poll("boom")
        assert harness.poll() == []
        assert harness.transport.sent == []

    def test_failed_send_is_retried_under_the_same_key(self, harness: Harness) -> None:
        """If the alert cannot be mailed, the state stays unchanged and the next poll retries."""
        harness.poll("boom")
        harness.poll("boom")
        harness.transport.fail = True
        assert harness.poll("boom") == []
        harness.transport.fail = False
        assert harness.poll("boom") == ["down"]
        assert harness.poll("boom") == []
        assert len(harness.transport.sent) == 1

    def test_new_episode_gets_a_new_key(self, harness: Harness) -> None:
        """Down, up, down again: two alerts with different keys, so Maildir keeps both."""
        for _ in range(3):
            harness.poll("boom")
        harness.poll()
        for _ in range(3):
            harness.poll("boom")
        keys = [k for k, _ in harness.transport.sent]
        assert len(keys) == 3 and len(set(keys)) == 3


class TestAlertMail:
    def test_error_text_cannot_inject_headers(self, harness: Harness) -> None:
        """Error text (which may echo the site) reaches the Subject on one clean line."""
        for _ in range(3):
            harness.poll("bad\r\nBcc: victim@example.org\u202e")
        message = harness.transport.sent[0][1]
        raw = message.as_bytes(policy=default_policy)
        parsed = email.message_from_bytes(raw, policy=default_policy)
        assert parsed["Bcc"] is None
        assert "\u202e" not in str(parsed["Subject"])
        assert parsed["To"] == "ops@example.org"
        assert parsed["Auto-Submitted"] == "auto-generated"
        assert "Bcc: victim" in parsed.get_content()  # the body still shows the full error

    def test_crash_between_send_and_record_writes_one_maildir_file(
        self, tmp_path: Path, harness: Harness
    ) -> None:
        """Same episode, same key: a resend after a crash is a no-op in the Maildir."""
        maildir = MaildirTransport(tmp_path / "admin-mail")
        for _ in range(2):
            harness.poll("boom")
        outcome = SourceOutcome(SOURCE, error="boom")
        outcome.consecutive_failures = harness.store.record_poll_failure(SOURCE, "boom")
        notify_operator(harness.config, harness.store, [outcome], lambda: maildir)
        harness.store.set_alerted(SOURCE, False)  # as if the process died before recording
        notify_operator(harness.config, harness.store, [outcome], lambda: maildir)
        assert len(list((tmp_path / "admin-mail" / "new").iterdir())) == 1

    def test_without_admin_email_state_is_kept_but_nothing_sent(self, tmp_path: Path) -> None:
        """No admin address: transitions are logged and recorded once, no transport is opened."""
        h = Harness(write_config(tmp_path, admin=None))
        opened = []
        h.poll()
        for _ in range(3):
            outcome = SourceOutcome(SOURCE, error="boom")
            outcome.consecutive_failures = h.store.record_poll_failure(SOURCE, "boom")
            notify_operator(h.config, h.store, [outcome], lambda: opened.append(1))  # type: ignore[arg-type,return-value]
        assert opened == []
        health = h.store.source(SOURCE)
        assert health is not None and health.alerted_at is not None
        h.store.close()
