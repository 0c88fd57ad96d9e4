"""Plain frozen records that flow between the pipeline stages.

Every stage takes and returns these, never dicts or tuples, so a reader can follow one release
from the listing row to the digest line by its type alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file linked from an article (``down.do``); ``url`` is absolute."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class ListingEntry:
    """One row of a board listing or one feed item: enough to know whether it is new."""

    board: str
    seq: int
    title: str
    date: dt.date | None
    url: str
    has_attachment: bool = False
    body: str | None = None  # feeds carry the text; listings do not


@dataclass(frozen=True, slots=True)
class Listing:
    """One parsed listing page; ``total`` is the board's post count when the page shows it.

    ``problems`` says, one line each, what the parser skipped or could not read (an item with a
    broken link, a date present but unreadable) while keeping the rest of the page.
    """

    entries: tuple[ListingEntry, ...]
    total: int | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Article:
    """One parsed article page: the release as the ministry published it."""

    board: str
    seq: int
    title: str
    date: dt.date | None
    url: str
    body: str
    attachments: tuple[Attachment, ...] = ()
    image_only: bool = False


@dataclass(frozen=True, slots=True)
class Evidence:
    """One matched term: what matched, where (``title`` or ``body``) and how often."""

    term: str
    where: str
    count: int


@dataclass(frozen=True, slots=True)
class ThemeTag:
    """A theme assigned to a release, with its score and the evidence for it."""

    theme: str
    score: float
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Classification:
    """Everything the classifier says of one release, stamped with the rules' version."""

    themes: tuple[ThemeTag, ...]
    countries: tuple[str, ...]
    version: str


@dataclass(frozen=True, slots=True)
class Release:
    """A stored release with its tags: what ``releases --json`` prints and digests show."""

    id: str  # "<board>-<seq>", stable across databases
    source: str
    board: str
    seq: int
    title: str
    date: dt.date | None
    url: str
    body: str
    summary: str
    themes: tuple[ThemeTag, ...] = ()
    countries: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    image_only: bool = False
    first_seen_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None  # set when title or body changed after first seen
    revision: int = 1
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def theme_ids(self) -> tuple[str, ...]:
        """Theme ids, strongest first."""
        return tuple(tag.theme for tag in self.themes)


def release_id(board: str, seq: int) -> str:
    """The public id of a release: identity is ``(board, seq)``, so the id is built from both."""
    return f"{board}-{seq}"
