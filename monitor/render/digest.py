"""Choose releases per subscriber, group them by theme and render the digest mail.

All mail formatting lives here and in ``templates/``: the outbox freezes a :class:`Digest` (the
release list, the Message-ID, the creation time) so a retry renders byte-for-byte the same mail,
and the sender only hands the :class:`~email.message.EmailMessage` to a transport.

Selection rule of :func:`matches` — ``(themes OR keywords) AND countries AND NOT exclude``:

* ``themes`` and ``keywords`` both unset or empty: every release, tagged or not;
* ``themes`` set: a release tagged with one of them;
* ``keywords`` set: a release whose title or body contains one as whole words — with no
  ``themes``, only those (a subscription on keywords alone);
* ``countries``, when set, is a further requirement: the release must name one of them;
* ``exclude`` drops a release whose title or body contains one, whatever else matched.

Keywords and exclude terms are matched as theme patterns are (:func:`monitor.classify.themes.
phrase_regex`): text and term normalised alike (NFKC, case, quotes, whitespace), and a term may
not start or end inside an ASCII word, so "AI" does not match "said" nor "UN" "June".
"""

from __future__ import annotations

import binascii
import collections
import dataclasses
import datetime as dt
import functools
import io
import itertools
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email import quoprimime
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

from monitor.classify.themes import contains_phrase, normalize_text, phrase_regex
from monitor.clock import local_time_label  # kept importable from here
from monitor.config import MailConfig, SubscriberConfig
from monitor.deliver.mailmessage import (
    MAIL_POLICY,
    PreparedMessage,
    UnsubscribeLinks,
    address_of,
    mailbox_value,
    make_unsubscribe_token,
    message_id_field,
    safe_header_text,
    set_mailbox_header,
    set_text_header,
    strip_controls,
    unsubscribe_links,
    verify_unsubscribe_token,
)
from monitor.models import Digest, DigestItem, Release
from monitor.render.templates import template_text
from monitor.render.view import OTHER, Section, sections, wrap

if TYPE_CHECKING:  # both are imported when the first mail is rendered, not by planning
    import css_inline
    import jinja2

__all__ = [
    "Digest",
    "DigestItem",
    "DigestRenderer",
    "PreparedDigest",
    "UnsubscribeLinks",
    "build_message",
    "make_unsubscribe_token",
    "matches",
    "render_html",
    "render_text",
    "safe_header_text",
    "sample_digest",
    "subject_for",
    "verify_unsubscribe_token",
]

logger = logging.getLogger(__name__)

_PERIOD = re.compile(r"^\d{4}-(\d{2}-\d{2}|W\d{2})$")


def _contains_any(text: str, terms: Sequence[str]) -> bool:
    return any(contains_phrase(text, term) for term in terms)


def matches(subscriber: SubscriberConfig, release: Release, *, text: str | None = None) -> bool:
    """Whether ``release`` belongs in this subscriber's digests (rule in the module docstring).

    ``text``: :func:`matchable_text` of the release, when the caller keeps it for many readers.
    """
    if text is None:
        text = matchable_text(release)
    if _contains_any(text, subscriber.exclude):
        return False
    if subscriber.countries:
        named = {code.upper() for code in release.countries}
        if not named & {code.upper() for code in subscriber.countries}:
            return False
    if not subscriber.themes and not any(phrase_regex(k) for k in subscriber.keywords):
        return True
    if set(subscriber.themes or ()) & set(release.theme_ids):
        return True
    return _contains_any(text, subscriber.keywords)


def matchable_text(release: Release) -> str:
    """Title and body normalised as keywords are matched (:func:`normalize_text`)."""
    return normalize_text(f"{release.title}\n{release.body}")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _context(
    digest: Digest, groups: tuple[Section, ...], unsubscribe: UnsubscribeLinks
) -> dict[str, object]:
    """What the templates print; ``groups`` is ``sections(digest, theme_names)``, computed once
    per message (the Subject reads it too)."""
    updated = sum(item.updated for item in digest.items)
    counts = [_plural(len(digest.items), "release")]
    if updated:
        counts.append(f"{updated} updated")
    named = [s for s in groups if s.theme_id != OTHER]
    if named:
        counts.append(_plural(len(named), "theme"))
    return {
        "label": safe_header_text(digest.label, 80),
        "recipient": safe_header_text(digest.subscriber_email, 254),
        "name": safe_header_text(digest.subscriber_name or "", 80),
        "counts": " · ".join(counts),
        "sections": groups,
        "unsubscribe": unsubscribe,
        "generated": local_time_label(digest.local_time()),
        "notice": strip_controls(digest.notice),
    }


# --- templates ---------------------------------------------------------------------------------


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(template_text),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = wrap
    return env


@functools.cache
def _inliner() -> css_inline.CSSInliner:
    import css_inline

    # Remote stylesheets off: rendering must never fetch anything.
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)


def render_text(
    digest: Digest, *, theme_names: Mapping[str, str], unsubscribe: UnsubscribeLinks
) -> str:
    """The text/plain part, from ``templates/digest.txt``."""
    return _render_text(_context(digest, sections(digest, theme_names), unsubscribe))


def render_html(
    digest: Digest, *, theme_names: Mapping[str, str], unsubscribe: UnsubscribeLinks
) -> str:
    """The text/html part, from ``templates/digest.html``, with its CSS inlined for mail clients."""
    return _render_html(_context(digest, sections(digest, theme_names), unsubscribe))


def _render_text(context: Mapping[str, object]) -> str:
    return _environment().get_template("digest.txt").render(context)


def _render_html(context: Mapping[str, object]) -> str:
    return _inliner().inline(_environment().get_template("digest.html").render(context))


# --- the message -------------------------------------------------------------------------------


def _period(digest: Digest) -> str:
    """``2026-11-27`` from a daily key (already in the subscriber's zone), the label of a weekly
    one (``23–30 Nov 2026``: the days covered, not the ISO week the key names), else the creation
    date in the subscriber's zone — the date the body shows."""
    if digest.key.startswith("weekly:"):
        return digest.label
    suffix = digest.key.rpartition(":")[2]
    return suffix if _PERIOD.match(suffix) else digest.local_time().date().isoformat()


def subject_for(
    digest: Digest,
    theme_names: Mapping[str, str],
    prefix: str,
    groups: tuple[Section, ...] | None = None,
) -> str:
    """``MOFA digest: 3 releases — North Korea, Sanctions (2026-11-27)``; one release: its title.

    ``groups``: ``sections(digest, theme_names)`` when the caller has it already.
    """
    if groups is None:
        groups = sections(digest, theme_names)
    names = [s.name for s in groups if s.theme_id != OTHER]
    themes = ", ".join(names[:3]) + (f" +{len(names) - 3} more" if len(names) > 3 else "")
    if len(digest.items) == 1:
        item = digest.items[0]
        head = ("Updated: " if item.updated else "") + safe_header_text(item.release.title, 120)
    elif digest.items:
        head = _plural(len(digest.items), "release")
    else:
        head = "no new releases"
    subject = f"{prefix}: {head}" + (f" — {themes}" if themes else "") + f" ({_period(digest)})"
    return safe_header_text(subject, 200)


def _message_id(value: str) -> str:
    value = re.sub(r"[\s<>]", "", strip_controls(value))
    return f"<{value}>"


def build_message(
    digest: Digest,
    mail: MailConfig,
    *,
    format: str,
    theme_names: Mapping[str, str],
    unsubscribe_secret: bytes | None,
) -> EmailMessage:
    """The complete mail for one subscriber: headers, text part, and HTML unless ``format="text"``.

    The reference of what a digest mail is; :class:`DigestRenderer` makes the same bytes for
    many readers of one digest while rendering it once.
    """
    if digest.created_at.tzinfo is None:
        raise ValueError("Digest.created_at must be timezone-aware")
    _check_format(format)
    links = unsubscribe_links(
        mail.from_, digest.subscriber_email, url=mail.unsubscribe_url, secret=unsubscribe_secret
    )
    groups = sections(digest, theme_names)
    context = _context(digest, groups, links)
    return _assemble(
        digest,
        mail,
        subject=subject_for(digest, theme_names, safe_header_text(mail.subject_prefix, 60), groups),
        to=mailbox_value(digest.subscriber_name, digest.subscriber_email, header="To"),
        message_id=_message_id(digest.message_id),
        list_unsubscribe=links.header(),
        one_click=links.https is not None,
        text=_render_text(context),
        html=_render_html(context) if format == "html" else None,
    )


def _check_format(format: str) -> None:
    if format not in ("html", "text"):
        raise ValueError(f"unknown digest format {format!r}; use 'html' or 'text'")


def _assemble(
    digest: Digest,
    mail: MailConfig,
    *,
    subject: str,
    to: str,
    message_id: str,
    list_unsubscribe: str,
    one_click: bool,
    text: str,
    html: str | None,
) -> EmailMessage:
    """The message from its parts: ``to`` a raw mailbox (:func:`mailbox_value`), ``subject``
    clean text, ``list_unsubscribe`` the raw field (:meth:`UnsubscribeLinks.header`),
    ``one_click`` whether it has an https link (RFC 8058), ``text`` and ``html`` the rendered
    parts (no HTML part when None)."""
    msg = EmailMessage(policy=MAIL_POLICY)
    set_mailbox_header(msg, "From", mail.from_)
    msg.set_raw("To", to)
    set_text_header(msg, "Subject", subject)
    msg["Date"] = format_datetime(digest.created_at)
    msg["Message-ID"] = message_id
    msg.set_raw("List-Unsubscribe", list_unsubscribe)
    if one_click:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-MOFA-Digest"] = safe_header_text(digest.key, 100)
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


# --- one rendering, many readers ---------------------------------------------------------------

#: RFC 2045 §2.8 and RFC 5322 §2.1.1: the longest line a 7bit body keeps, as :mod:`email` decides.
_MAX_LINE = MAIL_POLICY.max_line_length or 78


class _Marks:
    """Tokens that stand for a reader's values while a digest is rendered for all its readers.

    Letters and digits only, so jinja2's escaping, the CSS inliner and quoted-printable leave
    them as they are; random per process, so no release text can hold one by chance.
    """

    def __init__(self) -> None:
        stem = "mofa" + secrets.token_hex(8)
        self.email = stem + "reader"
        self.name = stem + "name"
        self.https = stem + "https"
        self.mailto = stem + "mailto"
        self.to = stem + "to"
        self.message_id = f"<{stem}mid@placeholder.invalid>"
        self.list_unsubscribe = stem + "unsubscribe"
        self.part = stem + "part"


_MARKS = _Marks()


@dataclass(frozen=True, slots=True)
class _Body:
    """One text part rendered once: the lines that hold a reader's values are encoded per
    reader, every other line once (quoted-printable and 7bit encode line by line)."""

    cte: str
    lines: tuple[str, ...]  # the part's text, split at "\n", with the marks in
    slots: tuple[int, ...]  # indices of the lines holding a mark
    chunks: tuple[bytes, ...]  # encoded bytes between the slots (len(slots) + 1), ``linesep`` ends
    rest_max: int  # the longest line (UTF-8 bytes) that is not a slot
    ascii: bool  # the whole text is ASCII
    linesep: str
    marks: frozenset[str]  # the marks that occur in the part

    @classmethod
    def of(
        cls, text: str, cte: str, payload: str, marks: Sequence[str], linesep: str
    ) -> _Body | None:
        """The part whose :mod:`email` encoding is ``payload``, or None when encoding it line
        by line would not give exactly ``payload`` (then every reader's part is built whole)."""
        if "\r" in text:
            return None
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        slots = tuple(i for i, line in enumerate(lines) if any(m in line for m in marks))
        used = frozenset(m for m in marks if any(m in lines[i] for i in slots))
        encoded = [_encode_line(line, cte) for line in lines]
        if cte == "base64":
            if _base64_body(lines) != payload:
                return None
        elif "".join(e + "\n" for e in encoded) != payload:
            return None
        bounds = [-1, *slots, len(lines)]
        # Quoted-printable and 7bit parts are kept as encoded chunks between the reader's lines;
        # a base64 part is re-encoded whole per reader (its lines are raw text, not ASCII).
        chunks = (
            tuple(
                "".join(e + "\n" for e in encoded[start + 1 : stop])
                .replace("\n", linesep)
                .encode("ascii")
                for start, stop in itertools.pairwise(bounds)
            )
            if cte != "base64"
            else ()
        )
        rest = [len(line.encode("utf-8")) for i, line in enumerate(lines) if i not in slots]
        return cls(
            cte, tuple(lines), slots, chunks, max(rest, default=0), text.isascii(), linesep, used
        )

    def personal(self, values: Mapping[str, str]) -> list[bytes] | None:
        """The encoded part (``linesep`` line ends) with ``values`` put for their marks, or None
        when they would change how :mod:`email` encodes the part (its 7bit test looks at line
        lengths; its choice between quoted-printable and base64 at the first ten lines)."""
        filled = [_fill(self.lines[i], values) for i in self.slots]
        longest = max((len(line.encode("utf-8")) for line in filled), default=0)
        if self.cte == "7bit":
            if longest > _MAX_LINE:
                return None
        else:
            if self.ascii and max(self.rest_max, longest) <= _MAX_LINE:
                return None  # it would become 7bit
            if len(self.lines) <= 10 or (self.slots and self.slots[0] < 10):
                return None  # the first ten lines decide between quoted-printable and base64
        if self.cte == "base64":
            lines = list(self.lines)
            for i, line in zip(self.slots, filled, strict=True):
                lines[i] = line
            return [_base64_body(lines).replace("\n", self.linesep).encode("ascii")]
        out = [self.chunks[0]]
        for line, chunk in zip(filled, self.chunks[1:], strict=True):
            out.append((_encode_line(line, self.cte) + "\n").replace("\n", self.linesep).encode())
            out.append(chunk)
        return out


def _fill(line: str, values: Mapping[str, str]) -> str:
    for mark, value in values.items():
        if mark in line:
            line = line.replace(mark, value)
    return line


def _encode_line(line: str, cte: str) -> str:
    """One line as ``email.contentmanager`` encodes it inside a UTF-8 text part."""
    if cte == "quoted-printable":
        return quoprimime.body_encode(line.encode("utf-8").decode("latin-1"), _MAX_LINE)
    return line  # 7bit (checked by the caller); base64 is encoded whole


def _base64_body(lines: Sequence[str]) -> str:
    """Base64 of the part as ``email.contentmanager`` writes it: 57 bytes a line (76 characters)."""
    data = ("\n".join(lines) + "\n").encode("utf-8")
    per_line = _MAX_LINE // 4 * 3
    return "".join(
        binascii.b2a_base64(data[i : i + per_line]).decode("ascii")
        for i in range(0, len(data), per_line)
    )


class PreparedDigest:
    """One digest rendered once (view model, templates, CSS inlining, encoding), ready to be
    made into the exact bytes :func:`build_message` gives for any of its readers.

    What differs between readers is put in per reader: the ``To`` field, the ``Message-ID``,
    the ``List-Unsubscribe`` field, and in the body the reader's address and unsubscribe links
    (their lines are encoded per reader; every other line once). :meth:`message_for` returns
    None in the rare cases where a reader's values would change how a part is encoded; the
    caller then builds that reader's message whole.
    """

    def __init__(
        self,
        digest: Digest,
        mail: MailConfig,
        *,
        format: str,
        theme_names: Mapping[str, str],
        https: bool,
        linesep: str = "\n",
    ) -> None:
        """``digest``: any of the readers' digests (their own values are not used); ``https``:
        whether the unsubscribe links have an https one (``[mail] unsubscribe_url`` and a
        secret). Raises as :func:`build_message` does for a digest that cannot be built."""
        if digest.created_at.tzinfo is None:
            raise ValueError("Digest.created_at must be timezone-aware")
        _check_format(format)
        m = _MARKS
        self.linesep = linesep
        shared = dataclasses.replace(digest, subscriber_email=m.email, subscriber_name=m.name)
        manage = unsubscribe_links(mail.from_, "x@example.invalid", url=None, secret=None).manage
        links = UnsubscribeLinks(mailto=m.mailto, https=m.https if https else None, manage=manage)
        groups = sections(shared, theme_names)
        context = _context(shared, groups, links)
        texts = [_render_text(context)]
        if format == "html":
            texts.append(_render_html(context))
        proto = _assemble(
            shared,
            mail,
            subject=subject_for(
                shared, theme_names, safe_header_text(mail.subject_prefix, 60), groups
            ),
            to=m.to,
            message_id=m.message_id,
            list_unsubscribe=f"<{m.list_unsubscribe}>",
            one_click=https,
            text=texts[0],
            html=texts[1] if len(texts) > 1 else None,
        )
        parts = proto.get_payload() if proto.is_multipart() else [proto]
        marks = (m.email, m.name, m.https, m.mailto)
        self._bodies: list[_Body | None] = []
        for number, (part, text) in enumerate(zip(parts, texts, strict=True)):
            payload = part.get_payload()
            self._bodies.append(
                _Body.of(text, str(part["Content-Transfer-Encoding"]), payload, marks, linesep)
            )
            part.set_payload(f"{m.part}{number}\n")
        self.boundary = "=" * 15 + f"{secrets.randbelow(10**19):019d}" + "=="
        if proto.is_multipart():
            proto.set_boundary(self.boundary)
        self._segments = self._split(_flatten(proto, linesep), len(parts))

    def _split(self, data: bytes, parts: int) -> list[bytes | str]:
        """The prototype's bytes cut at the fields and parts that differ per reader: bytes
        between, and the slot names ``to``, ``message-id``, ``list-unsubscribe``, ``part<n>``."""
        m, nl = _MARKS, self.linesep.encode("ascii")
        slots = {
            b"To: " + m.to.encode() + nl: "to",
            b"Message-ID: " + m.message_id.encode() + nl: "message-id",
            b"List-Unsubscribe: <" + m.list_unsubscribe.encode() + b">" + nl: "list-unsubscribe",
            **{f"{m.part}{n}".encode() + nl: f"part{n}" for n in range(parts)},
        }
        pattern = re.compile(b"(" + b"|".join(re.escape(k) for k in slots) + b")")
        pieces = pattern.split(data)
        segments: list[bytes | str] = [
            slots[piece] if number % 2 else piece for number, piece in enumerate(pieces)
        ]
        found = sorted(s for s in segments if isinstance(s, str))
        if found != sorted(slots.values()):
            raise RuntimeError(f"the digest's prototype message lost a field: {found}")
        return segments

    def message_for(
        self, name: str | None, email: str, message_id: str, links: UnsubscribeLinks
    ) -> bytes | None:
        """The reader's message, every line ending with ``linesep``; None when it must be built
        whole (see the class). Raises ValueError for an address no header can hold."""
        m, nl = _MARKS, self.linesep
        to = mailbox_value(name, email, header="To")
        values = {
            m.email: safe_header_text(email, 254),
            m.name: safe_header_text(name or "", 80),
            m.https: links.https or "",
            m.mailto: links.mailto,
        }
        if any(self.boundary in v for v in (*values.values(), to, links.header())):
            return None
        fields: dict[str, bytes | list[bytes]] = {
            "to": f"To: {nl.join(to.splitlines())}{nl}".encode("ascii"),
            "message-id": message_id_field(_message_id(message_id), linesep=nl),
            "list-unsubscribe": (
                f"List-Unsubscribe: {nl.join(links.header().splitlines())}{nl}".encode("ascii")
            ),
        }
        for number, body in enumerate(self._bodies):
            if body is None:
                return None
            if number == 0:  # text/plain: the values as they are
                part_values = {mark: values[mark] for mark in body.marks}
            else:  # text/html: as the HTML serialiser writes them
                html = {mark: _html_attribute(values[mark]) for mark in body.marks}
                if None in html.values():
                    return None
                part_values = {mark: value for mark, value in html.items() if value is not None}
            encoded = body.personal(part_values)
            if encoded is None:
                return None
            fields[f"part{number}"] = encoded
        out: list[bytes] = []
        for segment in self._segments:
            if isinstance(segment, bytes):
                out.append(segment)
            elif segment.startswith("part"):
                out += fields[segment]  # type: ignore[arg-type]
            else:
                out.append(fields[segment])  # type: ignore[arg-type]
        return b"".join(out)


def _html_attribute(value: str) -> str | None:
    """``value`` as the HTML part shows it after jinja2's escaping and the CSS inliner's
    serialisation (HTML5: ``&`` as ``&amp;``), or None for a value whose form would depend on
    where it stands (``<``, ``>`` and ``"`` are escaped in text, or in attributes, not both)."""
    if any(ch in value for ch in '<>"\xa0'):
        return None
    return value.replace("&", "&amp;")


def _flatten(message: EmailMessage, linesep: str) -> bytes:
    """``message.as_bytes()`` with ``linesep`` line ends (what ``smtplib`` sends for ``"\r\n"``)."""
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=message.policy).flatten(message, linesep=linesep)
    return out.getvalue()


def message_bytes(message: EmailMessage, linesep: str = "\n") -> bytes:
    """The bytes of a built message with ``linesep`` line ends."""
    return _flatten(message, linesep)


#: Distinct digests a :class:`DigestRenderer` keeps rendered (each some tens of kilobytes).
PREPARED_KEPT = 256


class DigestRenderer:
    """Makes the messages of one send pass, rendering each distinct digest once.

    Two deliveries share a rendering when their digests differ only in the reader (address,
    name, Message-ID): same releases and changes, period, zone, followed themes and format.
    ``renders`` counts the renderings made (one per distinct digest, plus any reader whose
    message had to be built whole).
    """

    def __init__(
        self,
        mail: MailConfig,
        theme_names: Mapping[str, str],
        unsubscribe_secret: bytes | None,
        *,
        linesep: str = "\n",
    ) -> None:
        self.mail = mail
        self.theme_names = theme_names
        self.secret = unsubscribe_secret
        self.linesep = linesep
        self.sender = address_of(mail.from_)
        self.renders = 0
        # The most recently used renderings, at most PREPARED_KEPT: memory stays bounded when
        # (almost) every reader's digest is their own.
        self._prepared: collections.OrderedDict[tuple[object, ...], PreparedDigest] = (
            collections.OrderedDict()
        )
        self._releases: dict[int, tuple[Release, int]] = {}

    def _serial(self, release: Release) -> int:
        """A number per Release object seen (kept alive, so its ``id`` is never reused): two
        digests share a rendering only when they hold the very same release objects, which
        the outbox loads once per pass — cheaper than hashing whole releases per message."""
        known = self._releases.get(id(release))
        if known is None:
            known = self._releases[id(release)] = (release, len(self._releases))
        return known[1]

    def message(self, digest: Digest, *, format: str) -> PreparedMessage:
        """The reader's message as bytes, with its envelope. Raises as :func:`build_message`."""
        links = unsubscribe_links(
            self.mail.from_,
            digest.subscriber_email,
            url=self.mail.unsubscribe_url,
            secret=self.secret,
        )
        key = (
            format,
            links.https is not None,
            digest.key,
            digest.label,
            digest.created_at,
            digest.timezone,
            digest.followed,
            digest.notice,
            tuple((self._serial(i.release), i.updated, i.changes) for i in digest.items),
        )
        prepared = self._prepared.get(key)
        if prepared is not None:
            self._prepared.move_to_end(key)
        else:
            prepared = PreparedDigest(
                digest,
                self.mail,
                format=format,
                theme_names=self.theme_names,
                https=links.https is not None,
                linesep=self.linesep,
            )
            self.renders += 1
            self._prepared[key] = prepared
            if len(self._prepared) > PREPARED_KEPT:
                self._prepared.popitem(last=False)
        data = prepared.message_for(
            digest.subscriber_name, digest.subscriber_email, digest.message_id, links
        )
        if data is None:
            self.renders += 1
            built = build_message(
                digest,
                self.mail,
                format=format,
                theme_names=self.theme_names,
                unsubscribe_secret=self.secret,
            )
            data = _flatten(built, self.linesep)
        return PreparedMessage(self.sender, (digest.subscriber_email,), data, self.linesep)


def sample_digest(now: dt.datetime, timezone: str = "UTC") -> Digest:
    """A made-up digest for ``send-test``, marked as a test: every theme, an update, an
    attachment, hostile text (see :mod:`monitor.render.sample`)."""
    # Imported here because the sample module builds Digest objects from this one.
    from monitor.render.sample import build_sample_digest

    return build_sample_digest(now, timezone)
