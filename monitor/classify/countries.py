"""Which foreign countries a release names, as ISO 3166-1 alpha-2 codes in order of first mention.

Subscribers filter and skim by country, and the ministry writes country names in many forms
("U.S.", "American", "DPRK", "Pyongyang", "Türkiye", "우크라이나"). A shipped table
(``monitor/data/countries.toml``: all UN members, two observers, Taiwan and Hong Kong) keeps this
offline and reviewable; no network or third-party package is needed.

Korea itself is never reported: "Korea", "ROK", "South Korean" are not in the table, while
"North Korea", "North Korean", "DPRK" and "Pyongyang" are KP. English names match
case-sensitively as whole words and the longest name wins, so "Papua New Guinea" is not also
"Guinea", "Nigeria" is not "Niger", and skip phrases ("Latin American", "North American Affairs",
"Korean Peninsula", "US$") swallow text without naming a country. Korean names match as
substrings not preceded by a Hangul syllable, since particles attach after the name (``미국의``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
import unicodedata
from collections.abc import Callable
from functools import cache
from importlib import resources

from monitor import text as chars

log = logging.getLogger(__name__)

#: Zero-width characters read as a space: ZWSP, ZWNJ, ZWJ, word joiner, BOM (one table for classify).
INVISIBLE = tuple(map(chr, sorted(chars.ZERO_WIDTH)))
_QUOTES = (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("‐", "-"), ("‑", "-"))
_TABLE = "countries.toml"


def _table_bytes() -> bytes:
    return resources.files("monitor.data").joinpath(_TABLE).read_bytes()


TABLE_DIGEST = hashlib.sha256(_table_bytes()).hexdigest()[:12]


@cache
def known_codes() -> dict[str, tuple[str, ...]]:
    """Every ISO 3166-1 alpha-2 code the table can tag → its English names (first: the usual
    one). The Republic of Korea (``KR``) is not among them: releases are by and about Korea."""
    data = tomllib.loads(_table_bytes().decode("utf-8"))
    return {code: tuple(names) for code, names in data["en"].items()}


def trie_regex(literals: list[str], word: str = "a-z0-9", other_left: str = "") -> re.Pattern[str]:
    """One regex matching any of ``literals``, built as a character trie so it stays fast.

    Python's ``re`` tries alternatives one after another; a trie makes the work at each text
    position about one branch. Literals starting with a ``word`` character must not start inside
    a word, those ending with one must not end inside a word; ``other_left`` is a lookbehind
    class for the remaining literals (e.g. Hangul). At a position the longest literal wins.
    """
    trie: dict = {}
    for lit in literals:
        node = trie
        for ch in lit:
            node = node.setdefault(ch, {})
        node[""] = {}
    is_word = re.compile(f"[{word}]").match
    word_start = {c: n for c, n in trie.items() if c and is_word(c)}
    other_start = {c: n for c, n in trie.items() if c and c not in word_start}
    parts = []
    if word_start:
        parts.append(f"(?<![{word}]){_node_regex(word_start, '', word, is_word)}")
    if other_start:
        # A one-class guard first: Python's re tries alternatives one by one, and without it
        # every position of the text would be tried against every non-word first character.
        guard = "(?=[" + "".join(re.escape(c) for c in sorted(other_start)) + "])"
        left = f"(?<![{other_left}])" if other_left else ""
        parts.append(guard + left + _node_regex(other_start, "", word, is_word))
    return re.compile("|".join(parts) or "(?!)")


def _node_regex(node: dict, last: str, word: str, is_word: Callable[[str], object]) -> str:
    alts = [
        re.escape(ch) + _node_regex(child, ch, word, is_word)
        for ch, child in sorted(node.items())
        if ch
    ]
    if "" in node:
        alts.append(f"(?![{word}])" if last and is_word(last) else "")
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


def normalize(text: str) -> str:
    """NFKC, straight quotes, every run of (also invisible) whitespace as one space; case kept.

    Case matters here (names are capitalised); the classifier casefolds the result.
    """
    text = unicodedata.normalize("NFKC", text)
    for old, new in (*_QUOTES, *((ch, " ") for ch in INVISIBLE)):
        text = text.replace(old, new)  # much faster than str.translate or re.sub here
    return " ".join(text.split())


@cache
def _matcher() -> tuple[re.Pattern[str], dict[str, str | None]]:
    data = tomllib.loads(_table_bytes().decode("utf-8"))
    names: dict[str, str | None] = {}
    for section in ("en", "ko"):
        for code, aliases in data[section].items():
            for alias in aliases:
                names[normalize(alias)] = code
    for section in ("en", "ko"):
        for phrase in data["skip"][section]:
            names[normalize(phrase)] = None
    log.debug("country table: %d names", len(names))
    return trie_regex(list(names), word="A-Za-z0-9", other_left="가-힣"), names


def find_countries(text: str) -> tuple[str, ...]:
    """ISO alpha-2 codes of the foreign countries ``text`` names, ordered by first mention."""
    regex, names = _matcher()
    seen: dict[str, None] = {}
    for m in regex.finditer(normalize(text)):
        code = names[m.group()]
        if code is not None:
            seen.setdefault(code, None)
    return tuple(seen)
