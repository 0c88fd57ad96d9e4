"""Data shipped with the package: the default theme taxonomy and the demo site.

:func:`default_theme_ids` is the one list of theme ids (DESIGN §4): read from ``themes.toml``,
the file the classifier's taxonomy is built from, by config validation, the last-good config,
evaluation and the tests alike.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

__all__ = ["default_theme_ids", "read_text"]


def read_text(name: str) -> str:
    """The packaged data file ``name`` (``themes.toml``, ``countries.toml``…) as UTF-8 text."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


@functools.cache
def default_theme_ids() -> tuple[str, ...]:
    """The ids of the packaged themes, in the order of ``themes.toml`` (the digest's order)."""
    data = tomllib.loads(read_text("themes.toml"))
    return tuple(theme["id"] for theme in data["themes"])
