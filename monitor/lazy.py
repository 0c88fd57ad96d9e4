"""Package entry points imported on first use (PEP 562 module ``__getattr__``).

Each stage's ``__init__`` re-exports its entry points through :func:`exports`, so importing one
module of a package does not import them all: a command pays only for what it runs (``--help``
imports no pipeline module).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["exports"]


def exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``names[name]`` (a module's dotted
    path) when ``name`` is first read and returns its attribute of that name.

    Raises :class:`AttributeError` for any other name, as a module without it would.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
