"""Measure the classifier against hand-labelled releases: per-theme precision, recall and F1.

Rules drift when someone "fixes" one release; a number per theme shows what the fix cost
elsewhere. Used by ``python -m bench.themes FILE.jsonl``, by the ``mofa-monitor eval`` command
and by a regression test that pins micro-F1 on the development set.

Input is JSON Lines with at least ``title``, ``body`` and ``themes`` (a list of ids). Micro
averages pool all decisions; macro F1 averages the themes that occur in the labels or the
predictions (a theme nobody used says nothing about quality). Precision of a theme never
predicted, or recall of a theme never labelled, counts as 0.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from monitor.classify import Classifier
from monitor.errors import MonitorError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled release."""

    title: str
    body: str
    themes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Counts:
    """Decisions for one theme (or pooled): true/false positives and false negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        """How many examples carry the label."""
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        """Share of predictions that were right."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """Share of labels that were found."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class Report:
    """Per-theme counts plus the pooled (micro) counts and macro F1."""

    themes: tuple[tuple[str, Counts], ...]
    micro: Counts
    macro_f1: float
    examples: int
    version: str


def load_examples(path: Path) -> list[Example]:
    """Read a JSONL file; a bad line raises ``ValueError`` naming its number."""
    examples = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                examples.append(Example(raw["title"], raw["body"], frozenset(raw["themes"])))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a labelled release ({exc})") from exc
    return examples


def evaluate(classifier: Classifier, examples: Iterable[Example]) -> Report:
    """Classify every example and compare with its labels."""
    counts: dict[str, list[int]] = {t: [0, 0, 0] for t in classifier.taxonomy.ids}
    n = 0
    for example in examples:
        n += 1
        got = {tag.theme for tag in classifier.classify(example.title, example.body).themes}
        for theme in got | example.themes:
            row = counts.setdefault(theme, [0, 0, 0])
            row[0 if theme in got and theme in example.themes else 1 if theme in got else 2] += 1
    per_theme = tuple((t, Counts(*row)) for t, row in counts.items())
    micro = Counts(*(sum(c[i] for c in counts.values()) for i in range(3)))
    used = [c for _, c in per_theme if c.tp or c.fp or c.fn]
    macro = sum(c.f1 for c in used) / len(used) if used else 0.0
    return Report(per_theme, micro, macro, n, classifier.version)


def format_report(report: Report) -> str:
    """An aligned plain-text table, one row per theme, then micro and macro lines."""
    width = max([len("theme"), *(len(t) for t, _ in report.themes)])
    head = f"{'theme':<{width}}  {'tp':>3} {'fp':>3} {'fn':>3}  {'prec':>5} {'rec':>5} {'f1':>5}  {'sup':>3}"
    lines = [head, "-" * len(head)]
    for theme, c in report.themes:
        lines.append(_row(theme, c, width))
    lines.append("-" * len(head))
    lines.append(_row("micro", report.micro, width))
    lines.append(f"{'macro F1':<{width}}  {'':>11}  {'':>5} {'':>5} {report.macro_f1:>5.3f}")
    lines.append(f"{report.examples} releases, classifier {report.version}")
    return "\n".join(lines)


def _row(name: str, c: Counts, width: int) -> str:
    return (
        f"{name:<{width}}  {c.tp:>3} {c.fp:>3} {c.fn:>3}  "
        f"{c.precision:>5.3f} {c.recall:>5.3f} {c.f1:>5.3f}  {c.support:>3}"
    )


def main_eval(path: Path, out: TextIO = sys.stdout, classifier: Classifier | None = None) -> int:
    """Evaluate the (default) classifier on ``path`` and print the table; returns exit status 0."""
    try:
        examples = load_examples(path)
    except OSError as exc:
        raise MonitorError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise MonitorError(str(exc)) from exc
    report = evaluate(classifier or Classifier(), examples)
    print(format_report(report), file=out)
    return 0
