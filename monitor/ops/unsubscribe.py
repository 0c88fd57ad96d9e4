"""The unsubscribe endpoint behind ``/unsubscribe``: the links in digests land here.

A GET only shows a confirmation page with a button, because mail scanners follow links; the POST
(the button, or an RFC 8058 one-click request from a mail client) suppresses the address.
Suppressions live in the database and win over the config. :class:`monitor.ops.health.HealthHandler`
routes the requests here and sends the ``(status, body, content type)`` answers.
"""

from __future__ import annotations

import html
import logging
from urllib.parse import parse_qs

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


def _verified(config: Config, token: str | None) -> tuple[str | None, Store]:
    store = Store.in_dir(config.state_dir)
    secret = unsubscribe_secret(config, store)
    return (verify_unsubscribe_token(secret, token) if token else None), store


def confirmation(config: Config, query: str) -> Answer:
    """GET: the confirmation page for the address the token names; 400 for a bad token."""
    token = unsubscribe_token(query, {})
    email, store = _verified(config, token)
    store.close()
    if email is None:
        return _INVALID
    body = _CONFIRM.format(email=html.escape(email), token=html.escape(token or ""))
    return 200, page("Unsubscribe", body), _HTML


def submission(config: Config, query: str, form: dict[str, list[str]]) -> Answer:
    """POST: suppress the address the token names (idempotent); 400 for a bad token."""
    # RFC 8058 §3.1: a mail client's one-click POST carries "List-Unsubscribe=One-Click".
    how = "one-click" if form.get("List-Unsubscribe") == ["One-Click"] else "confirmation page"
    email, store = _verified(config, unsubscribe_token(query, form))
    try:
        if email is None:
            return _INVALID
        if store.suppress(email, how):
            log.info("unsubscribed %s via the unsubscribe endpoint (%s)", email, how)
    finally:
        store.close()
    body = f"<p>{html.escape(email)} will receive no more digests.</p>"
    return 200, page("Unsubscribed", body), _HTML
