"""Stage 4, classify: themes (rules and a small model), countries named, and a short summary.

Entry point: :class:`Classifier`. ``themes`` holds the rules and the taxonomy, ``learn`` the
model, ``countries`` the country finder, ``summarize`` the lead summary, ``evaluate`` the scoring
against labelled releases (``eval`` command).
"""

from monitor.classify.themes import Classifier

__all__ = ["Classifier"]
