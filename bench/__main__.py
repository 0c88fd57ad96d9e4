"""``python -m bench``: the performance table of every measure, each beside its baseline from the
same run (see :mod:`bench.perf`; arguments are passed on, e.g. ``--smoke``, ``--only fanout``).

``python -m bench --all`` also runs the other benches, one after the other, with their default
settings: classifier speed, parser speed, charset decision cost and classifier quality.
"""

from __future__ import annotations

import sys

from bench.perf import __main__ as perf


def main(argv: list[str]) -> int:
    """Run the performance table (and, with ``--all``, every other bench first)."""
    if "--all" in argv:
        argv = [a for a in argv if a != "--all"]
        from bench import classify_speed, decode_speed, parse_speed, themes

        print("== classifier speed (python -m bench.classify_speed)")
        classify_speed.main([])
        print("\n== parser speed (python -m bench.parse_speed)")
        parse_speed.main([])
        print("\n== charset decision cost (python -m bench.decode_speed)")
        decode_speed.main([])
        print("\n== classifier quality on real labelled releases (python -m bench.themes)")
        themes.main([])
        print("\n== performance at every size, against same-run baselines (python -m bench)")
    return perf.main(argv, prog="python -m bench")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
