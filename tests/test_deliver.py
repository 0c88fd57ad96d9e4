"""Transports against real parts: a Maildir under tmp_path and aiosmtpd on 127.0.0.1."""

from __future__ import annotations

import os
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest

from monitor.config import Config, SmtpConfig, validate
from monitor.deliver.transports import (
    MaildirTransport,
    SmtpTransport,
    Transport,
    maildir_name,
    make_transport,
)
from monitor.errors import (
    DeliveryError,
    DeliveryUncertainError,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)

from smtp_server import TEST_CA, SmtpTestServer, running_smtp_server

PASSWORD_ENV = "MOFA_TEST_SMTP_PASSWORD"


def message(to: str = "reader@example.org", subject: str = "MOFA digest: test") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "MOFA Monitor <monitor@example.org>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '.')}@test>"
    msg.set_content("body\n")
    return msg


def smtp_settings(server: SmtpTestServer, **overrides: object) -> SmtpConfig:
    values: dict[str, object] = {"host": server.host, "port": server.port, "timeout": "5s"}
    values.update(overrides)
    return validate(SmtpConfig, values)


def tls_auth_settings(server: SmtpTestServer) -> SmtpConfig:
    return smtp_settings(
        server,
        security="starttls",
        ca_file=str(TEST_CA),
        username="monitor",
        password_env=PASSWORD_ENV,
    )


class Sleeps(list[float]):
    """A stand-in for time.sleep that records the pauses instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


class TestMaildir:
    def test_writes_one_parseable_file_into_new(self, tmp_path: Path) -> None:
        """A delivery lands in new/ as a complete message and leaves tmp/ empty."""
        with MaildirTransport(tmp_path / "box") as box:
            box.send("daily:2026-11-27:a@example.org", message(subject="hello"))
        new = tmp_path / "box" / "new"
        assert files(tmp_path / "box" / "tmp") == []
        [name] = files(new)
        parsed = BytesParser(policy=default).parsebytes((new / name).read_bytes())
        assert parsed["Subject"] == "hello"

    def test_resending_the_same_key_writes_nothing(self, tmp_path: Path) -> None:
        """Exactly-once: the same delivery key twice gives one file, unchanged."""
        box = MaildirTransport(tmp_path)
        box.send("k1", message(subject="first"))
        box.send("k1", message(subject="second"))
        [name] = files(tmp_path / "new")
        assert b"first" in (tmp_path / "new" / name).read_bytes()
        assert box.delivered("k1")

    def test_different_keys_give_different_files(self, tmp_path: Path) -> None:
        """Two deliveries never share a file."""
        box = MaildirTransport(tmp_path)
        box.send("daily:2026-11-27:a@example.org", message())
        box.send("daily:2026-11-27:b@example.org", message())
        assert len(files(tmp_path / "new")) == 2

    def test_crash_leftover_in_tmp_is_redone(self, tmp_path: Path) -> None:
        """A half-written file in tmp/ from a crash is replaced and published once."""
        box = MaildirTransport(tmp_path)
        name = maildir_name("k1")
        (tmp_path / "tmp" / name).write_bytes(b"Subject: trunc")
        assert not box.delivered("k1")
        box.send("k1", message(subject="whole"))
        assert files(tmp_path / "tmp") == []
        assert files(tmp_path / "new") == [name]
        assert b"whole" in (tmp_path / "new" / name).read_bytes()

    @pytest.mark.parametrize("suffix", [":2,S", "!2,S", ""], ids=["colon-flags", "bang", "bare"])
    def test_message_moved_to_cur_is_not_resent(self, tmp_path: Path, suffix: str) -> None:
        """Once a mail client moved the file to cur/ (adding flags), a retry does nothing."""
        box = MaildirTransport(tmp_path)
        box.send("k1", message())
        name = maildir_name("k1")
        os.rename(tmp_path / "new" / name, tmp_path / "cur" / (name + suffix))
        box.send("k1", message())
        assert files(tmp_path / "new") == []
        assert files(tmp_path / "cur") == [name + suffix]

    def test_file_name_is_safe_and_stable(self) -> None:
        """Keys with slashes, colons or spaces make a plain file name, the same every time."""
        key = "immediate:2026-11-27T08:00/../évil key"
        name = maildir_name(key)
        assert name == maildir_name(key)
        assert "/" not in name and ":" not in name and " " not in name
        assert name != maildir_name(key + "x")


class TestSmtp:
    def test_plain_batch_reuses_one_connection(self) -> None:
        """Several messages go over a single connection, with the right envelope."""
        with running_smtp_server() as server, SmtpTransport(smtp_settings(server)) as smtp:
            smtp.send("k1", message("a@example.org"))
            smtp.send("k2", message("b@example.org"))
        assert [m.rcpt_tos for m in server.received] == [("a@example.org",), ("b@example.org",)]
        assert server.received[0].mail_from == "monitor@example.org"
        assert server.connections == 1

    def test_starttls_verifies_with_the_configured_ca(self) -> None:
        """STARTTLS succeeds when ca_file names the CA that signed the server certificate."""
        with running_smtp_server(tls="starttls") as server:
            settings = smtp_settings(server, security="starttls", ca_file=str(TEST_CA))
            with SmtpTransport(settings) as smtp:
                smtp.send("k1", message())
        assert len(server.received) == 1

    def test_starttls_without_the_ca_fails_clearly(self) -> None:
        """An unknown CA is a temporary error that says how to fix it, and nothing is sent."""
        with (
            running_smtp_server(tls="starttls") as server,
            SmtpTransport(smtp_settings(server, security="starttls")) as smtp,
            pytest.raises(TemporaryDeliveryError, match="certificate verification failed"),
        ):
            smtp.send("k1", message())
        assert server.received == []

    def test_implicit_tls(self) -> None:
        """security = "ssl" talks TLS from the first byte, verified with the CA."""
        with running_smtp_server(tls="ssl") as server:
            settings = smtp_settings(server, security="ssl", ca_file=str(TEST_CA))
            with SmtpTransport(settings) as smtp:
                smtp.send("k1", message())
        assert len(server.received) == 1

    def test_auth_with_password_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """AUTH over STARTTLS uses the password from the variable the config names."""
        monkeypatch.setenv(PASSWORD_ENV, "s3cret")
        with (
            running_smtp_server(tls="starttls", users={"monitor": "s3cret"}) as server,
            SmtpTransport(tls_auth_settings(server)) as smtp,
        ):
            smtp.send("k1", message())
        assert server.received[0].login == "monitor"

    def test_missing_password_variable_is_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without the variable, the error names it instead of failing obscurely."""
        monkeypatch.delenv(PASSWORD_ENV, raising=False)
        with running_smtp_server(tls="starttls", users={"monitor": "s3cret"}) as server:
            settings = tls_auth_settings(server)
            with SmtpTransport(settings) as smtp, pytest.raises(DeliveryError, match=PASSWORD_ENV):
                smtp.send("k1", message())

    def test_wrong_password_is_temporary(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A rejected login is our configuration's fault: retry later, never drop the mail."""
        monkeypatch.setenv(PASSWORD_ENV, "wrong")
        with running_smtp_server(tls="starttls", users={"monitor": "s3cret"}) as server:
            settings = tls_auth_settings(server)
            with (
                SmtpTransport(settings) as smtp,
                pytest.raises(TemporaryDeliveryError, match="login failed: 535"),
            ):
                smtp.send("k1", message())

    def test_451_is_temporary(self) -> None:
        """A 4xx reply for the recipient means try again later."""
        replies = {"busy@example.org": "451 4.3.0 Try again later"}
        with (
            running_smtp_server(replies=replies) as server,
            SmtpTransport(smtp_settings(server)) as smtp,
            pytest.raises(TemporaryDeliveryError, match=r"451 4\.3\.0 Try again later"),
        ):
            smtp.send("k1", message("busy@example.org"))

    def test_550_fails_only_that_message(self) -> None:
        """A 5xx for one recipient is permanent for that message; the batch goes on."""
        replies = {"gone@example.org": "550 5.1.1 <gone@example.org>: user unknown"}
        with (
            running_smtp_server(replies=replies) as server,
            SmtpTransport(smtp_settings(server)) as smtp,
        ):
            smtp.send("k1", message("a@example.org"))
            with pytest.raises(PermanentDeliveryError) as caught:
                smtp.send("k2", message("gone@example.org"))
            smtp.send("k3", message("b@example.org"))
        assert "550 5.1.1 <gone@example.org>: user unknown" in str(caught.value)
        assert [m.rcpt_tos[0] for m in server.received] == ["a@example.org", "b@example.org"]
        assert server.connections == 1

    def test_reconnects_when_the_server_drops_the_connection(self) -> None:
        """A server that hangs up after each message costs a reconnect, not a message."""
        sleeps = Sleeps()
        with (
            running_smtp_server(drop_after=1) as server,
            SmtpTransport(smtp_settings(server), sleep=sleeps) as smtp,
        ):
            for n in range(3):
                smtp.send(f"k{n}", message(f"r{n}@example.org"))
        assert len(server.received) == 3
        assert server.connections == 3
        assert len(sleeps) == 2

    def test_drop_before_data_is_retried_once(self) -> None:
        """A connection lost before the data went out is safe to retry: one message arrives."""
        with (
            running_smtp_server(drop_on_mail=1) as server,
            SmtpTransport(smtp_settings(server), sleep=Sleeps()) as smtp,
        ):
            smtp.send("k1", message())
        assert len(server.received) == 1

    def test_drop_during_data_is_temporary_and_not_retried(self) -> None:
        """After the data went out a retry could duplicate the mail, so the outbox decides."""
        with (
            running_smtp_server(drop_on_data=True) as server,
            SmtpTransport(smtp_settings(server), sleep=Sleeps()) as smtp,
            pytest.raises(DeliveryUncertainError, match="no final reply came"),
        ):
            smtp.send("k1", message())
        assert server.connections == 1

    def test_nobody_listening_is_temporary(self) -> None:
        """A refused TCP connection is a network error: retry later."""
        with running_smtp_server() as server:
            settings = smtp_settings(server)
        with (
            SmtpTransport(settings) as smtp,
            pytest.raises(TemporaryDeliveryError, match="connect"),
        ):
            smtp.send("k1", message())


class TestMakeTransport:
    def test_maildir_is_the_default(self, tmp_path: Path) -> None:
        """Without a transport setting, digests go to the state folder's outbox Maildir."""
        config = validate(Config, {"service": {"state_dir": str(tmp_path)}})
        with make_transport(config) as transport:
            assert isinstance(transport, MaildirTransport)
            assert isinstance(transport, Transport)
        assert transport.path == tmp_path / "outbox"

    def test_smtp(self) -> None:
        """transport = "smtp" gives an SMTP transport with the configured settings."""
        config = validate(Config, {"mail": {"transport": "smtp", "smtp": {"port": 2525}}})
        transport = make_transport(config)
        assert isinstance(transport, SmtpTransport)
        assert transport.settings.port == 2525
