"""Evaluation: counts, disputed labels, k-fold CV without leakage, predictions, bad files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.classify import evaluate as evaluate_module
from monitor.classify.evaluate import (
    Counts,
    Example,
    LabelsError,
    cross_validate,
    evaluate,
    folds_of,
    format_report,
    load_examples,
    main_eval,
)
from monitor.classify.themes import Classifier

DATA = Path(__file__).parent / "data"
DEV = DATA / "dev.jsonl"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


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


def test_disputed_theme_is_neither_right_nor_wrong(classifier: Classifier) -> None:
    """A theme the annotators disagreed on counts nowhere, predicted or not."""
    title = "Korea Imposes Sanctions on North Korea"
    predicted = Example(title, "", frozenset({"sanctions"}), frozenset({"north-korea"}))
    missed = Example("Korea Imposes Sanctions", "", frozenset({"sanctions"}), frozenset({"cyber"}))
    per = dict(evaluate(classifier, [predicted, missed]).themes)
    assert per["north-korea"] == Counts() and per["cyber"] == Counts()


def test_folds_are_fixed_by_seed_and_balanced() -> None:
    """The same seed deals the same folds; another seed other folds; sizes differ by <= 1."""
    folds = folds_of(103, 5, seed=13)
    assert folds == folds_of(103, 5, seed=13) != folds_of(103, 5, seed=14)
    sizes = [folds.count(f) for f in range(5)]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == 103


def test_cross_validation_never_trains_on_the_scored_fold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each fold's model sees the other folds and the extra set, never a release it scores."""
    examples = load_examples(DEV)
    extra = [*load_examples(DEV)[:3], Example("Extra Title", "", frozenset(), id="x-1")]
    trained: list[set[str]] = []
    real_fit = evaluate_module.fit_model

    def spy(taxonomy, training):  # type: ignore[no-untyped-def]
        trained.append({e.id for e in training})
        return real_fit(taxonomy, training)

    monkeypatch.setattr(evaluate_module, "fit_model", spy)
    report = cross_validate(examples, k=5, extra_training=extra)
    assert len(trained) == 5 and report.examples == 25
    by_fold: dict[int, set[str]] = {}
    for p in report.predictions:
        by_fold.setdefault(p.fold, set()).add(p.example.id)  # type: ignore[arg-type]
    for fold, ids in by_fold.items():
        assert not trained[fold] & ids
        assert "x-1" in trained[fold]
    assert "5-fold cross-validation, seed 13" in format_report(report)


def test_predictions_file_has_one_line_per_release(tmp_path: Path) -> None:
    """--predictions: id, expected, predicted and the evidence of each predicted theme."""
    out = tmp_path / "predictions.jsonl"
    main_eval(DEV, out=io.StringIO(), predictions=out)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 25
    first = rows[0]
    assert first["id"] == "m_5676-322640"
    assert set(first) >= {"id", "expected", "predicted", "evidence", "disputed", "title"}
    assert set(first["evidence"]) == set(first["predicted"])
    assert all(len(triple) == 3 for ev in first["evidence"].values() for triple in ev)


def test_scoring_training_data_says_so() -> None:
    """The shipped model was trained on dev.jsonl: a plain score of it is flagged as training."""
    out = io.StringIO()
    main_eval(DEV, out=out)
    assert "25 of these 25 releases trained the shipped model" in out.getvalue()


def test_format_report_aligned(classifier: Classifier) -> None:
    """Every row of the table has the same width."""
    examples = [Example("Korea Joins Sanctions", "", frozenset({"sanctions"}))]
    lines = format_report(evaluate(classifier, examples)).splitlines()
    widths = {len(line) for line in lines[:-2]}
    assert len(widths) == 1


def test_bad_file_is_a_monitor_error(tmp_path: Path) -> None:
    """A missing file or a bad line is reported with its location, not a traceback."""
    from monitor.errors import MonitorError

    with pytest.raises(MonitorError, match="cannot read"):
        main_eval(tmp_path / "missing.jsonl")
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"title": "x"}])
    with pytest.raises(LabelsError, match=r"bad\.jsonl:1"):
        main_eval(bad)


def test_empty_file_and_unknown_labels_are_refused(tmp_path: Path) -> None:
    """Nothing to score, or labels that are no theme id: LabelsError (exit 2), not zeros."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(LabelsError, match="no labelled release") as info:
        main_eval(empty)
    assert info.value.exit_code == 2
    typo = write_jsonl(tmp_path / "typo.jsonl", [{"title": "x", "themes": ["north korea"]}])
    with pytest.raises(LabelsError, match=r"'north korea' \(did you mean 'north-korea'\?\)"):
        main_eval(typo)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MOFA_MONITOR_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "monitor", "eval", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_exit_2_with_one_line(tmp_path: Path) -> None:
    """The real command: an empty file and an unknown label each give exit 2 and one line."""
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    result = _cli("empty.jsonl", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "mofa-monitor: error: empty.jsonl: no labelled release in the file\n"
    write_jsonl(tmp_path / "labels.jsonl", [{"title": "x", "themes": ["sanction"]}])
    result = _cli("labels.jsonl", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "unknown theme label(s) 'sanction' (did you mean 'sanctions'?)" in result.stderr


def test_cli_cross_validates_and_writes_predictions(tmp_path: Path) -> None:
    """`eval FILE --cv 5 --predictions OUT`: the table names the method; OUT has every release."""
    result = _cli(str(DEV), "--cv", "5", "--predictions", "out.jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "25 releases, 5-fold cross-validation, seed 13" in result.stdout
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 25 and all("fold" in json.loads(line) for line in lines)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"title": null, "themes": []}', "'title' must be a non-empty string"),
        (b'{"title": "  ", "themes": []}', "'title' must be a non-empty string"),
        (b'{"themes": []}', "'title' is missing"),
        (b'{"title": "x"}', "'themes' is missing"),
        (b'{"title": "x", "themes": "cyber"}', "'themes' must be a list of theme ids"),
        (
            b'{"title": "North Korea", "themes": ["north-korea"], "disputed": "north-korea"}',
            "'disputed' must be a list of theme ids",
        ),
        (b'{"title": "x", "themes": [], "body": 5}', "'body' must be a string"),
        (b'["x"]', "each line must be a JSON object"),
    ],
)
def test_each_bad_field_is_named(tmp_path: Path, line: bytes, expected: str) -> None:
    """A malformed line names the field at fault, never another one (F13)."""
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"title": "ok", "themes": []}\n' + line + b"\n")
    with pytest.raises(LabelsError) as info:
        main_eval(path)
    assert str(info.value) == f"{path}:2: not a labelled release: {expected}"


def test_cli_non_utf8_file_is_one_line_exit_2(tmp_path: Path) -> None:
    """Bytes that are not UTF-8: one line naming the line, exit 2, no internal error (F13)."""
    (tmp_path / "bin.jsonl").write_bytes(b'{"title": "ok", "themes": []}\n\xff\xfe{\n')
    result = _cli("bin.jsonl", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "mofa-monitor: error: bin.jsonl:2: not UTF-8 text (byte 1 of the line); "
        "labelled releases are JSON lines in UTF-8\n"
    )
