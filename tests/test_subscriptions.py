"""Who gets what, without opening SQLite: `subscribers`, `unsubscribe`, `resubscribe`, and the
subscriber lines of `status` and `preview` — through the real CLI in a subprocess."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from inprocess import run_cli

from monitor.clock import system_clock as utcnow
from monitor.config import load_config
from monitor.models import Classification, Release, ThemeTag
from monitor.plan import outbox
from monitor.store.sqlite import Store

NK = Classification((ThemeTag("north-korea", 9.0),), ("KP",), "test")
CONFIG = """\
[service]
state_dir = "state"

[[sources]]
id = "board"
url = "http://127.0.0.1:9/eng/brd/m_5676/list.do"

[[subscribers]]
email = "desk@example.org"
name = "News desk"
frequency = "immediate"

[[subscribers]]
email = "reader@example.org"
themes = ["north-korea", "sanctions"]
keywords = ["Yongbyon"]
frequency = "weekly"
send_at = "07:30"
weekday = "fri"
timezone = "Europe/Paris"

[[subscribers]]
email = "ops@example.org"
frequency = "daily"
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``mofa-monitor ARGS`` in process (see tests/inprocess.py), without the config variable
    and sudo's user from the caller's environment."""
    return run_cli(args, cwd=cwd, drop_env=("MOFA_MONITOR_CONFIG", "SUDO_USER"))


def insert(store: Store, seq: int) -> int:
    record = Release(
        f"m_5676-{seq}", "board", "m_5676", seq, f"Release {seq}", dt.date(2026, 11, 27),
        f"https://x/view.do?seq={seq}", "North Korea.", "North Korea.",
    )  # fmt: skip
    return store.insert_release(
        record, content_hash=str(seq), baseline=False, poll_run_id=None, classification=NK
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A config of three subscribers and a state that has seen a fourth, now removed."""
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    with Store.in_dir(config.state_dir) as store:
        store.ensure_source("board", "mofa-board", config.sources[0].url)
        store.sync_subscribers(["desk@example.org", "old@example.org", "ops@example.org"])
        store.sync_subscribers(["reader@example.org"])
        row = insert(store, 1)
        sent_at = dt.datetime(2026, 11, 28, 9, 31, tzinfo=dt.UTC)
        store.plan_delivery("desk@example.org", "immediate:1", "<a@x>", [(row, 1, False)],
                            through=store.watermarks(), now=sent_at)  # fmt: skip
        store.mark_sent(store.deliveries(status="pending")[0].id, sent_at)
        store.plan_delivery("desk@example.org", "immediate:2", "<b@x>", [(row, 1, True)],
                            through=store.watermarks(), now=sent_at, allow_empty=True)  # fmt: skip
        store.suppress("reader@example.org", "one-click")
    return tmp_path


class TestSubscribers:
    def test_text_shows_each_state_schedule_last_digest_and_pending(self, folder: Path) -> None:
        result = cli("subscribers", cwd=folder)
        assert result.returncode == 0, result.stderr
        heads = {
            line.split(":")[0].split(" ")[0]: line
            for line in result.stdout.splitlines()
            if not line.startswith(" ")
        }
        lines = result.stdout.splitlines()
        assert lines[0] == "desk@example.org (News desk): active"
        assert "  follows:     every release" in lines
        assert "  frequency:   immediate, after each poll that finds news" in lines
        desk = result.stdout.split("reader@example.org")[0]
        assert "  last digest: 2026-11-28" in desk and "  pending:     1 deliveries" in desk
        assert heads["reader@example.org"].startswith(
            "reader@example.org: UNSUBSCRIBED since "
        ) and heads["reader@example.org"].endswith("(one-click, by the reader)")
        reader = result.stdout.split("reader@example.org")[1].split("ops@example.org")[0]
        assert "follows:     themes north-korea, sanctions; keywords Yongbyon" in reader
        assert "frequency:   weekly on Fridays at 07:30 Europe/Paris" in reader
        assert "last digest: never" in reader
        assert heads["old@example.org"] == "old@example.org: removed from the config"

    def test_json_one_object_per_subscriber(self, folder: Path) -> None:
        result = cli("subscribers", "--json", cwd=folder)
        assert result.returncode == 0, result.stderr
        rows = {r["email"]: r for r in map(json.loads, result.stdout.splitlines())}
        assert {e: r["state"] for e, r in rows.items()} == {
            "desk@example.org": "active",
            "reader@example.org": "unsubscribed",
            "ops@example.org": "active",
            "old@example.org": "removed",
        }
        desk, reader = rows["desk@example.org"], rows["reader@example.org"]
        assert desk["last_digest_sent_at"] == "2026-11-28T09:31:00+00:00"
        assert (desk["pending_deliveries"], desk["themes"], desk["frequency"]) == (
            1,
            None,
            "immediate",
        )
        assert reader["unsubscribed_how"] == "one-click" and reader["unsubscribed_by"] == "reader"
        assert reader["themes"] == ["north-korea", "sanctions"] and reader["unsubscribed_at"]
        assert rows["old@example.org"]["configured"] is False

    def test_status_counts_subscribers_by_state(self, folder: Path) -> None:
        result = cli("status", cwd=folder)
        assert result.returncode == 0, result.stderr
        assert (
            "subscribers: 2 active, 1 unsubscribed, 1 removed from the config "
            "(see `mofa-monitor subscribers`)"
        ) in result.stdout.splitlines()

    def test_preview_says_the_subscriber_is_unsubscribed(self, folder: Path) -> None:
        result = cli("preview", "--subscriber", "reader@example.org", cwd=folder)
        assert result.returncode == 0, result.stderr
        assert "note: reader@example.org is unsubscribed since" in result.stderr
        assert "(one-click, by the reader): nothing is sent to them" in result.stderr
        active = cli("preview", "--subscriber", "ops@example.org", cwd=folder)
        assert "unsubscribed" not in active.stderr

    def test_preview_of_a_removed_subscriber_says_so(self, folder: Path) -> None:
        result = cli("preview", "--subscriber", "old@example.org", cwd=folder)
        assert (result.returncode, result.stderr) == (
            1,
            "mofa-monitor: error: old@example.org is not a subscriber in config.toml any more "
            "(removed from the config; see `mofa-monitor subscribers`)\n",
        )
        never = cli("preview", "--subscriber", "nobody@example.org", cwd=folder)
        assert (
            never.stderr
            == "mofa-monitor: error: nobody@example.org is not a subscriber in config.toml\n"
        )


class TestUnsubscribeResubscribe:
    def test_operator_unsubscribe_then_resubscribe_logs_who(self, folder: Path) -> None:
        me = getpass.getuser()
        done = cli("unsubscribe", "ops@example.org", cwd=folder)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"ops@example.org unsubscribed by {me}; no more digests\n"
        again = cli("unsubscribe", "OPS@example.org", cwd=folder)
        assert again.stdout.startswith("OPS@example.org is already unsubscribed since ")
        listed = cli("subscribers", cwd=folder).stdout
        assert "ops@example.org: UNSUBSCRIBED since" in listed and f"(operator, by {me})" in listed

        back = cli("resubscribe", "ops@example.org", cwd=folder)  # an operator's: no --yes needed
        assert back.returncode == 0, back.stderr
        assert back.stdout == (
            f"ops@example.org resubscribed by {me}; digests resume with releases from now on\n"
        )
        assert f"resubscribed ops@example.org (by {me}; was unsubscribed since" in back.stderr
        listed = cli("subscribers", cwd=folder).stdout
        ops = listed.split("ops@example.org")[1]
        assert ops.startswith(": active\n") and "  resubscribed: " in ops and f" by {me}\n" in ops
        rows = [
            json.loads(line)
            for line in cli("subscribers", "--json", cwd=folder).stdout.splitlines()
        ]
        change = next(r for r in rows if r["email"] == "ops@example.org")["last_change"]
        assert (change["action"], change["how"], change["by"]) == ("resubscribe", "operator", me)
        with Store.in_dir(folder / "state") as store:
            log = store.db.execute(
                "SELECT action, how, actor FROM subscription_log WHERE email = ? ORDER BY id",
                ("ops@example.org",),
            ).fetchall()
        assert [tuple(r) for r in log] == [
            ("unsubscribe", "operator", me),
            ("resubscribe", "operator", me),
        ]

    def test_resubscribe_refuses_a_readers_own_unsubscription_without_yes(
        self, folder: Path
    ) -> None:
        refused = cli("resubscribe", "reader@example.org", cwd=folder)
        assert refused.returncode == 1
        assert refused.stderr.startswith(
            "mofa-monitor: error: reader@example.org unsubscribed themselves since "
        )
        assert refused.stderr.rstrip().endswith(
            "mail them again only with their consent: pass --yes"
        )
        assert "reader@example.org: UNSUBSCRIBED" in cli("subscribers", cwd=folder).stdout
        done = cli("resubscribe", "reader@example.org", "--yes", cwd=folder)
        assert done.returncode == 0, done.stderr
        assert "(one-click, by the reader)" in done.stderr  # the log says what was overridden

    def test_an_address_that_is_not_one_is_refused(self, folder: Path) -> None:
        result = cli("unsubscribe", "desk.example.org", cwd=folder)
        assert result.returncode == 2
        assert result.stderr.splitlines()[-1] == (
            "mofa-monitor unsubscribe: error: argument EMAIL: "
            "'desk.example.org' is not an e-mail address"
        )

    def test_resubscribe_of_an_active_address_is_an_error(self, folder: Path) -> None:
        result = cli("resubscribe", "desk@example.org", cwd=folder)
        assert (result.returncode, result.stderr) == (
            1,
            "mofa-monitor: error: desk@example.org is not unsubscribed (see `mofa-monitor subscribers`)\n",
        )

    def test_global_options_after_the_subcommand(self, folder: Path, tmp_path: Path) -> None:
        """`subscribers --config FILE` works from any folder, as `--config FILE subscribers` does."""
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        config = str(folder / "config.toml")
        after = cli("subscribers", "--json", "--config", config, cwd=elsewhere)
        before = cli("--config", config, "subscribers", "--json", cwd=elsewhere)
        assert after.returncode == 0, after.stderr
        assert after.stdout == before.stdout and len(after.stdout.splitlines()) == 4


def test_resubscribed_reader_gets_only_what_is_new_from_then_on(tmp_path: Path) -> None:
    """The releases published while someone was unsubscribed are not dumped on them on return."""
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    sub = config.subscriber("desk@example.org")
    assert sub is not None
    with Store.in_dir(config.state_dir) as store:
        store.ensure_source("board", "mofa-board", config.sources[0].url)
        store.sync_subscribers(["desk@example.org"])
        store.suppress("desk@example.org", "confirmation page")
        for seq in (1, 2, 3):
            insert(store, seq)
        assert len(outbox.preview(config, store, sub, utcnow()).items) == 3
        store.unsuppress("desk@example.org", actor="tester", now=utcnow())
        assert outbox.preview(config, store, sub, utcnow()).items == ()
        insert(store, 4)
        assert [i.release.seq for i in outbox.preview(config, store, sub, utcnow()).items] == [4]


class TestCheckConfig:
    def test_counts_unsubscribed_readers(self, folder: Path) -> None:
        result = cli("check-config", cwd=folder)
        assert result.returncode == 0, result.stderr
        assert (
            "OK — 1 source(s), 3 subscriber(s) (1 unsubscribed), 0 custom theme(s)" in result.stdout
        )

    def test_no_state_folder_is_created(self, tmp_path: Path) -> None:
        (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
        result = cli("check-config", cwd=tmp_path)
        assert result.returncode == 0 and "3 subscriber(s), 0 custom" in result.stdout
        assert not (tmp_path / "state").exists()

    @pytest.mark.parametrize(
        ("mail", "env", "warning"),
        [
            ("", {}, None),  # mailto links only: no secret involved
            (
                'unsubscribe_url = "https://m.example.org/unsubscribe"\n',
                {},
                "mail.unsubscribe_secret_env is not set: the unsubscribe secret is generated and "
                "kept only in {state}; if that file is lost, every unsubscribe link already sent "
                "stops working — set it (see README, Backups)",
            ),
            (
                'unsubscribe_url = "https://m.example.org/unsubscribe"\n'
                'unsubscribe_secret_env = "TEST_UNSUB_SECRET"\n',
                {},
                "mail.unsubscribe_secret_env names $TEST_UNSUB_SECRET, which is not set here: the "
                "generated secret in {state} is used instead, and links signed with the "
                "configured one will not verify",
            ),
            (
                'unsubscribe_url = "https://m.example.org/unsubscribe"\n'
                'unsubscribe_secret_env = "TEST_UNSUB_SECRET"\n',
                {"TEST_UNSUB_SECRET": "s3cret-from-the-environment"},
                None,
            ),
        ],
        ids=["no-https-links", "generated", "configured-but-unset", "configured"],
    )
    def test_warns_when_the_unsubscribe_secret_is_generated(
        self, tmp_path: Path, mail: str, env: dict[str, str], warning: str | None
    ) -> None:
        (tmp_path / "config.toml").write_text(f"[mail]\n{mail}", encoding="utf-8")
        environment = {k: v for k, v in os.environ.items() if k != "TEST_UNSUB_SECRET"}
        result = subprocess.run(
            [sys.executable, "-m", "monitor", "check-config"],
            cwd=tmp_path,
            env={**environment, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0 and ": OK — " in result.stdout
        state = (tmp_path / "state" / "monitor.sqlite3").resolve()
        expected = (
            [] if warning is None else [f"config.toml: warning: {warning.format(state=state)}"]
        )
        assert result.stderr.splitlines() == expected


def test_unsubscribe_several_addresses_at_once(folder: Path) -> None:
    """Re-applying suppressions after a lost state takes one command."""
    me = getpass.getuser()
    result = cli(
        "unsubscribe", "desk@example.org", "reader@example.org", "x@example.org", cwd=folder
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"desk@example.org unsubscribed by {me}; no more digests"
    assert lines[1].startswith("reader@example.org is already unsubscribed since ")
    assert lines[2] == (
        f"x@example.org unsubscribed by {me}; no more digests "
        "(it is not a subscriber in config.toml)"
    )
    counts = cli("status", cwd=folder).stdout
    assert "subscribers: 1 active, 3 unsubscribed, 1 removed from the config" in counts
