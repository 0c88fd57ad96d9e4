"""Tag a release with the themes of DESIGN §4, the evidence for each, and the countries it names.

Two parts. **Rules** first: subscribers must be able to ask *why* a release reached them
(``mofa-monitor explain``) and users add or replace themes in the config, so each theme is a
list of weighted patterns (``monitor/data/themes.toml``) and a tag carries the matched terms.
Then the shipped **title model** (:mod:`monitor.classify.learn`) may *add* themes the rules missed; its
evidence is the title words with the largest learned weights. Some 900 labelled real titles are
too few for a model alone (micro-F1 0.64-0.73 in cross-validation); with rules this complete it
adds nothing measurable (0.948 with or without it, 5-fold CV on 900 titles; no
threshold or regularisation choice changed that), but it learns from every release labelled
later without anyone writing a rule. Both parts run in about a millisecond per release with no
dependency beyond the standard library.

Matching
    Title and body are normalised (:func:`normalize_text`: NFKC, casefold, curly quotes
    straightened, all whitespace including U+00A0/U+200B/U+FEFF collapsed). English patterns are
    regexes matched as whole words: a match may not start or end inside an ASCII word, so
    "fta" matches in "fta를" but "ai" not in "said". Korean patterns are literal substrings
    (particles attach: ``북한의``); a Korean pattern that starts or ends with an ASCII letter gets
    the same ASCII boundary on that side. A non-ASCII entry in ``patterns`` is treated as Korean.
    Finite regexes are expanded to literals and all themes are scanned in one pass of one trie
    regex; other regexes fall back to one ``finditer`` each. Within a theme, matches never
    overlap (leftmost, then longest), so "economic sanctions" is one mention, not two; patterns
    of weight 0 ("stop" phrases) swallow text without scoring ("korean war" hides "war").

    A title is cut at its first *venue cue* (``venue_cues``: "on the sidelines of", "on the
    occasion of" ...): a meeting held at a summit is not about the summit (DESIGN §4).

Scoring
    A term of weight ``w`` found in the title adds ``w * title_factor`` (3 by default); found
    ``n`` times in the body it adds ``w * min(1 + (n - 1) / 2, 3)``. A theme is tagged when
    (a) at least one matched term is an *anchor* (weight >= ``anchor``, 3: a defining term, so
    context words such as "summit" or "military" never tag alone), and (b) the score reaches the
    threshold (5 by default, per theme overridable), scaled down for short releases (by
    ``body_words / 150``, never below half) because every sentence of a 60-word statement is
    substantive. Tiers are strong 3, medium 2, weak 0.5, stop 0. So one strong term in the
    title tags; one body mention of any default term never tags a release of 150 words or
    more: it takes a strong term plus a medium one, or a strong term repeated three times.
    User patterns without a weight count as strong. Two more title-aware rules: *headline*
    terms ("UN", "crisis", "passport") weigh as strong in a title but as weak in a body, where
    such words pass by; and two distinct terms of at least ``title_pair`` weight (medium) in the
    title anchor a theme without a strong term ("Provide Aid to Flood-hit ..."), as does one such
    title term together with a defining term (nominal weight >= ``anchor``, headline terms
    included) in the body: "Foreign Minister Meets with First Lady of Ukraine" whose body speaks
    of the war is about the war; the same title over a courtesy-call body is not (revision 2).

Model
    When the rules leave a theme out, the model scores it from the title's words, word pairs
    and the themes the rules find in the title alone; at probability >= its threshold (0.5)
    the theme is added with score ``10 * probability``. Themes a config replaces
    (``mode = "replace"``) and themes the model does not know are left to the rules.

Versioning
    :attr:`Classifier.version` is ``rules-<N>+<sha256 of the taxonomy and country
    table>+model-<sha256 of the weights>``, so any change to the packaged rules, the model or a
    user's theme overrides re-tags stored releases.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from re import _parser as sre_parser  # type: ignore[attr-defined]
from typing import Any

from monitor import data as packaged_data
from monitor.classify import countries
from monitor.classify.learn import ThemeModel, load_default_model, title_features
from monitor.models import Classification, Evidence, ThemeTag

log = logging.getLogger(__name__)

RULES_REVISION = 2  # bump when the matching or scoring code changes meaning
DEFAULT_WEIGHT = 3.0  # a pattern without an explicit weight is a defining ("strong") term
SHORT_RELEASE_WORDS = 150
LEARNED_EVIDENCE = 3  # title words shown for a theme the model added
BODY_REPEAT_CAP = 3.0
_MAX_EXPANSION = 256
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ASCII_WORD = re.compile(r"[a-z0-9]")


def normalize_text(text: str) -> str:
    """NFKC, casefold, straight quotes, and every run of (also invisible) whitespace as one space."""
    return countries.normalize(text).casefold()


@functools.lru_cache(maxsize=4096)
def phrase_regex(phrase: str) -> re.Pattern[str] | None:
    """A literal ``phrase`` (a subscriber's keyword or exclude term) as a whole-word matcher.

    The phrase goes through :func:`normalize_text`, as the text it is matched in must, and is
    then matched like a theme pattern: it may not start or end inside an ASCII word, so "AI"
    matches "AI" and "AI-driven" but not "said" or "Thailand", and "UN" not "June". A side
    that is not an ASCII letter or digit (Korean ``북한``) has no boundary, since particles
    attach (``북한의``). ``None`` for a phrase that is empty once normalised.
    """
    norm = normalize_text(phrase).strip()
    if not norm:
        return None
    left = r"(?<![a-z0-9])" if _ASCII_WORD.match(norm[0]) else ""
    right = r"(?![a-z0-9])" if _ASCII_WORD.match(norm[-1]) else ""
    return re.compile(left + re.escape(norm) + right)


def contains_phrase(normalized_text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs as whole words in text already passed through
    :func:`normalize_text` (rule of :func:`phrase_regex`); an empty phrase never occurs."""
    regex = phrase_regex(phrase)
    return regex is not None and regex.search(normalized_text) is not None


@dataclass(frozen=True)
class ThemeSpec:
    """A theme as written in data or config; ``mode`` says how it merges onto an existing id.

    ``patterns`` are regexes (whole-word), ``korean`` literal substrings; ``weights`` maps a
    pattern to its weight (default :data:`DEFAULT_WEIGHT`; 0 makes it a stop phrase).
    ``mode="extend"`` (default) adds to a theme of the same id, ``"replace"`` replaces it.
    """

    id: str
    name: str = ""
    description: str = ""
    patterns: Sequence[str] = ()
    korean: Sequence[str] = ()
    weights: dict[str, float] | None = None
    threshold: float | None = None
    mode: str = "extend"
    body_weights: dict[str, float] | None = None
    learned: bool = True  # the shipped model may add this theme (False once a user replaces it)

    def weight(self, pattern: str) -> float:
        """The weight of one of this spec's patterns (in a title; in a body unless overridden)."""
        return (self.weights or {}).get(pattern, DEFAULT_WEIGHT)

    def body_weight(self, pattern: str) -> float:
        """The weight of a pattern found in a body: a *headline* term defines a subject in a
        title ("UN", "crisis") but is only context in a body, where such words pass by."""
        return (self.body_weights or {}).get(pattern, self.weight(pattern))


@dataclass(frozen=True, slots=True)
class Term:
    """One compiled pattern of a theme: literal expansions, or a regex when not finite."""

    pattern: str
    weight: float
    literals: tuple[str, ...]
    regex: re.Pattern[str] | None = None
    body_weight: float | None = None  # None: the same as ``weight``


@dataclass(frozen=True, slots=True)
class CompiledTheme:
    """A validated theme ready for matching."""

    id: str
    name: str
    description: str
    threshold: float | None
    terms: tuple[Term, ...]


def _is_korean(pattern: str) -> bool:
    return any(ord(ch) > 0x7F and ch.isalpha() for ch in pattern)


def _expand(pattern: str) -> list[str] | None:
    """Every string a finite regex matches (casefolded), or None when infinite or too many."""
    try:
        return sorted({s.casefold() for s in _expand_seq(list(sre_parser.parse(pattern)))})
    except (_NotFiniteError, re.error):
        return None


class _NotFiniteError(Exception):
    pass


def _expand_seq(items: list) -> list[str]:
    results = [""]
    for op, av in items:
        options = _expand_item(op, av)
        results = [a + b for a in results for b in options]
        if len(results) > _MAX_EXPANSION:
            raise _NotFiniteError
    return results


def _expand_item(op: Any, av: Any) -> list[str]:
    p = sre_parser
    if op is p.LITERAL:
        return [chr(av)]
    if op is p.IN:
        return _expand_class(av)
    if op is p.BRANCH:
        return [s for alt in av[1] for s in _expand_seq(list(alt))]
    if op is p.SUBPATTERN and not av[1] and not av[2]:
        return _expand_seq(list(av[3]))
    if op in (p.MAX_REPEAT, p.MIN_REPEAT) and av[1] is not p.MAXREPEAT and av[1] <= 4:
        base = _expand_seq(list(av[2]))
        out: list[str] = []
        for n in range(av[0], av[1] + 1):
            combos = [""]
            for _ in range(n):
                combos = [a + b for a in combos for b in base]
            out.extend(combos)
        return out
    raise _NotFiniteError


def _expand_class(av: list) -> list[str]:
    chars: list[str] = []
    for kind, val in av:
        if kind is sre_parser.LITERAL:
            chars.append(chr(val))
        elif kind is sre_parser.RANGE and val[1] - val[0] < 16:
            chars.extend(chr(c) for c in range(val[0], val[1] + 1))
        else:
            raise _NotFiniteError
    return chars


def pattern_errors(spec: ThemeSpec) -> list[tuple[str, str]]:
    """Problems of one spec as ``(field path suffix, message)``, e.g. ``("patterns.2", "...")``."""
    errors: list[tuple[str, str]] = []
    if not _ID_RE.match(spec.id):
        errors.append(("id", f"{spec.id!r} must be lower-case letters, digits and hyphens"))
    if spec.mode not in ("extend", "replace"):
        errors.append(("mode", f"{spec.mode!r} must be 'extend' or 'replace'"))
    if spec.threshold is not None and not (spec.threshold > 0 and math.isfinite(spec.threshold)):
        errors.append(("threshold", "must be a positive number"))
    for i, pattern in enumerate(spec.patterns):
        problem = _regex_problem(pattern)
        if problem:
            errors.append((f"patterns.{i}", f"invalid pattern {pattern!r}: {problem}"))
    for i, sub in enumerate(spec.korean):
        if not sub.strip():
            errors.append((f"korean.{i}", "empty substring"))
    known = set(spec.patterns) | set(spec.korean)
    for key, value in (spec.weights or {}).items():
        if key not in known:
            errors.append((f"weights.{key}", "weight for a pattern the theme does not list"))
        elif not (value >= 0 and math.isfinite(value)):
            errors.append((f"weights.{key}", "weight must be a number >= 0"))
    return errors


def _regex_problem(pattern: str) -> str | None:
    if not pattern.strip():
        return "empty pattern"
    if _is_korean(pattern):
        return None  # matched as a substring, no regex syntax involved
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return str(exc)
    if compiled.fullmatch(""):
        return "matches the empty string"
    if _nested_repeat(list(sre_parser.parse(pattern)), inside=False):
        return (
            "a repeated group contains another repetition (as in '(a+)+'): such a pattern can "
            "take exponential time on scraped text (catastrophic backtracking); repeat the "
            "group's content once, e.g. '(a+)+' → 'a+'"
        )
    return None


_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


def _nested_repeat(items: list, inside: bool) -> bool:
    """Whether a variable-count repetition sits inside a repetition of more than once, at any
    depth of groups, alternatives and lookarounds of a parsed regex (``re._parser`` tree).

    Conservative: ``(?:ab+)*`` is refused although the ``a`` delimits each run; such a pattern
    is rewritten without the nested count, or as several patterns.
    """
    for op, av in items:
        name = str(op)
        if name in _REPEATS:
            low, high, body = av
            repeats = high is sre_parser.MAXREPEAT or high > 1
            if inside and (high is sre_parser.MAXREPEAT or high > low):
                return True  # a variable count inside a repetition: many ways to split a run
            if _nested_repeat(list(body), inside or repeats):
                return True
        elif name == "SUBPATTERN":
            if _nested_repeat(list(av[-1]), inside):
                return True
        elif name == "BRANCH":
            if any(_nested_repeat(list(branch), inside) for branch in av[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT", "ATOMIC_GROUP"):
            body = av[-1] if name != "ATOMIC_GROUP" else av
            if _nested_repeat(list(body), inside):
                return True
    return False


def _compile_term(pattern: str, weight: float, substring: bool, body: float) -> Term:
    if substring:
        return Term(pattern, weight, (normalize_text(pattern),), None, body)
    literals = _expand(pattern)
    if literals is not None:
        return Term(pattern, weight, tuple(literals), None, body)
    regex = re.compile(rf"(?<![a-z0-9])(?:{pattern})(?![a-z0-9])", re.IGNORECASE)
    return Term(pattern, weight, (), regex, body)


def compile_theme(spec: ThemeSpec) -> CompiledTheme:
    """Validate and compile one theme; ``ValueError`` names the first bad pattern and why."""
    errors = pattern_errors(spec)
    if errors:
        where, message = errors[0]
        raise ValueError(f"theme {spec.id!r}: {where}: {message}")
    terms = [
        _compile_term(p, spec.weight(p), _is_korean(p), spec.body_weight(p)) for p in spec.patterns
    ]
    terms += [_compile_term(k, spec.weight(k), True, spec.body_weight(k)) for k in spec.korean]
    return CompiledTheme(spec.id, spec.name, spec.description, spec.threshold, tuple(terms))


def _merge(base: ThemeSpec, over: ThemeSpec) -> ThemeSpec:
    if over.mode == "replace":
        return replace(over, name=over.name or base.name, mode="extend", learned=False)
    patterns = list(dict.fromkeys([*base.patterns, *over.patterns]))
    korean = list(dict.fromkeys([*base.korean, *over.korean]))
    weights = {**(base.weights or {}), **(over.weights or {})}
    # a user weight for a packaged headline term applies in titles and bodies alike
    body_weights = {
        k: v for k, v in (base.body_weights or {}).items() if k not in (over.weights or {})
    }
    return replace(
        base,
        name=over.name or base.name,
        description=over.description or base.description,
        patterns=patterns,
        korean=korean,
        weights=weights,
        body_weights=body_weights,
        threshold=over.threshold if over.threshold is not None else base.threshold,
    )


@dataclass(frozen=True)
class Taxonomy:
    """The set of themes and the scoring constants; immutable, merged with config overrides."""

    specs: tuple[ThemeSpec, ...]
    title_factor: float = 3.0
    threshold: float = 5.0
    anchor: float = 3.0
    venue_cues: tuple[str, ...] = ()
    title_pair: float = 2.0
    compiled: tuple[CompiledTheme, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.compiled:
            object.__setattr__(self, "compiled", tuple(compile_theme(s) for s in self.specs))

    @property
    def ids(self) -> tuple[str, ...]:
        """Theme ids in taxonomy order."""
        return tuple(s.id for s in self.specs)

    def with_overrides(self, themes: Iterable[ThemeSpec]) -> Taxonomy:
        """A new taxonomy: a known id is extended (or replaced, ``mode="replace"``), a new one added."""
        by_id = {s.id: s for s in self.specs}
        for spec in themes:
            by_id[spec.id] = _merge(by_id[spec.id], spec) if spec.id in by_id else spec
        return replace(self, specs=tuple(by_id.values()), compiled=())

    @property
    def digest(self) -> str:
        """A short hash of everything that decides a tag."""
        payload = {
            "title_factor": self.title_factor,
            "threshold": self.threshold,
            "anchor": self.anchor,
            "venue_cues": list(self.venue_cues),
            "title_pair": self.title_pair,
            "themes": [
                [
                    s.id,
                    s.threshold,
                    [[p, s.weight(p), s.body_weight(p)] for p in s.patterns],
                    [[k, s.weight(k), s.body_weight(k)] for k in s.korean],
                ]
                for s in self.specs
            ],
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def _spec_from_toml(raw: dict, tiers: dict[str, float]) -> ThemeSpec:
    patterns: list[str] = []
    korean: list[str] = []
    weights: dict[str, float] = {}
    body_weights: dict[str, float] = {}
    for lang, target in (("en", patterns), ("ko", korean)):
        for tier, items in raw.get(lang, {}).items():
            for item in items:
                if item in weights:
                    raise ValueError(f"theme {raw['id']!r}: {item!r} listed twice")
                target.append(item)
                weights[item] = tiers[tier]
                if tier == "headline":
                    body_weights[item] = tiers["headline_body"]
    return ThemeSpec(
        id=raw["id"],
        name=raw.get("name", ""),
        description=raw.get("description", ""),
        patterns=patterns,
        korean=korean,
        weights=weights,
        body_weights=body_weights,
        threshold=raw.get("threshold"),
    )


def load_taxonomy_toml(text: str) -> Taxonomy:
    """Parse a taxonomy in the format of ``monitor/data/themes.toml``."""
    data = tomllib.loads(text)
    tiers = data["tiers"]
    specs = tuple(_spec_from_toml(raw, tiers) for raw in data["themes"])
    return Taxonomy(
        specs,
        float(data["title_factor"]),
        float(data["threshold"]),
        float(data["anchor"]),
        tuple(normalize_text(cue) for cue in data.get("venue_cues", ())),
        float(data.get("title_pair", 2.0)),
    )


def theme_names(overrides: Iterable[ThemeSpec] = ()) -> dict[str, str]:
    """Theme id → display name (the id when unnamed) of the packaged taxonomy with
    ``overrides`` applied as :meth:`Taxonomy.with_overrides` applies them, in its order, without
    compiling any rule (a digest sent with nothing new to tag needs only the names)."""
    return packaged_data.theme_names((spec.id, spec.name) for spec in overrides)


@functools.cache
def load_default_taxonomy() -> Taxonomy:
    """The taxonomy shipped with the package (parsed once; taxonomies are immutable)."""
    return load_taxonomy_toml(packaged_data.read_text("themes.toml"))


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    term: int
    surface: str


class _Matcher:
    """All literals of all themes in one trie regex; non-finite patterns scanned on their own."""

    def __init__(self, themes: Sequence[CompiledTheme]) -> None:
        self.owners: dict[str, list[tuple[int, int]]] = {}
        self.slow: list[tuple[int, int, re.Pattern[str]]] = []
        for t, theme in enumerate(themes):
            for i, term in enumerate(theme.terms):
                for lit in term.literals:
                    self.owners.setdefault(lit, []).append((t, i))
                if term.regex is not None:
                    self.slow.append((t, i, term.regex))
        self.prefixes = {lit: self._prefixes_of(lit) for lit in self.owners}
        self.regex = countries.trie_regex(list(self.owners))
        self.n_themes = len(themes)

    def _prefixes_of(self, lit: str) -> tuple[str, ...]:
        return tuple(lit[:n] for n in range(len(lit), 0, -1) if lit[:n] in self.owners)

    def hits(self, text: str) -> list[list[_Hit]]:
        """Per theme, the non-overlapping matches in ``text`` (leftmost, then longest)."""
        found: list[list[_Hit]] = [[] for _ in range(self.n_themes)]
        pos = 0
        while (m := self.regex.search(text, pos)) is not None:
            start = m.start()
            for lit in self.prefixes[m.group()]:
                end = start + len(lit)
                if _ASCII_WORD.match(lit[-1]) and _ASCII_WORD.match(text, end):
                    continue  # this shorter literal would end inside a word
                for t, i in self.owners[lit]:
                    found[t].append(_Hit(start, end, i, lit))
            pos = start + 1
        for t, i, regex in self.slow:
            found[t].extend(_Hit(m.start(), m.end(), i, m.group()) for m in regex.finditer(text))
        return [_non_overlapping(hs) for hs in found]


def _non_overlapping(hits: list[_Hit]) -> list[_Hit]:
    hits.sort(key=lambda h: (h.start, -h.end))
    kept, last_end = [], -1
    for h in hits:
        if h.start >= last_end:
            kept.append(h)
            last_end = h.end
    return kept


_MATCHERS: dict[str, _Matcher] = {}


def _matcher_for(taxonomy: Taxonomy) -> _Matcher:
    """Compiling the trie costs ~0.3 s; reuse it for equal rules (tests, config reloads)."""
    key = taxonomy.digest
    if key not in _MATCHERS:
        if len(_MATCHERS) >= 8:
            _MATCHERS.pop(next(iter(_MATCHERS)))
        _MATCHERS[key] = _Matcher(taxonomy.compiled)
    return _MATCHERS[key]


class Classifier:
    """Multi-label: rules, plus the shipped title model → :class:`Classification`.

    ``model`` is the :class:`~monitor.classify.learn.ThemeModel` that may add themes the rules missed
    (default: the shipped one; ``use_model=False`` for rules alone, as when training it). It adds
    only themes the taxonomy has and a config has not replaced (``mode = "replace"``).
    """

    def __init__(
        self,
        taxonomy: Taxonomy | None = None,
        model: ThemeModel | None = None,
        *,
        use_model: bool = True,
    ) -> None:
        self.taxonomy = taxonomy or load_default_taxonomy()
        self._themes = self.taxonomy.compiled
        self._matcher = _matcher_for(self.taxonomy)
        self.model = (model or load_default_model()) if use_model else None
        learned = {s.id for s in self.taxonomy.specs if s.learned}
        self._model_themes = (
            tuple(t for t in self.model.themes if t in learned) if self.model else ()
        )
        self.version = f"rules-{RULES_REVISION}+{self.taxonomy.digest}{countries.TABLE_DIGEST[:4]}"
        if self.model is not None:
            self.version += f"+model-{self.model.digest[:6]}"
        log.debug("classifier %s: %d themes", self.version, len(self._themes))

    def model_features(self, title: str) -> set[str]:
        """The model's features of a title: its words and the themes the rules find in it alone."""
        title_n = self._without_venue(normalize_text(title or ""))
        return self._model_features(title_n, self._matcher.hits(title_n))

    def _model_features(self, title_n: str, title_hits: list[list[_Hit]]) -> set[str]:
        rule_themes = []
        for t, theme in enumerate(self._themes):
            tag = self._score(theme, title_hits[t], [])
            threshold = (theme.threshold or self.taxonomy.threshold) * 0.5  # no body: shortest
            if tag is not None and tag.score >= threshold:
                rule_themes.append(theme.id)
        return title_features(title_n, rule_themes)

    def classify(self, title: str, body: str) -> Classification:
        """Themes (strongest first, with evidence) and countries of one release."""
        title_n, body_n = normalize_text(title or ""), normalize_text(body or "")
        title_n = self._without_venue(title_n)
        title_hits, body_hits = self._matcher.hits(title_n), self._matcher.hits(body_n)
        scale = min(1.0, max(0.5, len(body_n.split()) / SHORT_RELEASE_WORDS))
        tags = []
        for t, theme in enumerate(self._themes):
            tag = self._score(theme, title_hits[t], body_hits[t])
            threshold = theme.threshold or self.taxonomy.threshold
            if tag is not None and tag.score >= threshold * scale:
                tags.append(tag)
        if self.model is not None and self._model_themes:
            tags.extend(self._learned(title_n, title_hits, {tag.theme for tag in tags}))
        tags.sort(key=lambda tag: -tag.score)
        found = countries.find_countries(f"{title}\n{body}")
        return Classification(tuple(tags), found, self.version)

    def _learned(
        self, title_n: str, title_hits: list[list[_Hit]], tagged: set[str]
    ) -> list[ThemeTag]:
        """Themes the model adds: probability >= its threshold; score is 10 x probability."""
        assert self.model is not None
        missing = [t for t in self._model_themes if t not in tagged]
        if not missing or not title_n.strip():
            return []
        features = self._model_features(title_n, title_hits)
        out = []
        for pred in self.model.predict(features, missing):
            if pred.probability < self.model.threshold:
                continue
            words = [f for f in pred.evidence if _readable(f)][:LEARNED_EVIDENCE]
            evidence = tuple(Evidence(w, "title", 1) for w in words)
            if not evidence:  # only the rules' own title terms pushed it: show those
                t = self.taxonomy.ids.index(pred.theme)
                tag = self._score(self._themes[t], title_hits[t], [])
                evidence = tag.evidence if tag is not None else ()
            if not evidence:
                continue  # every tag must say why; a model guess from the bias alone does not
            out.append(ThemeTag(pred.theme, round(10 * pred.probability, 2), evidence))
        return out

    def _without_venue(self, title: str) -> str:
        """The title up to its first venue cue ("on the sidelines of ..."): a venue is no subject."""
        for cue in self.taxonomy.venue_cues:
            at = title.find(cue)
            if at > 0:
                title = title[:at]
        return title

    def _score(self, theme: CompiledTheme, title: list[_Hit], body: list[_Hit]) -> ThemeTag | None:
        evidence: list[tuple[float, Evidence]] = []
        score, strongest = 0.0, 0.0
        title_terms, body_defining = 0, False
        for where, hits in (("title", title), ("body", body)):
            for term_i, (surface, count) in _count(hits).items():
                term = theme.terms[term_i]
                weight = term.weight
                if where == "body" and term.body_weight is not None:
                    weight = term.body_weight
                if weight <= 0:
                    continue
                if where == "title":
                    gain = weight * self.taxonomy.title_factor
                    title_terms += weight >= self.taxonomy.title_pair
                else:
                    gain = weight * min(1 + (count - 1) / 2, BODY_REPEAT_CAP)
                    body_defining = body_defining or term.weight >= self.taxonomy.anchor
                score += gain
                strongest = max(strongest, weight)
                evidence.append((gain, Evidence(surface, where, count)))
        anchored = (
            strongest >= self.taxonomy.anchor
            or title_terms >= 2
            or (title_terms >= 1 and body_defining)
        )
        if not anchored:
            return None  # context words alone ("summit", "military") never make a theme
        evidence.sort(key=lambda item: -item[0])
        return ThemeTag(theme.id, round(score, 2), tuple(e for _, e in evidence))


def _readable(feature: str) -> bool:
    """A model feature worth showing as evidence: words, not a rule flag, a letter or a number."""
    return not feature.startswith("rule:") and len(feature) > 1 and not feature.isdigit()


def _count(hits: list[_Hit]) -> dict[int, tuple[str, int]]:
    """Per term: the first matched text and the number of matches."""
    out: dict[int, tuple[str, int]] = {}
    for h in hits:
        surface, n = out.get(h.term, (h.surface, 0))
        out[h.term] = (surface, n + 1)
    return out
