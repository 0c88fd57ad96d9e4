"""A small linear model over title words that adds the themes the rules miss, with its evidence.

Why a model next to the rules: rules written from the conventions of DESIGN §4 miss wordings
nobody thought of ("Korea-Mexico SECA Negotiations", "Consuls-General Meeting"); a one-vs-rest
logistic regression trained on the labelled real titles learns such words from the labels and
says which ones decided (its per-term weights are the evidence). It only *adds* themes: a tag
from the rules stands, so a user's own patterns keep working as written.

Features (:func:`title_features`) are the title's words — NFKC, casefolded, a plural ``s``
stripped, common function words dropped — their adjacent pairs, and one ``rule:<theme>``
feature per theme the rules find in the title alone, so the model learns how far to trust them.

Inference is plain Python over the weights shipped in ``monitor/data/theme_model.json`` (a few
microseconds; no numpy). Training (:func:`train`) uses scikit-learn, which is needed only to
retrain or cross-validate (``pip install 'mofa-monitor[train]'``); ``python -m bench.train_model``
writes the shipped file.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from monitor.errors import MonitorError

MODEL_SCHEMA = 1
RULE_PREFIX = "rule:"
DEFAULT_C = 4.0  # inverse L2 strength; chosen before cross-validation, not searched on it
DEFAULT_THRESHOLD = 0.5
MIN_WEIGHT = 0.05  # smaller weights are dropped from the shipped file (they never decide)

_TOKEN = re.compile(r"[a-z0-9]+|[\uac00-\ud7a3]+")
_FUNCTION_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "and",
        "to",
        "in",
        "on",
        "for",
        "with",
        "at",
        "by",
        "from",
        "as",
        "is",
        "be",
        "its",
    ]
)


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def title_features(normalized_title: str, rule_themes: Iterable[str] = ()) -> set[str]:
    """The model's features of one title (already :func:`~monitor.classify.themes.normalize_text`-ed).

    Words and adjacent word pairs (``"joint economic"``), plus ``rule:<id>`` per rule theme.
    """
    words = [_stem(w) for w in _TOKEN.findall(normalized_title)]
    out = {w for w in words if w not in _FUNCTION_WORDS}
    out.update(
        f"{a} {b}"
        for a, b in itertools.pairwise(words)
        if a not in _FUNCTION_WORDS and b not in _FUNCTION_WORDS
    )
    out.update(RULE_PREFIX + t for t in rule_themes)
    return out


@dataclass(frozen=True, slots=True)
class Prediction:
    """The model's view of one theme: probability and the features that pushed it up."""

    theme: str
    probability: float
    evidence: tuple[str, ...]  # positive-weight features present, strongest first


@dataclass(frozen=True)
class ThemeModel:
    """Per-theme sparse logistic-regression weights: ``P = sigmoid(bias + sum(weights[f]))``."""

    weights: dict[str, dict[str, float]]
    bias: dict[str, float]
    threshold: float = DEFAULT_THRESHOLD
    trained_on: tuple[str, ...] = ()  # short hashes of the training titles (overlap warnings)
    rules: str = ""  # digest of the taxonomy whose title themes were features when trained

    @property
    def themes(self) -> tuple[str, ...]:
        """The theme ids the model knows."""
        return tuple(self.bias)

    @functools.cached_property
    def digest(self) -> str:
        """A short hash of everything that decides a prediction."""
        blob = json.dumps([self.weights, self.bias, self.threshold], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:8]

    def predict(self, features: set[str], themes: Iterable[str] | None = None) -> list[Prediction]:
        """One :class:`Prediction` per theme (those in ``themes`` only, when given)."""
        out = []
        for theme in self.themes if themes is None else themes:
            weights = self.weights.get(theme)
            if weights is None:
                continue
            present = [(weights[f], f) for f in features if f in weights]
            z = self.bias[theme] + sum(w for w, _ in present)
            probability = 1.0 / (1.0 + math.exp(-z)) if z > -30 else 0.0
            positive = sorted((item for item in present if item[0] > 0), reverse=True)
            out.append(Prediction(theme, probability, tuple(f for _, f in positive)))
        return out

    def to_json(self) -> str:
        """The shipped file's text (stable key order, weights rounded to 4 places)."""
        return json.dumps(
            {
                "schema": MODEL_SCHEMA,
                "threshold": self.threshold,
                "bias": {t: round(b, 4) for t, b in self.bias.items()},
                "weights": {
                    t: {f: round(w, 4) for f, w in sorted(ws.items())}
                    for t, ws in self.weights.items()
                },
                "rules": self.rules,
                "trained_on": list(self.trained_on),
            },
            ensure_ascii=False,
            indent=0,
            sort_keys=False,
        )

    @classmethod
    def from_json(cls, text: str) -> ThemeModel:
        """Parse :meth:`to_json` output; ``ValueError`` when it is not a model file."""
        raw = json.loads(text)
        if raw.get("schema") != MODEL_SCHEMA:
            raise ValueError(f"theme model schema {raw.get('schema')!r}, expected {MODEL_SCHEMA}")
        return cls(
            weights={t: dict(ws) for t, ws in raw["weights"].items()},
            bias=dict(raw["bias"]),
            threshold=float(raw["threshold"]),
            trained_on=tuple(raw.get("trained_on", ())),
            rules=str(raw.get("rules", "")),
        )


def title_key(normalized_title: str) -> str:
    """A short hash identifying a training title (so ``eval`` can warn about training data)."""
    return hashlib.sha256(normalized_title.encode()).hexdigest()[:10]


@functools.cache
def load_default_model() -> ThemeModel:
    """The model shipped in ``monitor/data/theme_model.json`` (parsed once)."""
    text = resources.files("monitor.data").joinpath("theme_model.json").read_text(encoding="utf-8")
    return ThemeModel.from_json(text)


def train(
    samples: Sequence[tuple[set[str], frozenset[str], frozenset[str]]],
    themes: Sequence[str],
    *,
    c: float = DEFAULT_C,
    threshold: float = DEFAULT_THRESHOLD,
    keys: Sequence[str] = (),
    rules: str = "",
) -> ThemeModel:
    """Fit one L2 logistic regression per theme on ``(features, themes, disputed)`` samples.

    A sample disputed for a theme is left out of that theme's training (annotators disagreed).
    A theme with no positive sample gets no weights (it is never predicted). Needs scikit-learn;
    :class:`~monitor.errors.MonitorError` says how to install it when missing.
    """
    try:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MonitorError(
            "training the theme model needs scikit-learn: pip install 'mofa-monitor[train]'"
        ) from exc
    vectorizer = DictVectorizer()
    matrix = vectorizer.fit_transform([dict.fromkeys(f, 1) for f, _, _ in samples]).tocsr()
    matrix.indices = matrix.indices.astype("int32")  # liblinear takes 32-bit indices only
    matrix.indptr = matrix.indptr.astype("int32")
    names = vectorizer.get_feature_names_out()
    weights: dict[str, dict[str, float]] = {}
    bias: dict[str, float] = {}
    for theme in themes:
        rows = [i for i, (_, _, disputed) in enumerate(samples) if theme not in disputed]
        labels = [theme in samples[i][1] for i in rows]
        if not any(labels):
            continue
        # liblinear: exact for data this small, and ~10x faster than lbfgs (CV in tests stays fast)
        fit = LogisticRegression(C=c, solver="liblinear").fit(matrix[rows], labels)
        coef = fit.coef_[0]
        weights[theme] = {
            str(names[j]): float(coef[j]) for j in range(len(names)) if abs(coef[j]) >= MIN_WEIGHT
        }
        bias[theme] = float(fit.intercept_[0])
    return ThemeModel(weights, bias, threshold, tuple(keys), rules)


def describe(model: ThemeModel) -> dict[str, Any]:
    """Counts for logs and ``bench``: themes and non-zero weights."""
    return {"themes": len(model.themes), "weights": sum(len(w) for w in model.weights.values())}
