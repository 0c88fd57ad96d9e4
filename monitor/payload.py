"""Turn fetched bytes into text, and refuse bodies that are not what was asked for.

A 200 is not yet a page: the site may answer with a PDF, an error string or a binary blob, and
that must fail loudly rather than parse to "no news" (:func:`check_kind`, :func:`check_markup`).

Korean government sites have served CP949 pages labelled UTF-8, and feeds start with a BOM. A
wrong guess here does not crash; it quietly fills the database and every digest with mojibake.
So each candidate codec must decode the *whole* body strictly, the order is fixed and documented
(:func:`decode_body`), and a page no candidate can decode is an error, not a best effort.
Used by :mod:`monitor.fetch`, which hands parsers text already decoded.
"""

from __future__ import annotations

import codecs
import logging
import re
from typing import Literal

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
    """Return ``(text, codec)`` for ``body``; raise FetchError when nothing decodes strictly.

    Order: an explicit per-source ``override`` (trusted, but still strict); a BOM; strict
    UTF-8 (what the site serves); the declared charset (Content-Type, ``<meta charset>`` or the
    XML declaration) if it decodes; CP949, the Korean superset of EUC-KR. A page labelled UTF-8
    that only decodes as CP949 is logged at WARNING, since its label lies.
    """
    if override:
        return _strict(body, override, url, "the configured encoding"), _canonical(override)
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return _strict(body, codec, url, "its byte-order mark"), codec
    text = _try(body, "utf-8")
    if text is not None:
        return text, "utf-8"
    label = declared_charset(body, content_type)
    if label and _single_byte(label):
        # Every byte sequence "decodes" as Latin-1 or cp1252, so such a label proves nothing:
        # Korean text under it would come out as mojibake. Hangul decoded as CP949 wins.
        text = _try(body, "cp949")
        if text is not None and _HANGUL.search(text):
            log.warning("%s is labelled %s but is CP949; decoded as CP949", url or "page", label)
            return text, "cp949"
    if label and _canonical(label) != "utf-8":
        text = _try(body, label)
        if text is not None:
            return text, _canonical(label)
    text = _try(body, "cp949")
    if text is not None:
        log.warning(
            "%s is labelled %s but is CP949; decoded as CP949", url or "page", label or "nothing"
        )
        return text, "cp949"
    raise FetchError(
        f"{url or 'page'}: cannot decode the body as UTF-8 or CP949"
        + (f" (declared charset {label})" if label else "")
        + "; set the source's encoding if the site uses another one"
    )


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


def _try(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


_HANGUL = re.compile("[\uac00-\ud7a3]")


def _single_byte(name: str) -> bool:
    """Whether a codec maps every byte to a character (Latin-1, cp1252, ISO-8859-x…)."""
    canonical = _canonical(name)
    return canonical.startswith(("iso8859", "latin", "cp125", "mac-")) or canonical == "ascii"


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
    head = body[:1024]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 has NULs
        raise FetchError(f"{url or 'page'}: expected an {expect.upper()} page, got binary data")


def check_markup(text: str, expect: Expect, url: str = "") -> None:
    """An HTML or XML document has a ``<`` near the start; a 200 without one is foreign."""
    if expect != "any" and "<" not in text[:1024]:
        what = repr(text[:40]) if text.strip() else "an empty body"
        raise FetchError(f"{url or 'page'}: expected an {expect.upper()} page, got {what}")
