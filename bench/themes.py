"""Print the per-theme precision/recall/F1 table of the default classifier on a labelled JSONL file.

Usage: ``python -m bench.themes FILE.jsonl`` (the same as ``mofa-monitor eval FILE``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from monitor.errors import MonitorError
from monitor.evaluate import main_eval


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; exit status 2 on usage errors, 1 when the file cannot be used."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.themes FILE.jsonl", file=sys.stderr)
        return 2
    try:
        return main_eval(Path(args[0]))
    except MonitorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
