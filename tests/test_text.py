"""One table of hidden characters (monitor.text), one list of theme ids (monitor.data)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor import text
from monitor.classify import countries
from monitor.classify.themes import load_default_taxonomy
from monitor.config import DEFAULT_THEME_IDS
from monitor.data import default_theme_ids
from monitor.deliver.mailmessage import safe_header_text, strip_controls
from monitor.ops.terminal import for_terminal
from monitor.parse.board import clean_line

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"


@pytest.mark.parametrize("code", sorted(text.BIDI_CONTROLS), ids=hex)
def test_every_bidi_control_leaves_a_header_and_shows_in_a_terminal(code: int) -> None:
    """UAX #9's marks, embeddings, overrides and isolates: gone from mail, escaped on screen.

    U+061C ARABIC LETTER MARK reached mail headers before the table was shared.
    """
    hostile = f"Seoul{chr(code)}talks"
    assert safe_header_text(hostile) == "Seoultalks"
    assert chr(code) not in for_terminal(hostile) and f"\\u{code:04x}" in for_terminal(hostile)


@pytest.mark.parametrize("code", sorted(text.INVISIBLE), ids=hex)
def test_every_invisible_character_leaves_a_mail(code: int) -> None:
    assert strip_controls(f"a{chr(code)}b") == "ab"


def test_the_parser_drops_zero_width_characters_but_keeps_the_joiners() -> None:
    """Stored text loses ZWSP, word joiner and BOM; ZWNJ/ZWJ shape scripts and emoji."""
    dropped = "".join(map(chr, text.ZERO_WIDTH - text.JOINERS))
    assert clean_line(f"North{dropped}Korea\x00\x1b") == "NorthKorea"
    family = "\U0001f468\u200d\U0001f469"
    assert clean_line(family) == family


def test_the_classifier_reads_every_zero_width_character_as_a_space() -> None:
    assert set(map(ord, countries.INVISIBLE)) == text.ZERO_WIDTH
    assert countries.normalize("South\u200cAfrica\u200d") == "South Africa"


def test_char_class_matches_exactly_its_code_points() -> None:
    codes = {0x00, 0x5D, 0x5E, 0x2D, 0x5C, 0x2066, 0x2067, 0x2069, 0xD800}  # ] ^ - \ too
    pattern = text.char_class(codes)
    for code in range(0x2100):
        assert bool(pattern.fullmatch(chr(code))) == (code in codes), hex(code)
    assert pattern.fullmatch("\ud800") and not pattern.fullmatch("\ud801")
    with pytest.raises(ValueError):
        text.char_class(())


def test_no_module_keeps_its_own_table_of_hidden_characters() -> None:
    """A line spelling two or more zero-width/bidi characters is a table: monitor/text.py's only.

    (A lone ``\\ufeff`` stripping a byte order mark at the start of a document is no table.)
    """
    spelled = re.compile(r"\\u(?:200[b-f]|202[a-e]|206[0-9]|feff|061c)", re.IGNORECASE)
    owners = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if len(spelled.findall(line)) >= 2
    }
    # render/sample.py puts a bidi override into a sample title, on purpose (send-test).
    assert owners <= {"render/sample.py"}


def test_one_list_of_theme_ids() -> None:
    """Config validation, the taxonomy and evaluation read the ids from themes.toml."""
    assert DEFAULT_THEME_IDS == default_theme_ids() == load_default_taxonomy().ids
    assert len(set(DEFAULT_THEME_IDS)) == len(DEFAULT_THEME_IDS) == 12
