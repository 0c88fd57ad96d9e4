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

import datetime as dt
import functools
import logging
import re
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

from monitor.classify.themes import contains_phrase, normalize_text, phrase_regex
from monitor.clock import local_time_label  # kept importable from here
from monitor.config import MailConfig, SubscriberConfig
from monitor.deliver.mailmessage import (
    MAIL_POLICY,
    UnsubscribeLinks,
    mailbox_value,
    make_unsubscribe_token,
    safe_header_text,
    set_mailbox_header,
    set_text_header,
    strip_controls,
    unsubscribe_links,
    verify_unsubscribe_token,
)
from monitor.models import Digest, DigestItem, Release
from monitor.render.templates import template_text
from monitor.render.view import OTHER, sections, wrap

if TYPE_CHECKING:  # both are imported when the first mail is rendered, not by planning
    import css_inline
    import jinja2

__all__ = [
    "Digest",
    "DigestItem",
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


def matches(subscriber: SubscriberConfig, release: Release) -> bool:
    """Whether ``release`` belongs in this subscriber's digests (rule in the module docstring)."""
    text = normalize_text(f"{release.title}\n{release.body}")
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


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _context(
    digest: Digest, theme_names: Mapping[str, str], unsubscribe: UnsubscribeLinks
) -> dict[str, object]:
    groups = sections(digest, theme_names)
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
    template = _environment().get_template("digest.txt")
    return template.render(_context(digest, theme_names, unsubscribe))


def render_html(
    digest: Digest, *, theme_names: Mapping[str, str], unsubscribe: UnsubscribeLinks
) -> str:
    """The text/html part, from ``templates/digest.html``, with its CSS inlined for mail clients."""
    template = _environment().get_template("digest.html")
    return _inliner().inline(template.render(_context(digest, theme_names, unsubscribe)))


# --- the message -------------------------------------------------------------------------------


def _period(digest: Digest) -> str:
    """``2026-11-27`` from a daily key (already in the subscriber's zone), the label of a weekly
    one (``23–30 Nov 2026``: the days covered, not the ISO week the key names), else the creation
    date in the subscriber's zone — the date the body shows."""
    if digest.key.startswith("weekly:"):
        return digest.label
    suffix = digest.key.rpartition(":")[2]
    return suffix if _PERIOD.match(suffix) else digest.local_time().date().isoformat()


def subject_for(digest: Digest, theme_names: Mapping[str, str], prefix: str) -> str:
    """``MOFA digest: 3 releases — North Korea, Sanctions (2026-11-27)``; one release: its title."""
    names = [s.name for s in sections(digest, theme_names) if s.theme_id != OTHER]
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
    """The complete mail for one subscriber: headers, text part, and HTML unless ``format="text"``."""
    if digest.created_at.tzinfo is None:
        raise ValueError("Digest.created_at must be timezone-aware")
    links = unsubscribe_links(
        mail.from_, digest.subscriber_email, url=mail.unsubscribe_url, secret=unsubscribe_secret
    )
    msg = EmailMessage(policy=MAIL_POLICY)
    set_mailbox_header(msg, "From", mail.from_)
    msg.set_raw("To", mailbox_value(digest.subscriber_name, digest.subscriber_email, header="To"))
    set_text_header(
        msg, "Subject", subject_for(digest, theme_names, safe_header_text(mail.subject_prefix, 60))
    )
    msg["Date"] = format_datetime(digest.created_at)
    msg["Message-ID"] = _message_id(digest.message_id)
    msg.set_raw("List-Unsubscribe", links.header())
    if links.https:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-MOFA-Digest"] = safe_header_text(digest.key, 100)
    msg.set_content(render_text(digest, theme_names=theme_names, unsubscribe=links))
    if format == "html":
        html = render_html(digest, theme_names=theme_names, unsubscribe=links)
        msg.add_alternative(html, subtype="html")
    elif format != "text":
        raise ValueError(f"unknown digest format {format!r}; use 'html' or 'text'")
    return msg


def sample_digest(now: dt.datetime, timezone: str = "UTC") -> Digest:
    """A made-up digest for ``send-test``, marked as a test: every theme, an update, an
    attachment, hostile text (see :mod:`monitor.render.sample`)."""
    # Imported here because the sample module builds Digest objects from this one.
    from monitor.render.sample import build_sample_digest

    return build_sample_digest(now, timezone)
