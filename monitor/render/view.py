"""The view model of a digest: grouped, cleaned, ready for the templates to print.

Templates stay dumb (no logic beyond loops and ifs) and the hygiene lives in one place: every
scraped string is stripped of control characters, capped, and every link is checked to be
http(s) before a template sees it. Separate from ``digest.py`` to keep both short.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from monitor.deliver.mailmessage import safe_header_text, strip_controls
from monitor.models import Release, ThemeTag

if TYPE_CHECKING:  # digest.py imports this module; the types are only needed for annotations
    from monitor.models import Digest, DigestItem, SeenRevision

OTHER = ""  # section id for releases without any theme
OTHER_NAME = "Other releases"
TITLE_LIMIT = 300  # a scraped title longer than this is noise, not information
EVIDENCE_LIMIT = 4
CHANGE_WORDS = 8  # words quoted on each side of a body change
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class AttachmentView:
    """An attachment as shown: a clean name and a link only when it is http(s)."""

    name: str
    url: str | None


@dataclass(frozen=True)
class ItemView:
    """One release as shown: every field already cleaned and formatted."""

    title: str
    url: str | None
    date: str
    themes: tuple[str, ...]
    summary: str
    evidence: str
    attachments: tuple[AttachmentView, ...]
    updated: bool
    changes: str = ""


@dataclass(frozen=True)
class Section:
    """The releases whose primary theme is ``theme_id`` (``OTHER`` for untagged ones)."""

    theme_id: str
    name: str
    items: tuple[ItemView, ...]


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links reach a digest; a ``javascript:`` URL from a page is dropped."""
    if not url:
        return None
    url = strip_controls(url).strip()
    return url if urlsplit(url).scheme in ("http", "https") else None


def _clean_paragraphs(text: str) -> str:
    """Scraped text for a body: control characters out, one paragraph per line."""
    lines = (
        _SPACES.sub(" ", line).strip()
        for line in strip_controls(text, keep_newlines=True).split("\n")
    )
    return "\n".join(line for line in lines if line)


def wrap(text: str, width: int = 72, indent: str = "", first: str | None = None) -> str:
    """Wrap each paragraph for the text part; URLs and hyphenated words are never split."""
    return "\n".join(
        textwrap.fill(
            paragraph,
            width=width,
            initial_indent=indent if first is None or number else first,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        for number, paragraph in enumerate(text.split("\n"))
    )


def _human_date(date: dt.date | None) -> str:
    return f"{date.day} {date:%b %Y}" if date else "date unknown"


def _theme_name(theme_names: Mapping[str, str], theme_id: str) -> str:
    return theme_names.get(theme_id) or theme_id


def _primary_theme(release: Release, followed: Sequence[str]) -> str:
    """The strongest theme, preferring the ones the subscriber follows; OTHER when untagged."""
    preferred = [tag for tag in release.themes if tag.theme in followed] or list(release.themes)
    if not preferred:
        return OTHER
    return max(preferred, key=lambda tag: tag.score).theme


def _evidence_line(tags: Sequence[ThemeTag]) -> str:
    """ "“ICBM” in title, “missile” ×3": the strongest few terms, title matches first.

    Two themes that share a term both report its occurrences; they are counted once.
    """
    occurrences: dict[str, dict[str, int]] = {}
    for tag in tags:
        for ev in tag.evidence:
            places = occurrences.setdefault(safe_header_text(ev.term, 60), {})
            places[ev.where] = max(places.get(ev.where, 0), ev.count)
    seen = {term: ("title" in places, sum(places.values())) for term, places in occurrences.items()}
    # Stable sort: among equals, the stronger theme's evidence (seen first) stays first.
    ranked = sorted(seen.items(), key=lambda kv: (not kv[1][0], -kv[1][1]))
    parts = []
    for term, (in_title, count) in ranked[:EVIDENCE_LIMIT]:
        where = " in title" if in_title else (f"\u00a0×{count}" if count > 1 else "")
        parts.append(f"“{term}”{where}")
    return ", ".join(parts)


def _quote(words: Sequence[str], limit: int = CHANGE_WORDS) -> str:
    text = " ".join(words[:limit]) + (" …" if len(words) > limit else "")
    return f"“{safe_header_text(text, 80)}”"


def _body_change(before: str, after: str) -> str:
    """The first differing run of words, and how many more there are."""
    old, new = before.split(), after.split()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    edits = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    if not edits:
        return "body spacing"
    kind, i1, i2, j1, j2 = edits[0]
    if kind == "replace":
        first = f"{_quote(old[i1:i2])} → {_quote(new[j1:j2])}"
    elif kind == "insert":
        first = f"added {_quote(new[j1:j2])}"
    else:
        first = f"removed {_quote(old[i1:i2])}"
    more = (
        f" (and {len(edits) - 1} more edit{'s' if len(edits) > 2 else ''})"
        if len(edits) > 1
        else ""
    )
    return f"body {first}{more}"


def describe_changes(before: SeenRevision, after: Release) -> str:
    """What changed since the revision a reader last saw, in a line: ``title (was “…”); body
    “22 July” → “23 July” (and 2 more edits); attachment added: Annex.pdf``.

    Attachments are compared by name, and only when the earlier revision recorded them.
    """
    parts = []
    if " ".join(before.title.split()) != " ".join(after.title.split()):
        parts.append(f"title (was “{safe_header_text(before.title, 100)}”)")
    if before.body != after.body:
        parts.append(_body_change(before.body, after.body))
    if before.attachments is not None:
        old = {a.name for a in before.attachments}
        new = {a.name for a in after.attachments}
        for verb, names in (("added", new - old), ("removed", old - new)):
            for name in sorted(names):
                parts.append(f"attachment {verb}: {safe_header_text(name, 80) or 'attachment'}")
    return "; ".join(parts)


def _item_view(item: DigestItem, theme_names: Mapping[str, str]) -> ItemView:
    release = item.release
    tags = sorted(release.themes, key=lambda tag: -tag.score)
    return ItemView(
        title=safe_header_text(release.title, TITLE_LIMIT) or "(untitled)",
        url=_safe_url(release.url),
        date=_human_date(release.date),
        themes=tuple(_theme_name(theme_names, tag.theme) for tag in tags),
        summary=_clean_paragraphs(release.summary),
        evidence=_evidence_line(tags),
        attachments=tuple(
            AttachmentView(safe_header_text(a.name, 120) or "attachment", _safe_url(a.url))
            for a in release.attachments
        ),
        updated=item.updated,
        changes=safe_header_text(item.changes, 400) if item.updated else "",
    )


def _section_order(theme_names: Mapping[str, str]) -> dict[str, int]:
    return {theme_id: index for index, theme_id in enumerate(theme_names)}


def sections(digest: Digest, theme_names: Mapping[str, str]) -> tuple[Section, ...]:
    """Items grouped under their primary theme: taxonomy order, newest first, untagged last."""
    groups: dict[str, list[DigestItem]] = {}
    for item in digest.items:
        groups.setdefault(_primary_theme(item.release, digest.followed), []).append(item)
    order = _section_order(theme_names)

    def section_key(theme_id: str) -> tuple[int, int, str]:
        return (theme_id == OTHER, order.get(theme_id, len(order)), theme_id)

    def item_key(item: DigestItem) -> tuple[dt.date, int]:
        return (item.release.date or dt.date.min, item.release.seq)

    return tuple(
        Section(
            theme_id=theme_id,
            name=OTHER_NAME if theme_id == OTHER else _theme_name(theme_names, theme_id),
            items=tuple(
                _item_view(item, theme_names)
                for item in sorted(groups[theme_id], key=item_key, reverse=True)
            ),
        )
        for theme_id in sorted(groups, key=section_key)
    )
