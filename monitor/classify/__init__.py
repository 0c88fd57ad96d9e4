"""Stage 4, classify: themes (rules and a small model), countries named, and a short summary.

Entry point: :class:`Classifier`. ``themes`` holds the rules and the taxonomy, ``learn`` the
model, ``countries`` the country finder, ``summarize`` the lead summary, ``evaluate`` the scoring
against labelled releases (``eval`` command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor import lazy

if TYPE_CHECKING:
    from monitor.classify.themes import Classifier

__all__ = ["Classifier"]

#: Imported on first use (see :mod:`monitor.lazy`).
__getattr__ = lazy.exports(
    __name__,
    {
        "Classifier": "monitor.classify.themes",
    },
)
