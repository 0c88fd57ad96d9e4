"""Data shipped with the package: the default theme taxonomy and the demo site.

:func:`default_theme_ids` is the one list of theme ids (DESIGN §4): read from ``themes.toml``,
the file the classifier's taxonomy is built from, by config validation, the last-good config,
evaluation and the tests alike.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable
from importlib import resources

__all__ = ["default_theme_ids", "default_theme_names", "read_text", "theme_names"]


def read_text(name: str) -> str:
    """The packaged data file ``name`` (``themes.toml``, ``countries.toml``…) as UTF-8 text."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


#: A line that opens a table (``[x]``/``[[x]]`` at its start): ``themes.toml`` cut into tables.
#: An indented header merely stays in the table before it, which the parser reads in full.
_TABLE_START = re.compile(r"(?m)^(?=\[)")


@functools.cache
def default_theme_names() -> tuple[tuple[str, str], ...]:
    """(id, name) of the packaged themes, in the order of ``themes.toml`` ("" when unnamed);
    read once per process for both this and :func:`default_theme_ids`.

    Every command validates a config against these ids, so only the ``[[themes]]`` headers'
    own tables (a few lines each) go through the TOML parser, not the rules of the whole
    file; ``tests/test_data.py`` checks the result equals a full parse.
    """
    themes = []
    for table in _TABLE_START.split(read_text("themes.toml")):
        if table.startswith("[[themes]]"):
            theme = tomllib.loads(table)["themes"][0]
            themes.append((str(theme["id"]), str(theme.get("name", ""))))
    return tuple(themes)


def default_theme_ids() -> tuple[str, ...]:
    """The ids of the packaged themes, in the order of ``themes.toml`` (the digest's order)."""
    return tuple(theme_id for theme_id, _ in default_theme_names())


def theme_names(overrides: Iterable[tuple[str, str | None]] = ()) -> dict[str, str]:
    """Theme id → display name (the id when unnamed) of the packaged themes with ``overrides``
    (``(id, name)`` of the config's ``[[themes]]``, in order) applied as the classifier's
    taxonomy applies them: a new id is appended, a name replaces the packaged one, no name
    keeps it. Needs no rule compiled and no classifier module imported."""
    names = dict(default_theme_names())
    for theme_id, name in overrides:
        names[theme_id] = name or names.get(theme_id, "")
    return {theme_id: name or theme_id for theme_id, name in names.items()}
