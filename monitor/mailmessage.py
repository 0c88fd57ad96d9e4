"""Header hygiene and unsubscribe links: the parts of a digest mail that face mail servers.

Scraped text reaches headers (a release title becomes a Subject), so everything that goes into a
header passes :func:`safe_header_text` first: a CR/LF in a title must never become a ``Bcc:``.
Unsubscribe links carry an HMAC token that encodes the address, so a one-click endpoint can
verify a request without a database lookup and nobody can unsubscribe someone else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import unicodedata
from dataclasses import dataclass
from email.policy import default
from email.utils import parseaddr
from urllib.parse import quote

logger = logging.getLogger(__name__)

# Bidi embeddings/overrides/isolates and zero-width joiners: invisible, and able to make a
# Subject read differently from what it says ("Trojan Source"-style reordering).
_BIDI_AND_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_WHITESPACE = re.compile(r"\s+")
_TOKEN_CONTEXT = b"mofa-monitor unsubscribe v1\x00"

# Headers set as objects fold as usual; raw values we fold ourselves (List-Unsubscribe) are kept.
MAIL_POLICY = default.clone(refold_source="none")


def strip_controls(text: str, *, keep_newlines: bool = False) -> str:
    """Remove control characters (Unicode category Cc) and bidi/invisible format characters."""
    kept = "\n" if keep_newlines else ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _BIDI_AND_INVISIBLE.sub("", text)
    return "".join(
        ch if ch in kept or ch == "\t" or unicodedata.category(ch) != "Cc" else " " for ch in text
    )


def safe_header_text(text: str, limit: int = 200) -> str:
    """One clean header line: no CR/LF or control characters, whitespace collapsed, capped with "…".

    Non-ASCII text is kept as is; :mod:`email` encodes it per RFC 2047 when the message is
    serialised, so a Korean title survives the trip.
    """
    line = _WHITESPACE.sub(" ", strip_controls(text)).strip()
    if len(line) <= limit:
        return line
    return line[: max(limit - 1, 0)].rstrip() + "…"


def address_of(mailbox: str) -> str:
    """The bare address of ``"Name <addr>"`` or ``"addr"``."""
    return parseaddr(mailbox)[1]


def mail_domain(mailbox: str) -> str:
    """The domain of a mailbox, for Message-IDs; ``mofa-monitor.invalid`` when it has none."""
    return address_of(mailbox).rpartition("@")[2] or "mofa-monitor.invalid"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, email: str) -> bytes:
    return hmac.new(secret, _TOKEN_CONTEXT + email.encode("utf-8"), hashlib.sha256).digest()


def make_unsubscribe_token(secret: bytes, email: str) -> str:
    """``<base64url(address)>.<base64url(HMAC-SHA256)>``: the address travels in the token."""
    if not secret:
        raise ValueError("the unsubscribe secret must not be empty")
    return f"{_b64(email.encode('utf-8'))}.{_b64(_signature(secret, email))}"


def verify_unsubscribe_token(secret: bytes, token: str) -> str | None:
    """The address a token was made for, or None when it is malformed or not ours."""
    if not secret or not isinstance(token, str) or token.count(".") != 1:
        return None
    encoded_email, encoded_sig = token.split(".")
    try:
        email = _unb64(encoded_email).decode("utf-8")
        signature = _unb64(encoded_sig)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(signature, _signature(secret, email)):
        return None
    return email


@dataclass(frozen=True, slots=True)
class UnsubscribeLinks:
    """Where a reader goes to stop the mail: always a ``mailto:``, an https link when configured.

    ``manage`` says, in one sentence, how to change (not end) a subscription.
    """

    mailto: str
    https: str | None = None
    manage: str = ""

    def header(self) -> str:
        """The ``List-Unsubscribe`` value (RFC 2369): https first, as RFC 8058 clients prefer.

        Folded by hand after each comma: set it with ``set_raw`` under :data:`MAIL_POLICY`,
        because :mod:`email` would otherwise RFC 2047-encode the long URL, which clients cannot
        follow.
        """
        links = [self.https] if self.https else []
        return ",\n ".join(f"<{link}>" for link in [*links, self.mailto])


def unsubscribe_links(
    from_mailbox: str, subscriber_email: str, *, url: str | None, secret: bytes | None
) -> UnsubscribeLinks:
    """Build the links for one subscriber.

    The ``mailto:`` goes to the From address with subject ``unsubscribe <address>`` so the
    operator (or a mail filter) sees who asked. The https link is ``<url>?token=<token>`` and
    appears only when both ``[mail] unsubscribe_url`` and the secret are set.
    """
    sender = address_of(from_mailbox)
    mailto = f"mailto:{sender}?subject={quote('unsubscribe ' + subscriber_email, safe='')}"
    https = None
    if url and secret:
        joiner = "&" if "?" in url else "?"
        https = f"{url}{joiner}token={make_unsubscribe_token(secret, subscriber_email)}"
    elif url:
        logger.warning("unsubscribe_url is set but no secret is available; sending mailto only")
    manage = (
        f"To change your themes, keywords or frequency, write to {sender}; "
        "subscriptions are kept in the monitor's configuration."
    )
    return UnsubscribeLinks(mailto=mailto, https=https, manage=manage)
