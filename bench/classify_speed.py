"""How fast is ``Classifier.classify``, compared with baselines measured in the same run?

Absolute timings vary between machines; ratios to work every classifier must do anyway
(normalising the text) and to the crudest possible matcher (a substring scan for every literal)
do not. Usage: ``python -m bench.classify_speed [FILE.jsonl] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from monitor.classify import themes as classify_module
from monitor.classify.evaluate import Example, load_examples
from monitor.classify.learn import load_default_model
from monitor.classify.themes import Classifier, load_default_taxonomy, normalize_text

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "dev.jsonl"


def median_per_release(
    fn: Callable[[Example], object], examples: list[Example], repeat: int
) -> float:
    """Median over ``repeat`` passes of the mean seconds per release."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for example in examples:
            fn(example)
        runs.append((time.perf_counter() - start) / len(examples))
    return statistics.median(runs)


def _cold_build() -> None:
    load_default_taxonomy.cache_clear()  # measure a cold build, not the caches
    load_default_model.cache_clear()
    classify_module._MATCHERS.clear()
    Classifier(load_default_taxonomy())


def build_memory() -> tuple[float, int]:
    """Seconds (median of 3 cold builds) and peak bytes (tracemalloc, a separate build, since
    tracing slows it several-fold) to load the rules and the model and build a classifier."""
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        _cold_build()
        runs.append(time.perf_counter() - start)
    tracemalloc.start()
    _cold_build()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(runs), peak


def main(argv: list[str] | None = None) -> int:
    """Print medians per release, ratios to the baselines, and the build cost."""
    parser = argparse.ArgumentParser(prog="python -m bench.classify_speed")
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    examples = load_examples(args.file)
    classifier = Classifier()
    literals = sorted(
        {lit for t in classifier.taxonomy.compiled for term in t.terms for lit in term.literals}
    )

    def normalise(e: Example) -> object:
        return normalize_text(e.title), normalize_text(e.body)

    def naive(e: Example) -> object:
        text = normalize_text(f"{e.title} {e.body}")
        return [lit for lit in literals if lit in text]

    def classify(e: Example) -> object:
        return classifier.classify(e.title, e.body)

    words = statistics.mean(len(e.body.split()) for e in examples)
    print(
        f"{len(examples)} releases (mean {words:.0f} words), {args.repeat} passes, {len(literals)} literals"
    )
    timings = {name: median_per_release(fn, examples, args.repeat) for name, fn in
               (("normalise only", normalise), ("naive substring scan", naive), ("classify", classify))}  # fmt: skip
    for name, seconds in timings.items():
        print(f"  {name:<22} {seconds * 1e6:8.1f} µs/release")
    print(f"  classify / normalise   {timings['classify'] / timings['normalise only']:8.1f}x")
    print(f"  classify / naive scan  {timings['classify'] / timings['naive substring scan']:8.2f}x")
    seconds, peak = build_memory()
    print(f"build classifier: {seconds * 1e3:.1f} ms, tracemalloc peak {peak / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
