"""Data shipped with the package: the default theme taxonomy and the demo site.

:func:`default_theme_ids` is the one list of theme ids (DESIGN §4): read from ``themes.toml``,
the file the classifier's taxonomy is built from, by config validation, the last-good config,
evaluation and the tests alike.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

__all__ = ["default_theme_ids", "default_theme_names", "read_text"]


def read_text(name: str) -> str:
    """The packaged data file ``name`` (``themes.toml``, ``countries.toml``…) as UTF-8 text."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


@functools.cache
def default_theme_names() -> tuple[tuple[str, str], ...]:
    """(id, name) of the packaged themes, in the order of ``themes.toml`` ("" when unnamed);
    the file is parsed once per process for both this and :func:`default_theme_ids`."""
    data = tomllib.loads(read_text("themes.toml"))
    return tuple((str(theme["id"]), str(theme.get("name", ""))) for theme in data["themes"])


def default_theme_ids() -> tuple[str, ...]:
    """The ids of the packaged themes, in the order of ``themes.toml`` (the digest's order)."""
    return tuple(theme_id for theme_id, _ in default_theme_names())
