"""Stored text printed by the CLI cannot drive the operator's terminal.

A title, body or error carrying ESC sequences, BEL, C1 controls or bidi overrides is stored as
it came (the archive keeps what the site said); every command that prints it shows those
characters as visible escapes, and ``--json`` output decodes to exactly the stored text.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.models import Classification, Release, ThemeTag
from monitor.ops.terminal import for_terminal, json_for_terminal
from monitor.store.sqlite import Store

#: Terminal-rewriting text of every kind: OSC title, CSI clear, one-byte C1 CSI, BEL, CR that
#: returns to the start of the line, bidi override and isolate, line separator, DEL.
HOSTILE = (
    "North Korea\x1b]0;owned\x07 talks \x1b[2J\x9b31m red \rFAKE \u202egnorw\u202c "
    "\u2066iso\u2069 \u2028 next\x7f 외교부"
)
DANGEROUS = ["\x1b", "\x07", "\x9b", "\r", "\u202e", "\u202c", "\u2066", "\u2069", "\u2028", "\x7f"]


def assert_harmless(text: str) -> None:
    for ch in DANGEROUS:
        assert ch not in text, f"{ch!r} reached the terminal"


def test_for_terminal_shows_each_character_as_a_visible_escape() -> None:
    shown = for_terminal(HOSTILE)
    assert_harmless(shown)
    assert "\\x1b]0;owned\\x07" in shown and "\\u202egnorw\\u202c" in shown
    assert "\\x9b31m" in shown and "\\rFAKE" in shown
    assert "외교부" in shown and "North Korea" in shown
    assert "\n" not in for_terminal("a\nb") and for_terminal("a\nb", multiline=True) == "a\nb"


def test_json_for_terminal_is_valid_json_of_the_same_text() -> None:
    document = json.dumps({"title": HOSTILE}, ensure_ascii=False)
    safe = json_for_terminal(document)
    assert_harmless(safe)
    assert json.loads(safe) == {"title": HOSTILE}


@pytest.fixture
def hostile_state(tmp_path: Path) -> Path:
    """A config and a database holding one hostile release and a hostile source error."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[service]\nstate_dir = "state"\n[[sources]]\nid = "mofa-en"\n'
        'url = "http://127.0.0.1:9/eng/brd/m_5676/list.do"\n'
        '[[subscribers]]\nemail = "d@example.org"\nfrequency = "immediate"\n',
        encoding="utf-8",
    )
    with Store.in_dir(tmp_path / "state") as store:
        store.ensure_source("mofa-en", "mofa-board", "http://127.0.0.1:9/eng/brd/m_5676/list.do")
        store.sync_subscribers(["d@example.org"])
        release = Release(
            "m_5676-9",
            "mofa-en",
            "m_5676",
            9,
            HOSTILE,
            None,
            "http://127.0.0.1:9/view.do?seq=9\x1b[8m",
            f"Body {HOSTILE}",
            f"Summary {HOSTILE}",
        )
        tags = Classification((ThemeTag("north-korea", 5.0),), ("KP",), "test")
        store.insert_release(
            release, content_hash="h", baseline=False, poll_run_id=None, classification=tags
        )
        store.record_poll_failure("mofa-en", f"listing said {HOSTILE}")
    return config


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=config.parent,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("releases",),
        ("explain", "m_5676-9"),
        ("status",),
        ("preview", "--subscriber", "d@example.org"),
        ("preview", "--subscriber", "d@example.org", "--html"),
    ],
)
def test_commands_print_stored_text_harmlessly(hostile_state: Path, args: tuple[str, ...]) -> None:
    result = cli(hostile_state, *args)
    assert result.returncode == 0, result.stderr
    assert "North Korea" in result.stdout or "listing said" in result.stdout
    assert_harmless(result.stdout)
    assert_harmless(result.stderr)


def test_releases_json_is_harmless_and_exact(hostile_state: Path) -> None:
    result = cli(hostile_state, "releases", "--json")
    assert result.returncode == 0, result.stderr
    assert_harmless(result.stdout)
    [line] = result.stdout.splitlines()
    assert json.loads(line)["title"] == HOSTILE


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_log_lines_quoting_stored_text_are_harmless(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A log line quoting a hostile title or error (alerts, deferrals) leaves stderr inert."""
    import logging

    from monitor.ops.logs import setup_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(0, log_format)
        logging.getLogger("monitor.ops.alerts").error("ALERT source mofa-en is down: %s", HOSTILE)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "ALERT source mofa-en is down" in err
    assert_harmless(err)
    if log_format == "json":
        assert json.loads(err)["message"].endswith(HOSTILE)
