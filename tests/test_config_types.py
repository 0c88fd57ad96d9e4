"""Every key of the config, given a value of the wrong type, is a problem named in the file's
terms (``FILE: dotted.path: message``), never an internal error. Walks the config classes, so a
key added later is covered too."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Config, load_config
from monitor.errors import ConfigError

#: A value of each TOML type (tomllib's Python types); each key gets those it does not take.
TOML_VALUES: list[Any] = [
    "text",
    "",
    0,
    -1,
    10**20,
    1.5,
    True,
    dt.datetime(2026, 1, 1, 8, 0),
    dt.date(2026, 1, 1),
    dt.time(8, 0),
    [],
    [1, "a"],
    [[1]],
    [{}],
    {},
    {"x": 1},
]
#: The file's sections; list sections with a minimal valid entry the wrong value is put in.
SECTIONS: dict[str, dict[str, Any] | None] = {
    "service": None,
    "mail": None,
    "mail.smtp": None,
    "sources": {"id": "s", "url": "https://example.org/list.do"},
    "subscribers": {"email": "a@example.org"},
    "themes": {"id": "t", "patterns": ["x"]},
}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def section_keys(section: str) -> list[str]:
    """The keys of ``section`` (``mail.smtp``: dotted), from the config classes."""
    kind: Any = Config
    for part in section.split("."):
        hint = typing.get_type_hints(kind)[part]
        kind = next(a for a in (*typing.get_args(hint), hint) if dataclasses.is_dataclass(a))
    return ["from" if f.name == "from_" else f.name for f in dataclasses.fields(kind)]


CASES = [
    (section, key, value)
    for section in SECTIONS
    for key in section_keys(section)
    for value in TOML_VALUES
] + [
    ("themes", "weights", {"x": "heavy"}),
    ("themes", "weights", {"x": [1]}),
    ("themes", "patterns", ["(a+)+", 3]),
    ("subscribers", "keywords", ["a", 3]),
    ("subscribers", "exclude", [{}]),
]


def write(tmp_path: Path, section: str, key: str, value: Any) -> Path:
    entry = SECTIONS[section]
    if entry is not None:
        fields = {**entry, key: value}
        body = f"[[{section}]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in fields.items())
    else:
        body = f"[{section}]\n{key} = {toml_value(value)}\n"
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_every_key_is_tried() -> None:
    assert {"state_dir", "timezone"} <= set(section_keys("service"))
    assert {"port", "ca_file"} <= set(section_keys("mail.smtp"))
    assert "from" in section_keys("mail") and "send_at" in section_keys("subscribers")


@pytest.mark.parametrize("section", SECTIONS)
def test_a_wrong_type_anywhere_is_a_named_problem(tmp_path: Path, section: str) -> None:
    crashes = []
    for case_section, key, value in CASES:
        if case_section != section:
            continue
        path = write(tmp_path, section, key, value)
        try:
            load_config(path)
        except ConfigError as error:
            assert all(p.startswith(f"{path}: ") for p in error.problems), error.problems
        except Exception as exc:
            crashes.append(f"{section}.{key} = {toml_value(value)}: {type(exc).__name__}: {exc}")
    assert crashes == []


def test_theme_weights_are_checked_as_validation_reads_them(tmp_path: Path) -> None:
    """A weight written as a string is read as the number it spells ("-5" is refused as -5),
    and a weight that is no number still has its key checked against the patterns."""
    path = write(tmp_path, "themes", "weights", {"x": "-5"})
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert f"{path}: themes.1.weights.x: weight must be a number >= 0" in error.value.problems
    path = write(tmp_path, "themes", "weights", {"nowhere": [1]})
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert f"{path}: themes.1.weights.nowhere: weight for a pattern the theme does not list" in (
        error.value.problems
    )
