"""mofa-monitor: follow the Korean foreign ministry's press releases, by theme, in your inbox."""

__version__ = "0.1.0"
