"""Data shipped with the package: the default theme taxonomy and the demo site."""
