"""The packaged data: theme ids and names read from ``themes.toml`` without parsing its rules."""

from __future__ import annotations

import tomllib

import pytest

from monitor import data


def test_theme_names_equal_a_full_parse_of_themes_toml() -> None:
    full = tomllib.loads(data.read_text("themes.toml"))["themes"]
    expected = tuple((str(t["id"]), str(t.get("name", ""))) for t in full)
    assert data.default_theme_names() == expected
    assert data.default_theme_ids() == tuple(theme_id for theme_id, _ in expected)
    assert len(expected) >= 10  # the check reads the real taxonomy, not an empty one


def test_only_theme_tables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sub-tables, other tables, arrays spanning lines and an indented header are all skipped
    or read whole; a theme without a name reads as ""."""
    text = (
        '[tiers]\nstrong = 3\n\n[[themes]]\nid = "a"\nname = "A [x]"\nrules = [\n  "p",\n]\n'
        '  [themes.en]\nid = "not-a-theme"\n\n[themes.ko]\nterms = ["북한"]\n\n'
        '[[themes]]\nid = "b"\n\n[[other]]\nid = "c"\n'
    )
    monkeypatch.setattr(data, "read_text", lambda name: text)
    data.default_theme_names.cache_clear()
    try:
        assert data.default_theme_names() == (("a", "A [x]"), ("b", ""))
        full = tomllib.loads(text)["themes"]
        assert [t["id"] for t in full] == ["a", "b"]
    finally:
        monkeypatch.undo()
        data.default_theme_names.cache_clear()
