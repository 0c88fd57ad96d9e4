"""The unsubscribe endpoint behind ``/unsubscribe``: the links in digests land here.

A GET only shows a confirmation page with a button, because mail scanners follow links; the POST
(the button, or an RFC 8058 one-click request from a mail client) suppresses the address.
Suppressions live in the database and win over the config. :class:`monitor.ops.health.HealthHandler`
routes the requests here and sends the ``(status, body, content type)`` answers.
"""

from __future__ import annotations

import html
import logging
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs

from monitor.clock import Clock, system_clock
from monitor.config import Config
from monitor.deliver.mailmessage import verify_unsubscribe_token
from monitor.plan.outbox import unsubscribe_secret
from monitor.store.sqlite import Store

log = logging.getLogger(__name__)

#: An answer: HTTP status, body, Content-Type.
Answer = tuple[int, bytes, str]

_HTML = "text/html; charset=utf-8"
_INVALID: Answer = (400, b"invalid or missing unsubscribe token\n", "text/plain; charset=utf-8")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>{title}</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:3em auto">
<h1>{title}</h1>
{body}
</body></html>
"""

_CONFIRM = """<p>Stop sending MOFA Monitor digests to <strong>{email}</strong>?</p>
<form method="post">
<input type="hidden" name="t" value="{token}">
<button type="submit">Unsubscribe</button>
</form>
<p>Nothing changes until you press the button.</p>"""


def page(title: str, body_html: str) -> bytes:
    """A minimal HTML page; ``title`` is escaped here, ``body_html`` must be escaped already."""
    return _PAGE.format(title=html.escape(title), body=body_html).encode()


def unsubscribe_token(query: str, form: dict[str, list[str]]) -> str | None:
    """The token from the form (``t``) or the URL (``t``; ``token`` as digests link it)."""
    params = parse_qs(query)
    for source in (form, params):
        for name in ("t", "token"):
            if source.get(name):
                return source[name][0]
    return None


def _verified(config: Config, token: str | None, clock: Clock) -> tuple[str | None, Store]:
    store = Store.in_dir(config.state_dir, clock=clock)
    secret = unsubscribe_secret(config, store)
    return (verify_unsubscribe_token(secret, token) if token else None), store


def confirmation(config: Config, query: str, clock: Clock = system_clock) -> Answer:
    """GET: the confirmation page for the address the token names; 400 for a bad token."""
    token = unsubscribe_token(query, {})
    email, store = _verified(config, token, clock)
    store.close()
    if email is None:
        return _INVALID
    body = _CONFIRM.format(email=html.escape(email), token=html.escape(token or ""))
    return 200, page("Unsubscribe", body), _HTML


_NEITHER: Answer = (
    400,
    page(
        "Not unsubscribed",
        "<p>Nothing was changed. To unsubscribe, open the link from the digest and press the "
        "button, or let your mail client send its one-click request (RFC 8058).</p>",
    ),
    _HTML,
)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def parse_form(content_type: str | None, body: bytes) -> dict[str, list[str]] | None:
    """The fields of a POST body, or None when it is no HTML form.

    RFC 8058 §3.1: a one-click request is ``application/x-www-form-urlencoded`` or
    ``multipart/form-data``; a body without a Content-Type is read as the former (what a
    browser's form sends). Any other type (JSON, text) is no form.
    """
    ctype = (content_type or "application/x-www-form-urlencoded").split(";")[0].strip().lower()
    if ctype not in _FORM_TYPES:
        return None
    if ctype == "application/x-www-form-urlencoded":
        return parse_qs(body.decode("utf-8", "replace"))
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    form: dict[str, list[str]] = {}
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            form.setdefault(name, []).append(payload.decode("utf-8", "replace"))
    return form


def how_requested(form: dict[str, list[str]] | None) -> str | None:
    """How a POST asks to unsubscribe: ``"one-click"`` (RFC 8058 §3.1, the body
    ``List-Unsubscribe=One-Click``), ``"confirmation page"`` (the button's field ``t``), or
    None when it is neither — an empty, JSON or other body unsubscribes nobody."""
    if form is None:
        return None
    if form.get("List-Unsubscribe") == ["One-Click"]:
        return "one-click"
    if form.get("t"):
        return "confirmation page"
    return None


def submission(
    config: Config, query: str, form: dict[str, list[str]] | None, clock: Clock = system_clock
) -> Answer:
    """POST: suppress the address the token names (idempotent); 400 for a bad token, and 400
    with a page saying nothing changed when the body is neither the button's form nor a
    one-click request (see :func:`how_requested`). The recorded "how" is what happened."""
    how = how_requested(form)
    if how is None:
        return _NEITHER
    assert form is not None
    email, store = _verified(config, unsubscribe_token(query, form), clock)
    try:
        if email is None:
            return _INVALID
        if store.suppress(email, how):
            log.info("unsubscribed %s via the unsubscribe endpoint (%s)", email, how)
    finally:
        store.close()
    body = f"<p>{html.escape(email)} will receive no more digests.</p>"
    return 200, page("Unsubscribed", body), _HTML
