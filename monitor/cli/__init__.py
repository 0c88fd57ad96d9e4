"""The command line ``mofa-monitor``: ``parser`` builds it and maps errors to exit codes,
``commands`` holds the subcommands, ``demo`` the offline demo.

Entry point: :func:`main`.
"""

from monitor.cli.parser import main

__all__ = ["main"]
