"""Turn fetched bytes into text, and refuse bodies that are not what was asked for.

A 200 is not yet a page: the site may answer with a PDF, an error string or a binary blob, and
that must fail loudly rather than parse to "no news" (:func:`check_kind`, :func:`check_markup`).

Korean government sites have served CP949 pages labelled UTF-8, and feeds start with a BOM. A
wrong guess here does not crash; it quietly fills the database and every digest with mojibake.
So each candidate codec must decode the *whole* body strictly, the order is fixed and documented
(:func:`decode_body`), and a page no candidate can decode is an error, not a best effort.
Used by :mod:`monitor.fetch.http`, which hands parsers text already decoded.
"""

from __future__ import annotations

import codecs
import logging
import re
from typing import Literal

from charset_normalizer.md import mess_ratio

from monitor.errors import FetchError

log = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""", re.IGNORECASE)
_SNIFF_BYTES = 4096
_NON_TEXT_PREFIXES = ("image/", "audio/", "video/", "font/", "application/")
_MARKUP_TYPES = ("xml", "html")

#: What the caller wants: an HTML page, an XML feed, or anything (no checks).
Expect = Literal["html", "xml", "any"]


def decode_body(
    body: bytes, content_type: str | None, override: str | None = None, url: str = ""
) -> tuple[str, str]:
    """Return ``(text, codec)`` for ``body``; raise FetchError when no reading is trustworthy.

    Order: an explicit per-source ``override`` (trusted, but still strict); a BOM; the declared
    charset (Content-Type, ``<meta charset>`` or the XML declaration), which wins unless the bytes
    prove it wrong; else a guess among UTF-8, CP949 and windows-1252.

    "The bytes prove a label wrong" means: the body does not decode strictly under it, or it
    decodes as UTF-8 with multi-byte sequences (which text in a legacy charset practically never
    does), or another candidate reads markedly cleaner (:func:`mess`: mojibake such as
    ``ÇÑ±¹`` for Hangul under a Latin label, C1 controls under ISO-8859-1). A page correctly
    labelled windows-1252 whose only non-ASCII bytes are curly quotes therefore stays
    windows-1252 ("Korea’s", never CP949 "Korea뭩"). A guess is only taken when its reading is
    clean. Failing all that, a body labelled UTF-8 (or unlabelled) that is clean UTF-8 but for a
    few invalid sequences is read as UTF-8 with those shown as U+FFFD
    (:func:`_utf8_despite_a_few_bad_bytes`), as a browser shows it; otherwise the page is refused
    rather than stored as mojibake.
    """
    if override:
        return _strict(body, override, url, "the configured encoding"), _canonical(override)
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return _strict(body, codec, url, "its byte-order mark"), codec
    label = declared_charset(body, content_type)
    if label and _canonical(label) in _REFUSED_CODECS:
        raise FetchError(
            f"{url or 'page'}: declared charset {label}, which browsers refuse to decode "
            "(WHATWG Encoding: UTF-7 is not supported, ISO-2022-KR/-CN and HZ are the "
            "'replacement' encoding); refused rather than stored as mojibake — set the "
            "source's encoding if the site really uses it"
        )
    if body.isascii():
        return body.decode("ascii"), "utf-8"
    declared = _canonical(label) if label else None
    if declared in _WINDOWS_1252_LABELS and any(0x80 <= byte <= 0x9F for byte in body):
        declared = "cp1252"  # as browsers do: these labels mean windows-1252 (WHATWG Encoding)
    readings: dict[str, str] = {}
    for codec in dict.fromkeys(c for c in (declared, *_GUESSES) if c):
        text = _try(body, codec)
        if text is not None:
            readings[codec] = text
    if "utf-8" in readings:  # valid multi-byte UTF-8 is proof enough, label or not
        if declared not in (None, "utf-8"):
            log.warning("%s is labelled %s but is UTF-8; decoded as UTF-8", url or "page", label)
        return readings["utf-8"], "utf-8"
    if declared in readings:
        own = mess(readings[declared])
        rivals = sorted((mess(t), c) for c, t in readings.items() if c != declared)
        if not rivals or rivals[0][0] + _PROOF_MARGIN >= own or rivals[0][0] > _GUESS_MAX_MESS:
            return readings[declared], declared  # not proven wrong by a clean rival
        better = rivals[0][1]
        log.warning("%s is labelled %s but is %s; decoded as %s",
                    url or "page", label, better.upper(), better.upper())  # fmt: skip
        return readings[better], better
    scored = sorted((mess(t), _GUESSES.index(c), c) for c, t in readings.items() if c in _GUESSES)
    if scored and scored[0][0] <= _GUESS_MAX_MESS:
        codec = scored[0][2]
        log.warning("%s is labelled %s but is %s; decoded as %s",
                    url or "page", label or "nothing", codec.upper(), codec.upper())  # fmt: skip
        return readings[codec], codec
    # no clean strict reading: damaged UTF-8 is the last reading tried before refusing
    if declared in (None, "utf-8") and (lenient := _utf8_despite_a_few_bad_bytes(body)):
        text, bad = lenient
        log.warning(
            "%s: %d byte sequence(s) invalid in UTF-8 among clean UTF-8 text; each shown as "
            "U+FFFD, as browsers show them",
            url or "page",
            bad,
        )
        return text, "utf-8"
    raise FetchError(
        f"{url or 'page'}: cannot decode the body as UTF-8 or CP949 with confidence"
        + (f" (declared charset {label})" if label else "")
        + "; set the source's encoding if the site uses another one"
    )


#: Labels the WHATWG Encoding Standard maps to windows-1252; they differ only in 0x80-0x9F,
#: where ISO-8859-1 has invisible C1 controls and windows-1252 has quotes and dashes.
_WINDOWS_1252_LABELS = frozenset({"iso8859-1", "latin-1", "ascii", "cp1252"})
#: Codecs (Python's names) a page may declare but browsers will not decode: UTF-7, which the
#: WHATWG Encoding Standard leaves out on purpose (it smuggles markup past filters), and the
#: labels it maps to the "replacement" encoding (§4.2). Their bytes read as ASCII mojibake.
_REFUSED_CODECS = frozenset({"utf-7", "iso2022_kr", "hz"})
#: Codecs tried when the label is missing or wrong, in order of preference on a Korean site.
_GUESSES = ("utf-8", "cp949", "cp1252")
#: How much cleaner (in mess ratio) another reading must be to overrule a declared charset.
_PROOF_MARGIN = 0.1
#: A guessed reading messier than this is refused: it would store mojibake.
_GUESS_MAX_MESS = 0.2
#: Characters of non-ASCII words scored: enough to tell Hangul from Latin mojibake many times
#: over, and a bounded cost (see ``python -m bench.decode_speed``).
_MESS_SAMPLE = 16384
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def mess(text: str) -> float:
    """How much ``text`` looks like mojibake: charset-normalizer's mess ratio (0 = clean).

    Measured on the words that hold non-ASCII characters (an ASCII page with one wrong word
    must not look clean because of its length), the first :data:`_MESS_SAMPLE` characters.
    """
    words: list[str] = []
    size = end = 0
    for match in _NON_ASCII.finditer(text):
        if match.start() < end:
            continue  # inside the previous word
        start = max(text.rfind(" ", max(0, match.start() - 32), match.start()) + 1, end)
        stop = text.find(" ", match.end(), match.end() + 32)
        end = stop if stop != -1 else min(len(text), match.end() + 32)
        words.append(text[start:end])
        size += end - start
        if size >= _MESS_SAMPLE:
            break
    if not words:
        return 0.0
    return float(mess_ratio(" ".join(words), maximum_threshold=1.0))


def declared_charset(body: bytes, content_type: str | None) -> str | None:
    """The charset the server or the document claims, if it names a codec Python knows."""
    candidates: list[str] = []
    match = _CT_CHARSET.search(content_type or "")
    if match:
        candidates.append(match.group(1))
    head = body[:_SNIFF_BYTES]
    for pattern in (_META_CHARSET, _XML_ENCODING):
        found = pattern.search(head)
        if found:
            candidates.append(found.group(1).decode("ascii", errors="ignore"))
    for name in candidates:
        if _known(name):
            return name
    return None


def _strict(body: bytes, codec: str, url: str, why: str) -> str:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError) as exc:
        raise FetchError(
            f"{url or 'page'}: cannot decode the body as {codec} ({why}): {exc}"
        ) from exc


#: Clean multi-byte UTF-8 characters needed per invalid sequence before the invalid ones are
#: taken for damage (a stray byte in one item) rather than for another encoding.
_UTF8_EVIDENCE = 20


def _utf8_despite_a_few_bad_bytes(body: bytes) -> tuple[str, int] | None:
    """``body`` read as UTF-8 with each invalid sequence replaced (the WHATWG decoder's way),
    and how many there were — when the valid multi-byte characters outnumber them at least
    :data:`_UTF8_EVIDENCE` to 1, which text in CP949 or windows-1252 never shows. Else None:
    one broken byte in one item must not cost a listing or a feed every other item."""
    text = body.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - body.count("\ufffd".encode())
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    good = non_ascii - text.count("\ufffd")
    if bad > 0 and good >= _UTF8_EVIDENCE * bad:
        return text, bad
    return None


def _try(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _known(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _canonical(name: str) -> str:
    """Python's own name for a codec ("UTF8" → "utf-8", "euc-kr" → "euc_kr")."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name.lower()


def check_kind(body: bytes, content_type: str | None, expect: Expect, url: str = "") -> None:
    """Refuse bodies that are plainly not markup (a PDF, an image) before trying to decode."""
    if expect == "any":
        return
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime.startswith(_NON_TEXT_PREFIXES) and not any(t in mime for t in _MARKUP_TYPES):
        raise FetchError(f"{url or 'page'}: expected an {expect.upper()} page, got {mime}")
    if _looks_binary(body[:1024]):
        raise FetchError(f"{url or 'page'}: expected an {expect.upper()} page, got binary data")


#: Openings of binary formats a server may send under a text label (PNG, GIF, JPEG, ZIP, PDF,
#: gzip).
_BINARY_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"%PDF", b"\x1f\x8b")
_CONTROL_BYTES = frozenset(range(0x09)) | frozenset(range(0x0E, 0x20)) - {0x1B}


def _looks_binary(head: bytes) -> bool:
    """A known binary signature, or control bytes making up over a tenth of the opening.

    One stray NUL or ESC in a title is a poisoned item to clean, not a binary body: the
    parsers drop such characters and keep the page. UTF-16 (a BOM) is text full of NULs.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if head.lstrip().startswith(_BINARY_MAGIC):
        return True
    controls = sum(1 for byte in head if byte in _CONTROL_BYTES)
    return controls * 10 > len(head)


def check_markup(text: str, expect: Expect, url: str = "") -> None:
    """An HTML or XML document has a ``<`` near the start; a 200 without one is foreign."""
    if expect != "any" and "<" not in text[:1024]:
        what = repr(text[:40]) if text.strip() else "an empty body"
        raise FetchError(f"{url or 'page'}: expected an {expect.upper()} page, got {what}")
