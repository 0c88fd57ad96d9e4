"""Measure the classifier against labelled releases: per-theme precision, recall and F1.

Two ways, and the report says which one it is:

``score``
    The classifier as it is (the shipped rules and model, plus a config's themes) on a file.
    Honest only for releases nothing was tuned or trained on: a release whose title trained
    the shipped model is counted and named in a warning, because its score is a training score.
``k-fold cross-validation`` (``--cv K``)
    The releases are dealt into K folds by a seeded shuffle (``--seed``, fixed by default, so
    two runs give the same folds); for each fold the model is retrained on every other fold
    (plus the ``--train`` files, minus any release of the fold itself) and scored on the fold.
    The rules stay fixed: they were written by hand, so for sets their authors looked at the
    rule part of the figure is optimistic — a held-out set scored once is the honest check.

Input is JSON Lines with at least ``title`` and ``themes`` (a list of ids); ``body``,
``disputed`` (themes the annotators disagreed on: neither right nor wrong), ``board``/``seq``
(the release id) are optional. A file with no release, or a label that is not a theme id,
is refused (:class:`LabelsError`, exit 2). Micro averages pool all decisions; macro F1
averages the themes that occur in the labels or the predictions. ``--predictions FILE``
writes one JSON line per release: ``id``, ``title``, ``expected``, ``disputed``,
``predicted``, ``evidence`` (per predicted theme, ``[term, where, count]`` triples), and
``fold`` under cross-validation.
"""

from __future__ import annotations

import codecs
import difflib
import json
import logging
import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from monitor.classify.learn import ThemeModel, title_key, train
from monitor.classify.themes import Classifier, Taxonomy, load_default_taxonomy, normalize_text
from monitor.errors import MonitorError

log = logging.getLogger(__name__)

DEFAULT_SEED = 13
DEFAULT_FOLDS = 5


class LabelsError(MonitorError):
    """A labelled file cannot be scored: empty, malformed, or labelled with unknown themes."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled release; ``disputed`` themes count neither right nor wrong."""

    title: str
    body: str
    themes: frozenset[str]
    disputed: frozenset[str] = frozenset()
    id: str = ""


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
class Prediction:
    """What the classifier said of one example (one line of ``--predictions``)."""

    example: Example
    predicted: tuple[str, ...]
    evidence: dict[str, list[list[object]]]
    fold: int | None = None

    def to_json(self) -> str:
        """One JSON line."""
        row: dict[str, object] = {
            "id": self.example.id,
            "title": self.example.title,
            "expected": sorted(self.example.themes),
            "disputed": sorted(self.example.disputed),
            "predicted": list(self.predicted),
            "evidence": self.evidence,
        }
        if self.fold is not None:
            row["fold"] = self.fold
        return json.dumps(row, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Report:
    """Per-theme counts plus the pooled (micro) counts and macro F1, and how they were made."""

    themes: tuple[tuple[str, Counts], ...]
    micro: Counts
    macro_f1: float
    examples: int
    version: str
    method: str = "score"
    predictions: tuple[Prediction, ...] = field(default=(), repr=False)
    warnings: tuple[str, ...] = ()


def load_examples(path: Path, known: Iterable[str] | None = None) -> list[Example]:
    """Read a JSONL file of labelled releases.

    Raises :class:`LabelsError` naming the line for a malformed one, every unknown label (when
    ``known`` theme ids are given) and a file with no release; ``OSError`` when unreadable.
    """
    examples = []
    data = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    for number, raw_line in enumerate(data.splitlines(), start=1):
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LabelsError(
                f"{path}:{number}: not UTF-8 text (byte {exc.start + 1} of the line); "
                "labelled releases are JSON lines in UTF-8"
            ) from None
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelsError(f"{path}:{number}: not a labelled release ({exc})") from None
        problem = _example_problem(raw)
        if problem:
            raise LabelsError(f"{path}:{number}: not a labelled release: {problem}")
        seq = raw.get("seq")
        ident = f"{raw.get('board', 'm_5676')}-{seq}" if seq is not None else ""
        examples.append(
            Example(
                raw["title"],
                raw.get("body") or "",
                frozenset(raw["themes"]),
                frozenset(raw.get("disputed") or ()),
                ident or f"{path.name}:{number}",
            )
        )
    if not examples:
        raise LabelsError(f"{path}: no labelled release in the file")
    if known is not None:
        known = set(known)
        unknown = sorted({t for e in examples for t in e.themes | e.disputed} - known)
        if unknown:
            named = ", ".join(_with_hint(label, known) for label in unknown)
            raise LabelsError(
                f"{path}: unknown theme label(s) {named}; known: {', '.join(sorted(known))}"
            )
    return examples


def _with_hint(label: str, known: set[str]) -> str:
    close = difflib.get_close_matches(label.replace(" ", "-").lower(), sorted(known), n=1)
    return f"{label!r} (did you mean {close[0]!r}?)" if close else repr(label)


def _example_problem(raw: object) -> str | None:
    """Why one parsed JSON line is not a labelled release (naming the field), or None.

    Shape: ``{"title": str (not blank), "themes": [id, ...], "body": str | null (optional),
    "disputed": [id, ...] | null (optional), "seq"/"board" (optional, for the release id)}``.
    """
    if not isinstance(raw, dict):
        return "each line must be a JSON object"
    if "title" not in raw:
        return "'title' is missing"
    if not isinstance(raw["title"], str) or not raw["title"].strip():
        return "'title' must be a non-empty string"
    if raw.get("body") is not None and not isinstance(raw["body"], str):
        return "'body' must be a string"
    if "themes" not in raw:
        return "'themes' is missing"
    for name in ("themes", "disputed"):
        value = raw.get(name)
        if name == "disputed" and value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"'{name}' must be a list of theme ids"
    return None


def _predict(classifier: Classifier, example: Example, fold: int | None = None) -> Prediction:
    result = classifier.classify(example.title, example.body)
    evidence = {
        tag.theme: [[e.term, e.where, e.count] for e in tag.evidence] for tag in result.themes
    }
    return Prediction(example, tuple(tag.theme for tag in result.themes), evidence, fold)


def _report(
    predictions: Sequence[Prediction], ids: Iterable[str], version: str, method: str
) -> Report:
    counts: dict[str, list[int]] = {t: [0, 0, 0] for t in ids}
    for p in predictions:
        got, want = set(p.predicted), p.example.themes
        for theme in (got | want) - p.example.disputed:
            row = counts.setdefault(theme, [0, 0, 0])
            row[0 if theme in got and theme in want else 1 if theme in got else 2] += 1
    per_theme = tuple((t, Counts(*row)) for t, row in counts.items())
    micro = Counts(*(sum(c[i] for c in counts.values()) for i in range(3)))
    used = [c for _, c in per_theme if c.tp or c.fp or c.fn]
    macro = sum(c.f1 for c in used) / len(used) if used else 0.0
    return Report(per_theme, micro, macro, len(predictions), version, method, tuple(predictions))


def evaluate(classifier: Classifier, examples: Iterable[Example]) -> Report:
    """Classify every example with ``classifier`` as it is and compare with its labels."""
    predictions = [_predict(classifier, e) for e in examples]
    report = _report(predictions, classifier.taxonomy.ids, classifier.version, "score")
    model = classifier.model
    if model is not None and model.trained_on:
        trained = set(model.trained_on)
        seen = sum(title_key(normalize_text(p.example.title)) in trained for p in predictions)
        if seen:
            warning = (
                f"{seen} of these {len(predictions)} releases trained the shipped model: "
                "their score is a training score (use --cv for an honest figure)"
            )
            report = _with_warnings(report, warning)
    return report


def _with_warnings(report: Report, *warnings: str) -> Report:
    return Report(
        report.themes,
        report.micro,
        report.macro_f1,
        report.examples,
        report.version,
        report.method,
        report.predictions,
        (*report.warnings, *warnings),
    )


def training_samples(
    classifier: Classifier, examples: Iterable[Example]
) -> list[tuple[set[str], frozenset[str], frozenset[str]]]:
    """``(features, themes, disputed)`` per example, the input of :func:`monitor.classify.learn.train`."""
    return [(classifier.model_features(e.title), e.themes, e.disputed) for e in examples]


def fit_model(taxonomy: Taxonomy, examples: Sequence[Example]) -> ThemeModel:
    """Train the title model on ``examples`` with ``taxonomy``'s rules as features."""
    rules = Classifier(taxonomy, use_model=False)
    learned = [s.id for s in taxonomy.specs if s.learned]
    keys = sorted({title_key(normalize_text(e.title)) for e in examples})
    return train(training_samples(rules, examples), learned, keys=keys, rules=taxonomy.digest)


def folds_of(n: int, k: int, seed: int = DEFAULT_SEED) -> list[int]:
    """The fold (0..k-1) of each of ``n`` examples: a seeded shuffle dealt round-robin."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    fold = [0] * n
    for position, index in enumerate(order):
        fold[index] = position % k
    return fold


def cross_validate(
    examples: Sequence[Example],
    *,
    k: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
    extra_training: Sequence[Example] = (),
    taxonomy: Taxonomy | None = None,
) -> Report:
    """K-fold cross-validation: per fold, retrain the model on the rest and score the fold.

    ``extra_training`` joins every fold's training set (minus releases of the scored fold, by
    id). ``k`` must be between 2 and the number of examples (:class:`LabelsError` otherwise).
    """
    if not 2 <= k <= len(examples):
        raise LabelsError(f"--cv needs 2 <= K <= {len(examples)} (the number of releases)")
    taxonomy = taxonomy or load_default_taxonomy()
    fold_of = folds_of(len(examples), k, seed)
    predictions: list[Prediction | None] = [None] * len(examples)
    version = ""
    for fold in range(k):
        scored = [i for i in range(len(examples)) if fold_of[i] == fold]
        ids = {examples[i].id for i in scored}
        training = [e for i, e in enumerate(examples) if fold_of[i] != fold]
        training += [e for e in extra_training if e.id not in ids]
        classifier = Classifier(taxonomy, fit_model(taxonomy, training))
        version = classifier.version.rsplit("+model-", 1)[0]
        for i in scored:
            predictions[i] = _predict(classifier, examples[i], fold)
    method = f"{k}-fold cross-validation, seed {seed}: model retrained per fold, rules fixed"
    done = [p for p in predictions if p is not None]
    return _report(done, taxonomy.ids, f"{version}+model-per-fold", method)


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
    lines.append(f"{report.examples} releases, {report.method}, classifier {report.version}")
    lines.extend(f"warning: {w}" for w in report.warnings)
    return "\n".join(lines)


def _row(name: str, c: Counts, width: int) -> str:
    return (
        f"{name:<{width}}  {c.tp:>3} {c.fp:>3} {c.fn:>3}  "
        f"{c.precision:>5.3f} {c.recall:>5.3f} {c.f1:>5.3f}  {c.support:>3}"
    )


def read_files(paths: Sequence[Path], known: Iterable[str]) -> list[Example]:
    """Every example of ``paths``, in order; errors as :class:`LabelsError`/``MonitorError``."""
    known = list(known)
    examples: list[Example] = []
    for path in paths:
        try:
            examples.extend(load_examples(path, known))
        except OSError as exc:
            raise MonitorError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return examples


def main_eval(
    paths: Path | Sequence[Path],
    out: TextIO = sys.stdout,
    classifier: Classifier | None = None,
    *,
    cv: int | None = None,
    seed: int = DEFAULT_SEED,
    train_paths: Sequence[Path] = (),
    predictions: Path | None = None,
) -> int:
    """Score (or, with ``cv``, cross-validate) on ``paths``, print the table; returns 0.

    Raises :class:`LabelsError` (exit 2) for an empty file or unknown labels, ``MonitorError``
    for an unreadable file.
    """
    paths = [paths] if isinstance(paths, Path) else list(paths)
    taxonomy = classifier.taxonomy if classifier is not None else load_default_taxonomy()
    examples = read_files(paths, taxonomy.ids)
    if cv is not None:
        extra = read_files(train_paths, taxonomy.ids)
        report = cross_validate(examples, k=cv, seed=seed, extra_training=extra, taxonomy=taxonomy)
    else:
        if train_paths:
            raise LabelsError("--train only makes sense with --cv")
        report = evaluate(classifier or Classifier(taxonomy), examples)
    if predictions is not None:
        try:
            with predictions.open("w", encoding="utf-8") as handle:
                for p in report.predictions:
                    handle.write(p.to_json() + "\n")
        except OSError as exc:
            raise MonitorError(f"cannot write {predictions}: {exc.strerror or exc}") from exc
    print(format_report(report), file=out)
    return 0
