"""Stored text made safe for an operator's terminal, and for JSON lines read in one.

Titles, bodies and error messages come from the ministry's site, feeds or mail servers: hostile
text. Printed raw, an ESC sequence (``\\x1b]0;...\\x07``, ``\\x1b[2J``) can retitle, clear or
rewrite the operator's terminal, a C1 control (``\\x9b`` is a one-byte CSI) does the same on
some terminals, and a bidi override (U+202E, the "Trojan Source" trick) makes a line read
differently from what it says.

:func:`for_terminal` shows each such character as a visible escape (``\\x1b``, ``\\u202e``) —
the text stays readable and nothing is silently dropped. :func:`json_for_terminal` does the same
inside a JSON document with JSON's own ``\\uXXXX`` escapes, so the data decodes unchanged.
"""

from __future__ import annotations

import re

from monitor import text as chars

# C0 controls (but tab and newline, handled below), DEL, C1 controls; bidi marks, embeddings,
# overrides and isolates (Unicode UAX #9); line and paragraph separators; lone surrogates.
_UNSAFE = chars.char_class(
    (chars.C0_C1 - {ord("\t"), ord("\n")})
    | chars.BIDI_CONTROLS
    | chars.LINE_SEPARATORS
    | chars.SURROGATES
)


def _visible(match: re.Match[str]) -> str:
    if match.group() == "\r":
        return "\\r"
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: object, *, multiline: bool = False) -> str:
    """``text`` with every control, bidi and separator character shown as a visible escape.

    A newline is kept when ``multiline`` (preview's rendered digest), else escaped as ``\\n``;
    a CR is always escaped, so it cannot return the cursor and overwrite a line.
    """
    value = str(text)
    if not multiline:
        value = value.replace("\n", "\\n")
    return _UNSAFE.sub(_visible, value)


def json_for_terminal(document: str) -> str:
    """A JSON text with the characters :func:`for_terminal` escapes written as ``\\uXXXX``.

    Valid JSON that decodes to the same data: the escaped characters can only occur inside
    strings (JSON's own syntax is ASCII), where ``\\uXXXX`` means the same character.
    """
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", document)


def unsafe_characters(text: str) -> list[str]:
    """The characters of ``text`` that :func:`for_terminal` would escape, as escapes
    (``["\\x1b", "\\u202e"]``), in order, each once; tab and newline included."""
    return list(dict.fromkeys(_visible(m) for m in re.finditer(f"{_UNSAFE.pattern}|[\t\n]", text)))
