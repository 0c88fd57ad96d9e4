"""``python -m bench``: every benchmark, one after the other, with their default settings."""

from __future__ import annotations

from bench import classify_speed, decode_speed, parse_speed, themes
from bench.perf import __main__ as perf

print("== classifier speed (python -m bench.classify_speed)")
classify_speed.main([])
print("\n== parser speed (python -m bench.parse_speed)")
parse_speed.main([])
print("\n== charset decision cost (python -m bench.decode_speed)")
decode_speed.main([])
print("\n== classifier quality on real labelled releases (python -m bench.themes)")
themes.main([])
print("\n== performance at every size, against same-run baselines (python -m bench.perf)")
perf.main([])
