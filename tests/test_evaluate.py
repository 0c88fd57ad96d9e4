"""Evaluation: per-theme counts, micro/macro F1, the table and the CLI entry point."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from monitor.classify import Classifier
from monitor.errors import MonitorError
from monitor.evaluate import Counts, Example, evaluate, format_report, main_eval

DEV = Path(__file__).parent / "data" / "dev.jsonl"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier()


def test_counts_arithmetic() -> None:
    """Precision, recall and F1 follow their definitions; empty counts give 0, not an error."""
    c = Counts(tp=3, fp=1, fn=2)
    assert (c.precision, c.recall, round(c.f1, 4), c.support) == (0.75, 0.6, 0.6667, 5)
    assert Counts().f1 == 0.0


def test_evaluate_counts_each_decision(classifier: Classifier) -> None:
    """A right, a spurious and a missed theme land in tp, fp and fn."""
    examples = [
        Example("Korea Imposes Sanctions", "", frozenset({"sanctions", "cyber"})),
        Example("Korea Imposes Sanctions on North Korea", "", frozenset({"sanctions"})),
    ]
    report = evaluate(classifier, examples)
    per = dict(report.themes)
    assert per["sanctions"] == Counts(2, 0, 0)
    assert per["cyber"] == Counts(0, 0, 1)
    assert per["north-korea"] == Counts(0, 1, 0)
    assert report.micro == Counts(2, 1, 1) and report.examples == 2


def test_main_eval_prints_table(classifier: Classifier) -> None:
    """The CLI entry point prints the table for a file (micro-F1 is pinned in test_classify)."""
    out = io.StringIO()
    assert main_eval(DEV, out=out, classifier=classifier) == 0
    table = out.getvalue()
    micro = next(line for line in table.splitlines() if line.startswith("micro"))
    assert float(micro.split()[-2]) > 0
    assert "north-korea" in table and "macro F1" in table


def test_format_report_aligned(classifier: Classifier) -> None:
    """Every row of the table has the same width."""
    examples = [Example("Korea Joins Sanctions", "", frozenset({"sanctions"}))]
    lines = format_report(evaluate(classifier, examples)).splitlines()
    widths = {len(line) for line in lines[:-2]}
    assert len(widths) == 1


def test_bad_file_is_a_monitor_error(tmp_path: Path) -> None:
    """A missing file or a bad line is reported with its location, not a traceback."""
    with pytest.raises(MonitorError, match="cannot read"):
        main_eval(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"title": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(MonitorError, match=r"bad\.jsonl:1"):
        main_eval(bad)
