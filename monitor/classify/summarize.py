"""A short extractive summary of a release: its lead, cut at a sentence boundary.

Ministry releases put the news in the first numbered paragraph, so the lead (plus the next
paragraph when the lead is only a heading or a short line) says what a digest reader needs.
Extractive on purpose: the summary never says anything the ministry did not write, and it is
deterministic, so a stored summary only changes when the text does.

Paragraph markers (``1.``, ``2)``, ``(1)``, ``°``, ``◦``, ``o``, ``-``, ``•``, ``ㅇ``, ``※``, ``*``)
and boilerplate lines (``* unofficial translation``, ``/END/``, ``End.``, punctuation-only lines)
are dropped. Sentence ends are ``.``/``!``/``?`` followed by a space or the end, except after
common abbreviations ("U.S.", "Lt.", "H.E.") — which also covers Korean endings (``다.``, ``요.``).
"""

from __future__ import annotations

import logging
import re
import unicodedata

from monitor.classify.countries import INVISIBLE

log = logging.getLogger(__name__)

SHORT_LEAD_WORDS = 25
# NFKC turns the jamo ㅇ (U+3147) into U+110B, so both spellings are listed.
_MARKER = re.compile(r"^(?:\d{1,2}[.)](?!\d)|\(\d{1,2}\)|[°◦•ㅇ\u110b※*\-–—·▶■□○●]+|o(?=\s))\s*")
_TRAILING_DASH = re.compile(r"\s+[-–—]+$")
_BOILERPLATE = re.compile(
    r"^\W*(?:\[?\s*unofficial\s+translation\s*\]?|/?\s*end\s*/?|끝|<\s*끝\s*>)\W*$", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"[.!?。](?:[\"”’')\]]*)(?=\s|$)")
_ABBREVIATIONS = frozenset(
    [
        "u.s.",
        "u.k.",
        "u.n.",
        "e.u.",
        "d.c.",
        "h.e.",
        "lt.",
        "gen.",
        "col.",
        "maj.",
        "capt.",
        "adm.",
        "mr.",
        "mrs.",
        "ms.",
        "dr.",
        "prof.",
        "no.",
        "nos.",
        "st.",
        "jr.",
        "sr.",
        "vs.",
        "etc.",
        "e.g.",
        "i.e.",
        "jan.",
        "feb.",
        "mar.",
        "apr.",
        "jun.",
        "jul.",
        "aug.",
        "sep.",
        "sept.",
        "oct.",
        "nov.",
        "dec.",
        "inc.",
        "co.",
        "ltd.",
        "corp.",
        "dept.",
        "gov.",
        "amb.",
        "rep.",
        "sen.",
        "p.m.",
        "a.m.",
        "approx.",
    ]
)


def summarize(body: str, max_words: int = 60) -> str:
    """The lead of ``body`` in at most ``max_words`` words ("" for an empty or image-only body)."""
    paragraphs = clean_paragraphs(body)
    if not paragraphs or max_words < 1:
        return ""
    lead = paragraphs[:2] if len(paragraphs[0].split()) < SHORT_LEAD_WORDS else paragraphs[:1]
    return _cut([s for paragraph in lead for s in sentences(paragraph)], max_words)


def clean_paragraphs(body: str) -> list[str]:
    """Paragraphs of ``body`` without markers, boilerplate and stray in-sentence line breaks."""
    text = unicodedata.normalize("NFKC", body or "")
    text = text.replace("\r\n", " ").replace("\r", " ")
    for ch in INVISIBLE:
        text = text.replace(ch, " ")
    out = []
    for line in text.split("\n"):
        line = _strip_markers(" ".join(line.split()))
        if line and not _BOILERPLATE.match(line) and any(ch.isalnum() for ch in line):
            out.append(line)
    return out


def _strip_markers(line: str) -> str:
    previous = None
    while previous != line:  # "1. -" or "※ *" carry two markers
        previous, line = line, _MARKER.sub("", line, count=1).strip()
    return _TRAILING_DASH.sub("", line)


def sentences(text: str) -> list[str]:
    """Split at sentence ends, not after abbreviations or initials."""
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        word = text[text.rfind(" ", 0, m.start()) + 1 : m.start() + 1].lower()
        if word in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)+", word):
            continue
        out.append(text[start : m.end()].strip())
        start = m.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def _cut(parts: list[str], max_words: int) -> str:
    kept: list[str] = []
    count = 0
    for sentence in parts:
        n = len(sentence.split())
        if count + n > max_words:
            break
        kept.append(sentence)
        count += n
    if kept:
        return " ".join(kept)
    words = parts[0].split()[:max_words]
    return " ".join(words).rstrip(",;:") + "…"
