"""Where the command line promises one clear line, a user never sees a traceback.

Each case runs the real CLI in a subprocess, as a user or a unit file would, and asserts the
exact line, the exit code, and that no ``Traceback`` reaches stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sitekit import SiteServer

from monitor.config import load_config
from monitor.errors import ConfigError

from smtp_server import SmtpTestServer

EXIT_OUTPUT_CLOSED = 141  # 128 + SIGPIPE


def cli(
    config: Path, *args: str, stdout: int | None = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    """``python -m monitor --config CONFIG ARGS`` with a bounded time."""
    environment = {k: v for k, v in os.environ.items() if k != "MOFA_MONITOR_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        cwd=config.parent,
        env=environment,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )


def closed_stdout(config: Path, *args: str) -> tuple[int, str]:
    """Run a command whose reader has gone (``| head -0``): exit code and stderr."""
    read, write = os.pipe()
    os.close(read)  # no reader at all: the first write gets EPIPE
    try:
        process = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), *args],
            cwd=config.parent,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    return process.returncode, process.stderr


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


BASE = """
[service]
state_dir = "state"
request_delay = "0s"
timeout = "3s"

[[sources]]
id = "mofa-en"
url = "{url}"

[mail]
from = "MOFA Monitor <monitor@example.org>"
{mail}

[[subscribers]]
email = "desk@example.org"
frequency = "immediate"
"""


@pytest.fixture
def stocked(tmp_path: Path, live_site: SiteServer) -> Path:
    """A config whose state holds 10 releases (one baseline run-once against the local site)."""
    live_site.seed_from_corpus(limit=10)
    config = write_config(tmp_path, BASE.format(url=live_site.list_url(), mail=""))
    first = cli(config, "run-once")
    assert first.returncode == 0, first.stderr
    return config


class TestClosedOutput:
    @pytest.mark.parametrize(
        "args",
        [
            ("releases",),
            ("releases", "--json"),
            ("status",),
            ("preview", "--subscriber", "desk@example.org"),
            ("explain", "FIRST"),
        ],
        ids=["releases", "releases-json", "status", "preview", "explain"],
    )
    def test_closed_stdout_ends_quietly(self, stocked: Path, args: tuple[str, ...]) -> None:
        """`… | head`: exit 141 like any Unix tool, and nothing at all on stderr."""
        if args[0] == "explain":
            first = cli(stocked, "releases", "--limit", "1").stdout.split()[1]
            args = ("explain", first)
        code, stderr = closed_stdout(stocked, *args)
        assert stderr == ""
        assert code == EXIT_OUTPUT_CLOSED

    def test_head_reads_the_first_lines(self, stocked: Path) -> None:
        """A real `releases | head -2` pipeline: two lines, no noise from the writer."""
        pipeline = subprocess.run(
            f"{sys.executable} -m monitor --config {stocked} releases --json | head -2",
            shell=True,
            cwd=stocked.parent,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert len(pipeline.stdout.splitlines()) == 2
        assert pipeline.stderr == ""

    def test_full_disk_is_one_line(self, stocked: Path) -> None:
        """stdout on a full device: one line naming the reason, exit 1."""
        with open("/dev/full", "w") as full:
            result = cli(stocked, "releases", stdout=full.fileno())
        assert result.returncode == 1
        assert (
            result.stderr
            == "mofa-monitor: error: cannot write the output: No space left on device\n"
        )


class TestArguments:
    @pytest.mark.parametrize("address", ["not an address", "a@b@c"])
    def test_send_test_refuses_a_malformed_address(self, tmp_path: Path, address: str) -> None:
        """send-test --to is checked as the config checks addresses: a usage error, exit 2."""
        config = write_config(tmp_path, BASE.format(url="http://127.0.0.1:9/x", mail=""))
        result = cli(config, "send-test", "--to", address)
        assert result.returncode == 2
        assert result.stderr.splitlines()[-1] == (
            f"mofa-monitor send-test: error: argument --to: {address!r} is not an e-mail address"
        )
        assert not (tmp_path / "state" / "outbox").exists()

    def test_unknown_theme_is_a_usage_error(self, stocked: Path) -> None:
        """`releases --theme nk`: exit 2 like argparse's own errors, with a suggestion (F5)."""
        result = cli(stocked, "releases", "--theme", "nk")
        assert result.returncode == 2
        line = result.stderr.splitlines()[-1]
        assert line.startswith(
            "mofa-monitor: error: unknown theme 'nk'; did you mean 'north-korea'? (known: climate-"
        )
        assert cli(stocked, "releases", "--theme", "north-korea").returncode == 0

    def test_unknown_backfill_source_is_a_usage_error(self, tmp_path: Path) -> None:
        config = write_config(tmp_path, BASE.format(url="http://127.0.0.1:9/x", mail=""))
        result = cli(config, "backfill", "--since", "2024-01-01", "--source", "mofa-eng")
        assert result.returncode == 2
        assert result.stderr.splitlines()[-1] == (
            f"mofa-monitor: error: no board source 'mofa-eng' in {config}; did you mean "
            "'mofa-en'? (board sources: mofa-en)"
        )

    def test_send_test_still_sends_to_a_good_address(
        self, tmp_path: Path, smtp_server: SmtpTestServer
    ) -> None:
        """The check lets a normal address through."""
        mail = f'transport = "smtp"\n[mail.smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\n'
        config = write_config(tmp_path, BASE.format(url="http://127.0.0.1:9/x", mail=mail))
        result = cli(config, "send-test", "--to", "me@example.org")
        assert result.returncode == 0, result.stderr
        assert smtp_server.wait_for(1)[0].rcpt_tos == ("me@example.org",)


class TestConfigValidation:
    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            (
                "http://127.0.0.1:99999/eng/list.do",
                "the port must be a number from 1 to 65535, not '99999'",
            ),
            (
                "http://127.0.0.1:abc/eng/list.do",
                "the port must be a number from 1 to 65535, not 'abc'",
            ),
            ("http://127.0.0.1:0/eng/list.do", "the port must be a number from 1 to 65535"),
            ("http://[::1/eng/list.do", "Invalid IPv6 URL"),
            ("http://exa mple.org/list.do", "it contains spaces or control characters"),
            ("http:///list.do", "there is no host"),
            ("ftp://example.org/list.do", "the scheme must be http or https"),
        ],
    )
    def test_check_config_refuses_unusable_source_urls(
        self, tmp_path: Path, url: str, reason: str
    ) -> None:
        """A URL the fetcher could not use fails check-config (exit 2), naming field and reason."""
        config = write_config(tmp_path, BASE.format(url=url, mail=""))
        with pytest.raises(ConfigError) as caught:
            load_config(config)
        assert caught.value.problems == [
            f"{config}: sources.1.url: {url!r} is not a usable http(s) URL: {reason}"
        ]

    def test_check_config_exits_2_on_a_bad_port(self, tmp_path: Path) -> None:
        config = write_config(tmp_path, BASE.format(url="http://127.0.0.1:99999/x", mail=""))
        result = cli(config, "check-config")
        assert result.returncode == 2
        assert result.stderr == (
            f"{config}: sources.1.url: 'http://127.0.0.1:99999/x' is not a usable http(s) URL: "
            "the port must be a number from 1 to 65535, not '99999'\n"
        )

    def test_unsubscribe_url_is_checked_the_same_way(self, tmp_path: Path) -> None:
        mail = 'unsubscribe_url = "https://example.org:70000/u"'
        config = write_config(tmp_path, BASE.format(url="http://127.0.0.1:9/x", mail=mail))
        with pytest.raises(ConfigError) as caught:
            load_config(config)
        assert (
            "mail.unsubscribe_url: 'https://example.org:70000/u' is not a usable"
            in (caught.value.problems[0])
        )

    @pytest.mark.parametrize(
        ("listen", "reason"),
        [
            ("127.0.0.1:99999", "'127.0.0.1:99999': port 99999 is out of range 0–65535"),
            ("[1::2::3]:8787", "'[1::2::3]:8787': [1::2::3] is not an IPv6 address"),
            ("127.0.0.1:", '\'127.0.0.1:\' must be "HOST:PORT", e.g. "127.0.0.1:8787"'),
        ],
    )
    def test_listen_out_of_range_fails_check_config_and_run(
        self, tmp_path: Path, listen: str, reason: str
    ) -> None:
        """check-config refuses it, and `run` exits 2 before starting (no restart loop)."""
        body = BASE.format(url="http://127.0.0.1:9/x", mail="").replace(
            "[service]\n", f'[service]\nlisten = "{listen}"\n'
        )
        config = write_config(tmp_path, body)
        with pytest.raises(ConfigError) as caught:
            load_config(config)
        assert caught.value.problems == [f"{config}: service.listen: {reason}"]
        if listen.endswith("99999"):  # the reported case, through the real commands
            for command in ("check-config", "run"):
                result = cli(config, command)
                assert result.returncode == 2, (command, result.stderr)
                assert result.stderr.splitlines() == [f"{config}: service.listen: {reason}"]

    def test_good_urls_and_listen_pass(self, tmp_path: Path) -> None:
        body = BASE.format(url="https://www.mofa.go.kr/eng/brd/m_5676/list.do", mail="")
        body = body.replace("[service]\n", '[service]\nlisten = "[::1]:8787"\n')
        assert load_config(write_config(tmp_path, body)).service.listen == "[::1]:8787"


class TestStateFolder:
    def test_folder_at_the_lock_path(self, stocked: Path) -> None:
        """A directory where the lock file goes: one line that says what to remove."""
        (stocked.parent / "state" / "mofa-monitor.lock").unlink()
        (stocked.parent / "state" / "mofa-monitor.lock").mkdir()
        result = cli(stocked, "run-once")
        assert result.returncode == 1
        lock = stocked.parent / "state" / "mofa-monitor.lock"
        assert result.stderr == (
            f"mofa-monitor: error: cannot take the lock {lock}: Is a directory "
            "(a folder is in the way of the lock file; remove it)\n"
        )

    @pytest.mark.parametrize("command", ["run-once", "run", "status"])
    def test_state_dir_that_is_a_file(self, tmp_path: Path, command: str) -> None:
        """state_dir names a file (unusable, as a read-only mount is): one line, exit 1."""
        config = write_config(tmp_path, BASE.format(url="http://127.0.0.1:9/x", mail=""))
        (tmp_path / "state").write_text("not a folder")
        result = cli(config, command)
        assert result.returncode == 1, result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("mofa-monitor: error: ")
        assert str(tmp_path / "state") in result.stderr

    def test_unexpected_errors_are_one_line_without_their_message(self, tmp_path: Path) -> None:
        """An unforeseen exception is one line naming its type only (a message may hold secrets)."""
        script = (
            "import sys\n"
            "from monitor import cli\n"
            "from monitor.cli import common\n"
            "def boom(args, out):\n"
            "    raise UnicodeEncodeError('ascii', 'pässword', 1, 2, 'secret')\n"
            "common.COMMANDS['status'] = (boom, 'x')\n"
            "sys.exit(cli.main(sys.argv[1:]))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script, "status"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1
        assert result.stderr == (
            "mofa-monitor: internal error (UnicodeEncodeError); run again with -v for the "
            "traceback, and please report it\n"
        )


class TestBrokenConfigForReaders:
    def test_readers_answer_with_the_last_good_config(self, stocked: Path) -> None:
        """status/releases/explain/preview still answer, and say the file is invalid."""
        good = cli(stocked, "releases").stdout
        assert len(good.splitlines()) == 10
        stocked.write_text(stocked.read_text() + "\n[[subscribers]]\nemail = 'x'\n")
        assert cli(stocked, "check-config").returncode == 2
        note = (
            f"mofa-monitor: warning: {stocked} is invalid (1 problem; `mofa-monitor check-config` "
            "lists them): answering with the last good config ("
        )
        releases = cli(stocked, "releases")
        assert releases.returncode == 0
        assert releases.stdout == good
        assert releases.stderr.startswith(note)
        status = cli(stocked, "status")
        assert status.returncode == 0
        assert status.stdout.splitlines()[0].startswith("config: INVALID — ")
        assert "mofa-en (mofa-board)" in status.stdout  # the source of the last good config
        assert "releases stored: 10" in status.stdout
        explain = cli(stocked, "explain", good.split()[1])
        assert explain.returncode == 0 and explain.stderr.startswith(note)
        preview = cli(stocked, "preview", "--subscriber", "desk@example.org")
        assert preview.returncode == 0 and preview.stderr.startswith(note)
        # Commands that act still refuse the broken file.
        assert cli(stocked, "run-once").returncode == 2

    def test_without_a_stored_config_the_defaults_are_used(self, stocked: Path) -> None:
        (stocked.parent / "state" / "last-good-config.json").unlink()
        stocked.write_text("[service\nstate_dir = 'state'\n")
        status = cli(stocked, "status")
        assert status.returncode == 0, status.stderr
        assert status.stdout.splitlines()[0] == (
            f"config: INVALID — {stocked} is invalid (1 problem; `mofa-monitor check-config` "
            f"lists them): answering with the defaults for {stocked.parent / 'state'}"
        )
        assert "releases stored: 10" in status.stdout

    def test_unsubscribe_and_resubscribe_work_on_a_broken_config(self, stocked: Path) -> None:
        """An operator honouring a request does not wait for the file to be fixed (F9)."""
        stocked.write_text(stocked.read_text() + "\nbroken = [\n")
        done = cli(stocked, "unsubscribe", "desk@example.org")
        assert done.returncode == 0, done.stderr
        assert done.stderr.startswith(f"mofa-monitor: warning: {stocked} is invalid")
        assert done.stdout.startswith("desk@example.org unsubscribed by ")
        listed = cli(stocked, "subscribers")
        assert listed.returncode == 0 and "desk@example.org: UNSUBSCRIBED" in listed.stdout
        back = cli(stocked, "resubscribe", "desk@example.org")
        assert back.returncode == 0, back.stderr
        assert "digests resume with releases from now on" in back.stdout

    def test_syntax_error_still_finds_a_custom_state_dir(self, tmp_path: Path) -> None:
        """No last good copy, state_dir named in a file TOML cannot read: the defaults (F20)."""
        body = BASE.format(url="http://127.0.0.1:9/x", mail="").replace(
            'state_dir = "state"', 'state_dir = "custom"  # ours'
        )
        config = write_config(tmp_path, body)
        assert cli(config, "unsubscribe", "gone@example.org").returncode == 0  # creates the state
        assert not (tmp_path / "custom" / "last-good-config.json").exists()
        config.write_text(body + "\nbroken = [\n")
        for command in ("status", "subscribers", "releases"):
            result = cli(config, command)
            assert result.returncode == 0, (command, result.stderr)
            assert result.stderr.splitlines()[0].endswith(
                f"answering with the defaults for {tmp_path / 'custom'}"
            )
        assert "gone@example.org" in cli(config, "subscribers").stdout

    def test_missing_file_keeps_its_own_error(self, tmp_path: Path) -> None:
        result = cli(tmp_path / "config.toml", "status")
        assert result.returncode == 2
        assert "config file not found" in result.stderr


class TestStderrLines:
    """Every line the CLI writes on stderr is neutralised for terminals, and a JSON object
    with --log-format json (F16, and the error boundary)."""

    def test_error_boundary_neutralises_quoted_text(self, stocked: Path) -> None:
        hostile = "a\x1b]0;pwn\x07\u202e@example.org"
        result = cli(stocked, "preview", "--subscriber", hostile)
        assert result.returncode == 1
        assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
        assert result.stderr.splitlines()[-1].startswith(
            "mofa-monitor: error: a\\x1b]0;pwn\\x07\\u202e@example.org is not a subscriber"
        )

    def test_json_mode_progress_and_summary_lines(
        self, tmp_path: Path, live_site: SiteServer
    ) -> None:
        import json

        live_site.seed_from_corpus(limit=10)
        config = write_config(tmp_path, BASE.format(url=live_site.list_url(), mail=""))
        result = cli(config, "--log-format", "json", "run-once")
        assert result.returncode == 0, result.stderr
        lines = result.stderr.splitlines()
        assert any("listing page 1" in json.loads(line)["message"] for line in lines)
        for line in lines:
            record = json.loads(line)
            assert set(record) >= {"time", "level", "logger", "message"}

    @pytest.mark.parametrize(
        "args",
        [
            ["--log-format", "json", "releases", "--since", "soon"],
            ["releases", "--log-format=json", "--since", "soon"],
            ["--log-format", "text", "releases", "--since", "soon", "--log-format", "json"],
            ["--log-format", "json", "no-such-command"],
            ["--log", "json", "releases", "--since", "soon"],  # argparse's abbreviation
            ["--log-f=json", "releases", "--limit", "many"],
        ],
    )
    def test_json_mode_usage_errors(self, tmp_path: Path, args: list[str]) -> None:
        """A usage error is one JSON object too (argparse writes usage text otherwise)."""
        import json

        config = write_config(tmp_path, "")
        result = cli(config, *args)
        assert result.returncode == 2
        [record] = [json.loads(line) for line in result.stderr.splitlines()]
        assert record["level"] == "error" and "error: " in record["message"]
        assert record["message"].endswith("--help)")

    def test_an_unknown_option_names_the_commands_own_help(self, tmp_path: Path) -> None:
        import json

        config = write_config(tmp_path, "")
        result = cli(config, "--log-format", "json", "releases", "--bogus")
        [record] = [json.loads(line) for line in result.stderr.splitlines()]
        assert record["message"] == (
            "mofa-monitor releases: error: unrecognized arguments: --bogus "
            "(see mofa-monitor releases --help)"
        )
        result = cli(config, "releases", "--bogus")
        assert result.returncode == 2 and result.stderr.startswith("usage: mofa-monitor releases")

    def test_text_mode_usage_errors_stay_argparse_s(self, tmp_path: Path) -> None:
        config = write_config(tmp_path, "")
        result = cli(
            config, "--log-format", "json", "releases", "--since", "x", "--log-format", "text"
        )
        assert result.returncode == 2
        assert result.stderr.startswith("usage: mofa-monitor releases")

    def test_json_mode_config_problems(self, tmp_path: Path) -> None:
        import json

        config = write_config(tmp_path, '[service]\nrequest_delay = "soon"\nbogus = 1\n')
        result = cli(config, "--log-format", "json", "run-once")
        assert result.returncode == 2
        records = [json.loads(line) for line in result.stderr.splitlines()]
        assert [r["level"] for r in records] == ["error", "error"]
        assert records[0]["message"].startswith(f"{config}: service.request_delay: ")
        assert records[0]["logger"] == "mofa-monitor"
