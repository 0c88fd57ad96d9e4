"""One table of the characters that hide in scraped text, and the named subsets each job uses.

Scraped titles and bodies carry characters a reader cannot see: zero-width spaces and joiners,
byte order marks, bidi controls that reorder a line ("Trojan Source", CVE-2021-42574), C0/C1
control codes. Each stage drops or shows a different part of them, for its own reason:

- ``monitor.parse.board`` drops :data:`ZERO_WIDTH` but the joiners (:data:`JOINERS`, which
  shape scripts and emoji) and the non-space :data:`C0_C1` controls from stored text;
- ``monitor.classify`` reads :data:`ZERO_WIDTH` as a space when matching words;
- ``monitor.deliver.mailmessage`` drops :data:`INVISIBLE` and :data:`BIDI_CONTROLS` from
  anything that goes into a header or a mail part;
- ``monitor.ops.terminal`` shows :data:`C0_C1` (but tab and newline), :data:`BIDI_CONTROLS`,
  :data:`LINE_SEPARATORS` and :data:`SURROGATES` as visible escapes.

Every set holds code points (``int``), so a job builds its ``str.translate`` table or regex
character class from it with :func:`translate_table` / :func:`char_class`. The sources of the
ranges: Unicode UAX #9 (bidi controls), the Unicode character database (categories Cc, Cf, Cs).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "BIDI_CONTROLS",
    "C0_C1",
    "DEPRECATED_FORMAT",
    "INVISIBLE",
    "INVISIBLE_OPERATORS",
    "JOINERS",
    "LINE_SEPARATORS",
    "SURROGATES",
    "ZERO_WIDTH",
    "char_class",
    "translate_table",
]

#: Zero-width space, non-joiner, joiner, word joiner, and U+FEFF (BOM / zero-width no-break space).
ZERO_WIDTH = frozenset({0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF})
#: The zero-width (non-)joiner: meaningful inside some scripts and emoji sequences.
JOINERS = frozenset({0x200C, 0x200D})
#: Function application, invisible times, separator and plus (U+2061–U+2064), and U+2065.
INVISIBLE_OPERATORS = frozenset(range(0x2061, 0x2066))
#: Inhibit/activate symmetric swapping, Arabic form shaping, national/nominal digits (U+206A–F).
DEPRECATED_FORMAT = frozenset(range(0x206A, 0x2070))
#: Every invisible, non-bidi format character a reader never means to send.
INVISIBLE = ZERO_WIDTH | INVISIBLE_OPERATORS | DEPRECATED_FORMAT
#: UAX #9 marks (ALM, LRM, RLM), embeddings and overrides (U+202A–E), isolates (U+2066–9).
BIDI_CONTROLS = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})
#: C0 controls, DEL and C1 controls (category Cc): tab, newline and CR included.
C0_C1 = frozenset({*range(0x20), *range(0x7F, 0xA0)})
#: U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR: line breaks to a terminal or a JSON reader.
LINE_SEPARATORS = frozenset({0x2028, 0x2029})
#: Lone surrogates (category Cs): no UTF-8 text can carry them.
SURROGATES = frozenset(range(0xD800, 0xE000))


def translate_table(codes: Iterable[int], replacement: str | None = None) -> dict[int, str | None]:
    """A ``str.translate`` table mapping each code point to ``replacement`` (None: delete)."""
    return dict.fromkeys(codes, replacement)


def char_class(codes: Iterable[int]) -> re.Pattern[str]:
    """A compiled regex matching any one of ``codes`` (ranges merged, so it stays short)."""
    ordered = sorted(set(codes))
    if not ordered:
        raise ValueError("char_class needs at least one code point")
    parts: list[str] = []
    start = prev = ordered[0]
    for code in [*ordered[1:], -1]:
        if code == prev + 1:
            prev = code
            continue
        first, last = re.escape(chr(start)), re.escape(chr(prev))
        parts.append(first if start == prev else f"{first}-{last}")
        start = prev = code
    return re.compile("[" + "".join(parts) + "]")
