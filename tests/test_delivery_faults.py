"""Delivery faults against real parts: aiosmtpd relays that misbehave, Maildirs that cannot be
written, and the clock stepping back. Each fault must end in the promised outcome (delivered once,
or at most one duplicate, or one clear line in status, health and the alert), never a traceback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from test_mail_headers import MAIL, THEMES, digest
from test_outbox import Ledger, config_with, kst

from monitor.config import Config, MailConfig, SmtpConfig, validate
from monitor.deliver.transports import MaildirTransport, SmtpTransport, make_transport
from monitor.errors import DeliveryUncertainError, TemporaryDeliveryError
from monitor.ops.alerts import notify_transport
from monitor.ops.health import health_report
from monitor.plan import outbox
from monitor.render.digest import build_message

from smtp_server import SmtpTestServer, running_smtp_server

PASSWORD_ENV = "MOFA_TEST_SMTP_PASSWORD_FAULTS"


def settings(server: SmtpTestServer, **extra: object) -> SmtpConfig:
    return validate(
        SmtpConfig, {"host": server.host, "port": server.port, "timeout": "1s", **extra}
    )


SHORT_MAIL = validate(MailConfig, {"from": "M <m@x.io>"})


def korean_text_digest() -> EmailMessage:
    """A short text-only digest with a Korean title: what went out undeclared as 8bit (every
    line under 78 characters, so :mod:`email` chose ``8bit`` over quoted-printable)."""
    return build_message(
        dataclasses.replace(digest("외교부 대변인 논평 — “성명”"), subscriber_email="a@b.io"),
        SHORT_MAIL,
        format="text",
        theme_names=THEMES,
        unsubscribe_secret=b"k",
    )


# --- 8-bit data -------------------------------------------------------------------------------


class TestSevenBit:
    def test_a_strict_7bit_relay_without_8bitmime_takes_every_digest(self) -> None:
        """No 8BITMIME offered, 8-bit data refused with 554: digests still go through."""
        with running_smtp_server(offer_8bitmime=False, strict_7bit=True) as server:
            with SmtpTransport(settings(server)) as smtp:
                smtp.send("k1", korean_text_digest())
                html = build_message(
                    digest("외교부"),
                    MAIL,
                    format="html",
                    theme_names=THEMES,
                    unsubscribe_secret=b"k",
                )
                smtp.send("k2", html)
            assert server.handler.refused == []
            got = server.wait_for(2)
        assert len(got) == 2
        assert "외교부 대변인 논평" in got[0].message.get_content()
        assert "외교부" in str(got[1].subject)

    def test_operator_alerts_are_7bit_too(self, tmp_path: Path) -> None:
        from monitor.ops.alerts import Alert, build_alert
        from monitor.store.sqlite import SourceHealth

        health = SourceHealth(
            "mofa-en",
            "mofa-board",
            "u",
            None,
            None,
            None,
            3,
            "목록 오류 — “x”",
            None,
            None,
            None,
            None,
        )
        config = validate(Config, {"mail": {"from": "M <monitor@example.org>"}})
        message = build_alert(config, Alert("mofa-en", "down", "a:1", health), "ops@example.org")
        with running_smtp_server(offer_8bitmime=False, strict_7bit=True) as server:
            with SmtpTransport(settings(server)) as smtp:
                smtp.send("a:1", message)
            assert server.handler.refused == []
            assert "목록 오류" in server.wait_for(1)[0].message.get_content()


# --- credentials ----------------------------------------------------------------------------

PASSWORD = "pässwörd-비밀€"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
class TestNonAsciiPassword:
    @pytest.mark.parametrize("exclude", [(), ("PLAIN",)], ids=["PLAIN", "LOGIN"])
    def test_a_non_ascii_password_logs_in(
        self, monkeypatch: pytest.MonkeyPatch, exclude: tuple[str, ...]
    ) -> None:
        """RFC 4616/4954: AUTH carries UTF-8; smtplib's ASCII-only encoding crashed here."""
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
        with running_smtp_server(users={"monitor": PASSWORD}, auth_exclude=exclude) as server:
            with SmtpTransport(
                settings(server, username="monitor", password_env=PASSWORD_ENV)
            ) as smtp:
                smtp.send("k1", korean_text_digest())
            [got] = server.wait_for(1)
        assert got.login == "monitor"

    @pytest.mark.parametrize("echo", [False, True])
    def test_a_refused_password_never_shows_in_the_error(
        self, monkeypatch: pytest.MonkeyPatch, echo: bool
    ) -> None:
        """Not from an encoding error, nor from a server that quotes the credentials back."""
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
        with (
            running_smtp_server(users={"monitor": "other"}, auth_echo=echo) as server,
            SmtpTransport(settings(server, username="monitor", password_env=PASSWORD_ENV)) as smtp,
            pytest.raises(TemporaryDeliveryError) as caught,
        ):
            smtp.send("k1", korean_text_digest())
        message = str(caught.value)
        assert "login failed" in message
        for secret_part in ("ä", "ö", "비", "밀", "€", "pässwörd", PASSWORD):
            assert secret_part not in message
        if echo:
            assert "bad credentials monitor:[redacted]" in message
        assert caught.value.__cause__ is None  # no chained exception to print it either


# --- slow final reply -----------------------------------------------------------------------


@pytest.fixture
def immediate(tmp_path: Path) -> Ledger:
    ledger = Ledger(
        config_with(tmp_path, '[[subscribers]]\nemail = "d@example.org"\nfrequency = "immediate"\n')
    )
    ledger.subscribe("d@example.org", kst(26, 10))
    ledger.release(1, kst(26, 12))
    assert ledger.plan(kst(26, 13), poll_run=1) == ["d@example.org immediate:1"]
    return ledger


def send_passes(ledger: Ledger, transport: SmtpTransport, passes: int) -> list[outbox.SendReport]:
    """Run the sender ``passes`` times, each an hour later (past any backoff)."""
    reports = []
    for hour in range(passes):
        now = kst(26, 14 + hour).astimezone(dt.UTC)
        reports.append(
            outbox.send_due(ledger.config, ledger.store, transport, THEMES, now=lambda n=now: n)
        )
    return reports


class TestSlowFinalReply:
    def test_a_relay_slower_than_the_timeout_gets_the_digest_once(self, immediate: Ledger) -> None:
        """The relay stores the mail and says 250 after the 1 s command timeout: the client
        waits for the final reply (RFC 5321 §4.5.3.2.6) instead of retrying it."""
        with running_smtp_server(final_reply_delay=1.6) as server:
            with SmtpTransport(settings(server)) as smtp:
                reports = send_passes(immediate, smtp, 3)
            assert len(server.received) == 1
        assert reports[0].sent == ["d@example.org immediate:1"]
        assert immediate.store.delivery_counts() == {"pending": 0, "sent": 1, "failed": 0}

    def test_no_final_reply_costs_at_most_one_duplicate(self, immediate: Ledger) -> None:
        """A relay that never answers in time: the digest is sent once more, then no more."""
        with running_smtp_server(final_reply_delay=2.5) as server:
            with SmtpTransport(settings(server), final_reply_timeout=0.5) as smtp:
                reports = send_passes(immediate, smtp, 4)
            copies = server.wait_for(2)
            message_ids = {m.header("Message-ID") for m in copies}
        assert len(copies) == 2 and len(message_ids) == 1  # one duplicate, same Message-ID
        assert reports[0].retry == ["d@example.org immediate:1"]
        assert reports[1].failed == ["d@example.org immediate:1"]
        assert reports[2].sent == reports[2].retry == reports[2].failed == []
        [delivery] = immediate.store.deliveries()
        assert delivery.status == "failed" and delivery.uncertain == 2
        lines = outbox.status_lines(immediate.store, kst(26, 20))
        assert any("failed (uncertain) d@example.org immediate:1" in line for line in lines)
        assert any("not sent again to avoid more duplicates" in line for line in lines)

    def test_the_final_reply_timeout_defaults_to_rfc_5321s_ten_minutes(self) -> None:
        with running_smtp_server() as server:
            assert SmtpTransport(settings(server)).final_reply_timeout == 600

    def test_a_drop_while_awaiting_the_reply_is_uncertain_not_retried_at_once(self) -> None:
        with (
            running_smtp_server(drop_on_data=True) as server,
            SmtpTransport(settings(server)) as smtp,
            pytest.raises(DeliveryUncertainError),
        ):
            smtp.send("k1", korean_text_digest())


# --- transport faults: Maildir --------------------------------------------------------------


def read_only(folders: list[Path]) -> tuple[Callable[[], None], Callable[[], None]]:
    """(lock, unlock) making ``folders`` unwritable: chmod for users, chattr +i for root."""
    if os.geteuid() != 0:
        return (
            lambda: [f.chmod(0o555) for f in folders] and None,
            lambda: [f.chmod(0o755) for f in folders] and None,
        )
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("running as root without chattr: cannot make a folder unwritable")

    def run(flag: str) -> None:
        done = subprocess.run([chattr, flag, *map(str, folders)], capture_output=True, check=False)
        if done.returncode != 0 and flag == "+i":
            pytest.skip(f"chattr +i not supported here: {done.stderr.decode().strip()}")

    return (lambda: run("+i"), lambda: run("-i"))


def maildir_config(tmp_path: Path, maildir: Path, admin: bool = True) -> Config:
    admin_line = 'admin_email = "ops@example.org"\n' if admin else ""
    return config_with(
        tmp_path,
        admin_line
        + f'[mail]\nmaildir = "{maildir}"\n'
        + '[[subscribers]]\nemail = "d@example.org"\nfrequency = "immediate"\n',
    )


class TestUnwritableMaildir:
    def test_a_file_where_the_folder_should_be_is_one_clear_error(self, tmp_path: Path) -> None:
        (tmp_path / "box").write_text("not a folder")
        box = MaildirTransport(tmp_path / "box")  # never raises here
        with pytest.raises(TemporaryDeliveryError, match="a file stands where a folder should be"):
            box.send("k", korean_text_digest())
        (tmp_path / "box2" / "new").parent.mkdir()
        (tmp_path / "box2" / "new").write_text("")
        with pytest.raises(TemporaryDeliveryError, match="box2"):
            MaildirTransport(tmp_path / "box2").send("k", korean_text_digest())

    def test_a_read_only_folder_is_one_clear_error(self, tmp_path: Path) -> None:
        """Like a read-only mount: nothing can be created in the folders (for root too, whom
        permissions do not stop, the folders are made immutable with chattr +i)."""
        box = MaildirTransport(tmp_path / "box")
        folders = [tmp_path / "box" / sub for sub in ("tmp", "new", "cur")]
        lock, unlock = read_only(folders)
        lock()
        try:
            with pytest.raises(TemporaryDeliveryError, match="cannot write to the Maildir") as e:
                box.send("k", korean_text_digest())
            assert ("Permission denied" in str(e.value)) or ("not permitted" in str(e.value))
        finally:
            unlock()

    def test_the_fault_reaches_status_health_and_the_log_once_then_recovers(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        maildir = tmp_path / "outbox"
        maildir.write_text("a file, not a Maildir")
        (tmp_path / "state").mkdir()
        config = maildir_config(tmp_path, maildir)
        ledger = Ledger(config)
        ledger.subscribe("d@example.org", kst(26, 10))
        ledger.release(1, kst(26, 12))
        ledger.plan(kst(26, 13), poll_run=1)
        caplog.set_level(logging.INFO)

        def one_pass(hour: int) -> outbox.SendReport:
            now = kst(26, hour).astimezone(dt.UTC)
            with make_transport(config) as transport:
                return outbox.send_due(config, ledger.store, transport, THEMES, now=lambda: now)

        assert one_pass(14).retry == ["d@example.org immediate:1"]
        assert one_pass(15).retry == ["d@example.org immediate:1"]
        alerts = [r for r in caplog.records if "ALERT mail transport" in r.getMessage()]
        assert len(alerts) == 1  # once per episode, not per pass
        assert "a file stands where a folder should be" in alerts[0].getMessage()
        assert not [r for r in caplog.records if r.exc_info]  # no traceback anywhere

        [first, *_] = outbox.status_lines(ledger.store, kst(26, 16))
        assert first.startswith("mail transport: FAILING since ")
        assert "a file stands where a folder should be" in first
        report = health_report(
            config, ledger.store, now=kst(26, 16).astimezone(dt.UTC), started_at=kst(26, 13)
        )
        assert not report.ok
        assert any(r.startswith("mail transport: failing since") for r in report.reasons)

        maildir.unlink()  # the operator fixes it
        assert one_pass(17).sent == ["d@example.org immediate:1"]
        assert [r for r in caplog.records if "mail transport recovered" in r.getMessage()]
        assert outbox.status_lines(ledger.store, kst(26, 18))[0].startswith("mail transport: OK")
        assert health_report(
            config, ledger.store, now=kst(26, 18).astimezone(dt.UTC), started_at=kst(26, 13)
        ).reasons == [r for r in report.reasons if not r.startswith("mail transport")]
        subjects = [
            line
            for f in (maildir / "new").iterdir()
            for line in f.read_text().splitlines()
            if line.startswith("Subject:")
        ]
        assert any("mail transport recovered" in s for s in subjects)

    def test_an_smtp_relay_that_refuses_everything_is_a_transport_fault(
        self, immediate: Ledger
    ) -> None:
        with (
            running_smtp_server(replies={"d@example.org": "451 4.3.0 try later"}) as server,
            SmtpTransport(settings(server)) as smtp,
        ):
            send_passes(immediate, smtp, 1)
            notify_transport(immediate.config, immediate.store, smtp, kst(26, 15))
        health = immediate.store.transport_health()
        assert health.failing_since is not None and "451" in (health.last_error or "")


@pytest.mark.parametrize(
    "reply", ["530 5.7.0 Authentication required", "550 5.7.1 Sender not allowed to relay"]
)
def test_a_relay_refusing_our_sender_keeps_the_digest_and_says_so(
    immediate: Ledger, reply: str
) -> None:
    """Every message would meet the same refusal: not "failed for good" but a transport fault,
    retried until the configuration is fixed, and reported."""
    with (
        running_smtp_server(mail_reply=reply) as server,
        SmtpTransport(settings(server)) as smtp,
    ):
        [report] = send_passes(immediate, smtp, 1)
    assert report.retry == ["d@example.org immediate:1"] and report.failed == []
    assert immediate.store.delivery_counts()["pending"] == 1
    lines = outbox.status_lines(immediate.store, kst(26, 20))
    assert lines[0].startswith("mail transport: FAILING") and reply.split()[0] in lines[0]
    assert "refused the sender" in lines[0]


def test_a_message_refused_for_good_counts_against_the_transport(immediate: Ledger) -> None:
    """554 to the data fails that delivery (retrying cannot help), and the transport's health
    shows it: if the relay refuses every message, status, /healthz and the alert say so."""
    with (
        running_smtp_server(data_reply="554 5.7.1 Message rejected by policy") as server,
        SmtpTransport(settings(server)) as smtp,
    ):
        [report] = send_passes(immediate, smtp, 1)
    assert report.failed == ["d@example.org immediate:1"]
    health = immediate.store.transport_health()
    assert health.failing_since is not None and "554" in (health.last_error or "")


def test_a_refused_recipient_is_not_a_transport_fault(immediate: Ledger) -> None:
    with (
        running_smtp_server(replies={"d@example.org": "550 5.1.1 no such user"}) as server,
        SmtpTransport(settings(server)) as smtp,
    ):
        [report] = send_passes(immediate, smtp, 1)
    assert report.failed == ["d@example.org immediate:1"]
    assert immediate.store.transport_health().failing_since is None


# --- the clock stepping back ----------------------------------------------------------------


class TestClockStepBack:
    def test_news_first_seen_while_the_clock_was_behind_is_still_mailed(
        self, immediate: Ledger
    ) -> None:
        """Planned at 13:00; the clock steps back 15 minutes; a release seen at 12:50 (by the
        stepped clock) is after the window in storage order, and is mailed at the next plan."""
        immediate.release(2, kst(26, 12, 50))  # first_seen_at before the last planning time
        assert immediate.plan(kst(26, 12, 55), poll_run=2) == ["d@example.org immediate:2"]
        assert immediate.contents()["d@example.org immediate:2"] == [(2, False)]
        # And the next run (clock back to normal) repeats nothing.
        assert immediate.plan(kst(26, 13, 30), poll_run=3) == []

    def test_a_correction_stored_while_the_clock_was_behind_is_announced(
        self, immediate: Ledger
    ) -> None:
        row = immediate.store.db.execute("SELECT id FROM releases WHERE seq = 1").fetchone()[0]
        immediate.correct(row, 1, kst(26, 12, 40))  # updated_at before the planning time
        assert immediate.plan(kst(26, 12, 45), poll_run=2) == ["d@example.org immediate:2"]
        assert immediate.contents()["d@example.org immediate:2"] == [(1, True)]

    def test_an_old_database_keeps_its_windows(self, tmp_path: Path) -> None:
        """The row-order migration turns the time windows of a database in the field into row windows."""
        import sqlite3

        from monitor.store.migrations import MIGRATIONS

        db = sqlite3.connect(tmp_path / "old.sqlite3")
        MIGRATIONS[0](db)
        db.execute(
            "INSERT INTO sources VALUES ('s','k','u','t',NULL,NULL,NULL,0,NULL,NULL,NULL,NULL,NULL)"
        )
        for seq, seen in (
            (1, "2026-11-26T01:00:00"),
            (2, "2026-11-26T03:00:00"),
            (3, "2026-11-26T05:00:00"),
        ):
            db.execute(
                "INSERT INTO releases(board, seq, source_id, title, url, body, content_hash, "
                "first_seen_at) VALUES ('b', ?, 's', 't', 'u', 'b', 'h', ?)",
                (seq, seen),
            )
        db.execute(
            "INSERT INTO subscribers VALUES ('a@x', '2026-11-26T02:00:00', '2026-11-26T04:00:00')"
        )
        for migration in MIGRATIONS[1:]:
            migration(db)
        assert db.execute("SELECT added_row, planned_row FROM subscribers").fetchone() == (1, 2)


# --- dates a subscriber sees ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "label", "generated"),
    [
        ("Asia/Seoul", "2026-11-27", "27 Nov 2026, 08:30 KST", "2026-11-27 08:30 KST"),
        ("America/Sao_Paulo", "2026-11-26", "26 Nov 2026, 20:30 UTC-03", "2026-11-26 20:30 UTC-03"),
        (
            "Asia/Kathmandu",
            "2026-11-27",
            "27 Nov 2026, 05:15 UTC+05:45",
            "2026-11-27 05:15 UTC+05:45",
        ),
    ],
)
def test_an_immediate_digest_shows_the_subscribers_date_everywhere(
    tmp_path: Path, zone: str, day: str, label: str, generated: str
) -> None:
    """Sent at 23:30 UTC: Subject, heading and footer all carry the subscriber's local date."""
    ledger = Ledger(
        config_with(
            tmp_path,
            f'[[subscribers]]\nemail = "d@example.org"\nfrequency = "immediate"\n'
            f'timezone = "{zone}"\nformat = "text"\n',
        )
    )
    ledger.subscribe("d@example.org", kst(26, 10))
    ledger.release(1, kst(26, 12))
    ledger.plan(dt.datetime(2026, 11, 26, 23, 30, tzinfo=dt.UTC), poll_run=1)
    [delivery] = ledger.store.deliveries()
    message = outbox.render(ledger.config, ledger.store, delivery, THEMES, b"k")
    assert str(message["Subject"]).endswith(f"({day})")
    text = message.get_content()
    assert text.splitlines()[0].endswith(f"— {label}")
    assert f"Generated {generated}." in text


def test_run_once_and_status_with_a_blocked_maildir(live_site, tmp_path: Path) -> None:
    """Through the real CLI: no traceback, the news stays pending, status says why in one line."""
    import subprocess
    import sys

    live_site.seed_from_corpus(limit=3)
    (tmp_path / "blocked").write_text("a file where the Maildir should be")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[service]\nstate_dir = "state"\nrequest_delay = "0s"\ntimeout = "3s"\n'
        f'[[sources]]\nid = "mofa-en"\nurl = "{live_site.list_url()}"\n'
        '[mail]\nmaildir = "blocked"\n'
        '[[subscribers]]\nemail = "desk@example.org"\nfrequency = "immediate"\n',
        encoding="utf-8",
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )

    assert cli("run-once").returncode == 0  # baseline
    live_site.publish(600001, "Korea and Chile Hold Talks", "2026-11-27", "1. Talks.\n2. Held.")
    second = cli("run-once")
    assert "Traceback" not in second.stderr
    assert second.stdout.splitlines()[-1] == "digests: 1 planned, 0 sent, 1 deferred, 0 failed"
    assert "ALERT mail transport is failing" in second.stderr
    status = cli("status").stdout.splitlines()
    assert "deliveries: 1 pending, 0 sent, 0 failed" in status
    [line] = [s for s in status if s.startswith("mail transport:")]
    assert line.startswith("mail transport: FAILING since ")
    assert "a file stands where a folder should be" in line and str(tmp_path / "blocked") in line
    assert any("pending desk@example.org immediate:" in s for s in status)
