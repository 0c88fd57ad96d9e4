"""Stage 4, classify: themes (rules and a small model), countries named, and a short summary.

Entry point: :class:`Classifier`. ``themes`` holds the rules and the taxonomy, ``learn`` the
model, ``countries`` the country finder, ``summarize`` the lead summary, ``evaluate`` the scoring
against labelled releases (``eval`` command).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.classify.themes import Classifier

__all__ = ["Classifier"]

#: Imported on first use (PEP 562), so importing one module of the package does not import
#: them all: a command pays only for what it runs.
_LAZY = {
    "Classifier": "monitor.classify.themes",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
