"""End to end through the real CLI: local site → SQLite → Maildir or SMTP.

The first story runs every command in a subprocess (the installed entry point, exit codes, real
stdout/stderr); the others call :func:`monitor.cli.main` in process, which is the same code
without a Python start-up per command (the suite's slowest part before).
"""

from __future__ import annotations

import contextlib
import email
import io
import json
import logging
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from email.policy import default
from pathlib import Path

import pytest
from sitekit import SiteServer

from monitor.cli import main

from smtp_server import SmtpTestServer

SUBSCRIBERS = """
[[subscribers]]
email = "desk@example.org"
frequency = "immediate"

[[subscribers]]
email = "nk@example.org"
themes = ["north-korea", "sanctions"]
frequency = "immediate"

[[subscribers]]
email = "aid@example.org"
themes = ["humanitarian-aid"]
frequency = "immediate"
format = "text"
"""


def write_config(
    tmp_path: Path, site: SiteServer, *, mail: str = "", subscribers: str = SUBSCRIBERS
) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[service]
state_dir = "state"
request_delay = "0s"
timeout = "3s"

[[sources]]
id = "mofa-en"
url = "{site.list_url()}"
every = "2s"

[mail]
from = "MOFA Monitor <monitor@example.org>"
{mail}
{subscribers}
""",
        encoding="utf-8",
    )
    return path


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``mofa-monitor --config CONFIG ARGS`` in this process, from the config's folder."""
    argv = ["--config", str(config), *args]
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # main() installs its own stderr handler
    try:
        with contextlib.chdir(config.parent), redirect_stdout(out), redirect_stderr(err):
            code = main(argv)
    finally:
        root.handlers[:], root.level = handlers, level
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def cli_process(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The same in a subprocess: ``python -m monitor``."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=config.parent,
    )


def maildir_messages(maildir: Path) -> list[email.message.EmailMessage]:
    files = sorted((maildir / "new").glob("*")) + sorted((maildir / "cur").glob("*"))
    return [email.message_from_bytes(f.read_bytes(), policy=default) for f in files]  # type: ignore[misc]


def seqs_in(message: email.message.EmailMessage) -> set[int]:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return {
        int(part.split("seq=")[1].split()[0].rstrip(">)"))
        for part in text.split()
        if "view.do?seq=" in part
    }


def publish_news(site: SiteServer) -> dict[str, set[int]]:
    """Publish three releases of known themes; return which subscriber should get which seqs."""
    site.publish(
        500001,
        "North Korea Launches Ballistic Missile; ROK Condemns Provocation",
        "2026-11-27",
        "1. The Government strongly condemns North Korea's launch of an intercontinental ballistic missile, "
        "a clear violation of UN Security Council resolutions.\n2. The Government will respond firmly "
        "together with the United States and Japan, including through additional sanctions.",
    )
    site.publish(
        500002,
        "Korea Provides Humanitarian Assistance to Flood-Affected Countries",
        "2026-11-27",
        "1. The Government will provide humanitarian assistance worth USD 2 million to help the "
        "people affected by severe floods.\n2. The assistance, delivered through international "
        "organizations, will support relief efforts including food, shelter and medical supplies.",
        attachments=["Fact sheet.pdf"],
    )
    site.publish(
        500003,
        "Korea-Chile Economic Partnership Talks Held",
        "2026-11-28",
        "1. The two countries held talks on trade, investment and supply chains of critical minerals.\n"
        "2. They agreed to deepen economic security cooperation.",
    )
    return {
        "desk@example.org": {500001, 500002, 500003},
        "nk@example.org": {500001},
        "aid@example.org": {500002},
    }


@pytest.fixture
def board(live_site: SiteServer) -> SiteServer:
    live_site.seed_from_corpus(limit=10)
    return live_site


class TestMaildir:
    def test_each_subscriber_gets_exactly_its_news_once(
        self, board: SiteServer, tmp_path: Path
    ) -> None:
        """Baseline, news, run-once: each mailbox holds its releases once; a rerun mails nothing."""
        config = write_config(tmp_path, board)
        first = cli_process(config, "run-once")
        assert first.returncode == 0, first.stderr
        assert first.stdout.splitlines() == [
            "mofa-en: 10 new (baseline, not mailed), 0 updated",
            "digests: 0 planned, 0 sent, 0 deferred, 0 failed",
        ]
        expected = publish_news(board)
        second = cli_process(config, "run-once")
        assert second.returncode == 0, second.stderr
        assert second.stdout.splitlines() == [
            "mofa-en: 3 new, 0 updated",
            "digests: 3 planned, 3 sent, 0 deferred, 0 failed",
        ]
        messages = maildir_messages(tmp_path / "state" / "outbox")
        got = {str(m["To"]).strip("<>").split("<")[-1].rstrip(">"): seqs_in(m) for m in messages}
        assert got == expected
        assert len(messages) == 3
        aid = next(m for m in messages if "aid@" in str(m["To"]))
        assert aid.get_content_type() == "text/plain"  # format = "text"
        assert "Fact sheet.pdf" in aid.get_content()
        third = cli_process(config, "run-once")
        assert third.stdout.splitlines()[-1] == "digests: 0 planned, 0 sent, 0 deferred, 0 failed"
        assert len(maildir_messages(tmp_path / "state" / "outbox")) == 3

    def test_releases_json_and_explain(self, board: SiteServer, tmp_path: Path) -> None:
        """releases --json carries the DESIGN §3 fields; explain shows the evidence."""
        config = write_config(tmp_path, board)
        cli(config, "run-once")
        publish_news(board)
        cli(config, "run-once")
        result = cli(config, "releases", "--json", "--theme", "north-korea", "--limit", "5")
        records = [json.loads(line) for line in result.stdout.splitlines()]
        top = next(r for r in records if r["seq"] == 500001)
        for key in (
            "id",
            "source",
            "board",
            "seq",
            "title",
            "date",
            "url",
            "body",
            "summary",
            "themes",
            "countries",
            "attachments",
        ):
            assert key in top
        assert top["date"] == "2026-11-27" and top["url"] == board.view_url(500001)
        assert {"north-korea", "sanctions"} <= set(top["themes"])
        assert {"KP", "US", "JP"} <= set(top["countries"])
        explained = cli(config, "explain", top["id"])
        assert explained.returncode == 0
        assert "north-korea" in explained.stdout and "in title" in explained.stdout
        missing = cli(config, "explain", "m_5676-1")
        assert missing.returncode == 1
        assert (
            missing.stderr.strip()
            == "mofa-monitor: error: no stored release 'm_5676-1' (see `mofa-monitor releases`)"
        )

    def test_no_send_records_a_baseline(self, board: SiteServer, tmp_path: Path) -> None:
        """--no-send stores what is new without ever mailing it."""
        config = write_config(tmp_path, board)
        cli(config, "run-once")
        publish_news(board)
        assert cli(config, "run-once", "--no-send").stdout.startswith(
            "mofa-en: 3 new (baseline, not mailed)"
        )
        assert (
            cli(config, "run-once").stdout.splitlines()[-1]
            == "digests: 0 planned, 0 sent, 0 deferred, 0 failed"
        )
        assert not (tmp_path / "state" / "outbox" / "new").exists() or not any(
            (tmp_path / "state" / "outbox" / "new").iterdir()
        )

    # SIGKILL during a send: tests/reliability/test_kill_recovery.py kills on an observed event
    # (the N-th message stored), under run-once and run, and fails if no kill interrupted a send.


class TestSmtp:
    def test_same_over_smtp_with_one_refused_recipient(
        self, board: SiteServer, tmp_path: Path, smtp_server_factory
    ) -> None:
        """Over SMTP each subscriber gets its digest once; a 550 fails only that delivery."""
        server: SmtpTestServer = smtp_server_factory(
            replies={"aid@example.org": "550 5.1.1 No such user"}
        )
        mail = f'transport = "smtp"\n[mail.smtp]\nhost = "{server.host}"\nport = {server.port}\nsecurity = "none"\n'
        config = write_config(tmp_path, board, mail=mail)
        cli(config, "run-once")
        expected = publish_news(board)
        result = cli(config, "run-once")
        assert result.stdout.splitlines()[-1] == "digests: 3 planned, 2 sent, 0 deferred, 1 failed"
        got = {m.rcpt_tos[0]: seqs_in(m.message) for m in server.received}
        assert got == {k: v for k, v in expected.items() if k != "aid@example.org"}
        assert server.connections == 1  # one connection reused for the batch
        cli(config, "run-once")
        assert len(server.received) == 2
        status = cli(config, "status").stdout
        assert "deliveries: 0 pending, 2 sent, 1 failed" in status

    def test_temporary_failure_is_retried_later(
        self, board: SiteServer, tmp_path: Path, smtp_server_factory
    ) -> None:
        """A 451 keeps the delivery pending; it goes out once the server accepts it."""
        server: SmtpTestServer = smtp_server_factory(
            replies={"nk@example.org": "451 4.3.0 Try later"}
        )
        mail = f'transport = "smtp"\n[mail.smtp]\nhost = "{server.host}"\nport = {server.port}\n'
        config = write_config(tmp_path, board, mail=mail)
        cli(config, "run-once")
        publish_news(board)
        assert (
            cli(config, "run-once").stdout.splitlines()[-1]
            == "digests: 3 planned, 2 sent, 1 deferred, 0 failed"
        )
        assert "deliveries: 1 pending, 2 sent, 0 failed" in cli(config, "status").stdout
        assert not server.messages_to("nk@example.org")


class TestPreviewAndSendTest:
    def test_preview_shows_pending_news_without_sending(
        self, board: SiteServer, tmp_path: Path
    ) -> None:
        """A daily subscriber's preview lists today's news; nothing is planned or written."""
        daily = (
            '[[subscribers]]\nemail = "daily@example.org"\nfrequency = "daily"\nsend_at = "23:59"\n'
        )
        config = write_config(tmp_path, board, subscribers=daily)
        cli(config, "run-once")
        publish_news(board)
        cli(config, "run-once")
        text = cli(config, "preview", "--subscriber", "daily@example.org")
        assert text.returncode == 0, text.stderr
        assert "North Korea Launches Ballistic Missile" in text.stdout
        assert "Korea-Chile Economic Partnership Talks Held" in text.stdout
        html = cli(config, "preview", "--subscriber", "daily@example.org", "--html").stdout
        assert html.lstrip().lower().startswith("<!doctype html") and "<script" not in html
        assert "deliveries: 0 pending, 0 sent, 0 failed" in cli(config, "status").stdout
        unknown = cli(config, "preview", "--subscriber", "nobody@example.org")
        assert unknown.returncode == 1 and "is not a subscriber" in unknown.stderr

    def test_send_test_covers_every_theme(
        self, board: SiteServer, tmp_path: Path, smtp_server
    ) -> None:
        """send-test mails a sample with every theme, an update and an attachment."""
        mail = f'transport = "smtp"\n[mail.smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\n'
        config = write_config(tmp_path, board, mail=mail)
        result = cli(config, "send-test", "--to", "me@example.org")
        assert result.returncode == 0, result.stderr
        assert (
            result.stdout.strip()
            == f"sample digest sent to me@example.org via smtp ({smtp_server.host}:{smtp_server.port})"
        )
        (message,) = smtp_server.received
        assert message.rcpt_tos == ("me@example.org",)
        text = message.message.get_body(("plain",)).get_content()
        for name in ("North Korea", "Sanctions", "Cyber", "Human rights", "Updated", ".pdf"):
            assert name.lower() in text.lower()
        # Never mistaken for news: marked in Subject and body, made-up, linking nowhere real.
        assert message.subject.startswith("[TEST] ")
        assert text.startswith("*** TEST MESSAGE")
        html = message.message.get_body(("html",)).get_content()
        assert "TEST MESSAGE" in html
        assert "mofa.go.kr" not in text and "mofa.go.kr" not in html
        titles = [line[2:] for line in text.splitlines() if line.startswith("* ")]
        assert len(titles) == 9 and all("SAMPLE" in title for title in titles)


class TestArchiveCommands:
    def test_backfill_stores_history_without_mail(self, board: SiteServer, tmp_path: Path) -> None:
        """backfill walks the date-filtered listing, shows progress, and mails nothing."""
        config = write_config(tmp_path, board)
        board.seed_from_corpus()  # 24 releases, 3 pages
        cli(config, "run-once")
        result = cli(config, "backfill", "--since", "2020-01-01")
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines() == [
            "mofa-en: page 1: 10 rows, 0 missing so far",
            "mofa-en: page 2: 10 rows, 10 missing so far",
            "mofa-en: page 3: 4 rows, 14 missing so far",
            "mofa-en: fetching 14 release pages…",
        ]
        assert result.stdout.strip() == "mofa-en: 14 stored from 3 page(s)"
        assert len(cli(config, "releases").stdout.splitlines()) == 24
        assert (
            cli(config, "run-once").stdout.splitlines()[-1]
            == "digests: 0 planned, 0 sent, 0 deferred, 0 failed"
        )

    def test_reclassify_applies_new_theme_rules(self, board: SiteServer, tmp_path: Path) -> None:
        """After adding a theme to the config, reclassify re-tags the stored archive."""
        config = write_config(tmp_path, board)
        cli(config, "run-once")
        assert cli(config, "releases", "--theme", "venezuela").returncode == 2  # usage error
        with config.open("a", encoding="utf-8") as file:
            file.write(
                '\n[[themes]]\nid = "venezuela"\nname = "Venezuela"\npatterns = ["venezuela"]\n'
            )
        result = cli(config, "reclassify")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("re-tagged 10 release(s) with rules-")
        titles = cli(config, "releases", "--theme", "venezuela").stdout
        assert "Venezuela" in titles and len(titles.splitlines()) >= 1

    def test_eval_prints_the_table(self, tmp_path: Path) -> None:
        """eval scores the classifier on a labelled file."""
        data = Path(__file__).parent / "data" / "dev.jsonl"
        (tmp_path / "config.toml").write_text(
            '[[subscribers]]\nemail = "a@example.org"\n', encoding="utf-8"
        )
        result = cli(tmp_path / "config.toml", "eval", str(data))
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0].split()[:4] == ["theme", "tp", "fp", "fn"]
        assert "micro" in result.stdout

    def test_demo_runs_offline(self, tmp_path: Path) -> None:
        """demo serves the bundled pages, polls, and delivers three digests into ./demo-state."""
        result = subprocess.run(
            [sys.executable, "-m", "monitor", "demo"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "1. Baseline poll: 10 releases stored, none mailed." in result.stdout
        assert "3 digest(s) delivered" in result.stdout
        assert len(list((tmp_path / "demo-state" / "outbox" / "new").iterdir())) == 3
        again = subprocess.run(
            [sys.executable, "-m", "monitor", "demo"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert again.returncode == 0  # a second demo starts afresh
        assert len(list((tmp_path / "demo-state" / "outbox" / "new").iterdir())) == 3
