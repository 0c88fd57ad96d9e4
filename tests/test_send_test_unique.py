"""send-test: each test mail is its own message (F11) — two tests in the same second, to two
addresses or to one, are two files in the Maildir, and "sent" is printed only for a file written."""

from __future__ import annotations

import datetime as dt
import io
import mailbox
from email.utils import parseaddr
from pathlib import Path

import pytest

from monitor.cli.parser import main
from monitor.render.digest import sample_digest
from monitor.schedule import app as app_module

FROZEN = dt.datetime(2026, 11, 30, 9, 0, 0, tzinfo=dt.UTC)


def test_sample_digests_made_in_one_instant_have_distinct_message_ids() -> None:
    assert sample_digest(FROZEN, "UTC").message_id != sample_digest(FROZEN, "UTC").message_id


@pytest.mark.parametrize("second_to", ["p2@example.org", "p1@example.org"])
def test_two_send_tests_in_the_same_second_are_two_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, second_to: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[service]\nstate_dir = "state"\n[mail]\ntransport = "maildir"\nmaildir = "outbox"\n',
        encoding="utf-8",
    )
    real_app = app_module.App
    monkeypatch.setattr(  # the same second, for sure: the App's injected clock stands still
        app_module, "App", lambda config, **kw: real_app(config, clock=lambda: FROZEN, **kw)
    )  # the command imports App when it runs
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    for to in ("p1@example.org", second_to):
        assert main(["--config", str(config), "send-test", "--to", to]) == 0
    assert out.getvalue().count("sample digest sent to") == 2
    received = list(mailbox.Maildir(tmp_path / "outbox"))
    assert sorted(parseaddr(m["To"])[1] for m in received) == sorted(["p1@example.org", second_to])
    assert len({m["Message-ID"] for m in received}) == 2
