"""Header hygiene and unsubscribe links: the parts of a digest mail that face mail servers.

Scraped text reaches headers (a release title becomes a Subject), so everything that goes into a
header passes :func:`safe_header_text` first: a CR/LF in a title must never become a ``Bcc:``.
Unsubscribe links carry an HMAC token that encodes the address, so a one-click endpoint can
verify a request without a database lookup and nobody can unsubscribe someone else.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import itertools
import logging
import re
from dataclasses import dataclass
from email.charset import Charset
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote, urlsplit

from monitor import text as chars

logger = logging.getLogger(__name__)

# Bidi marks/embeddings/overrides/isolates and invisible format characters: unseen, and able to
# make a Subject read differently from what it says ("Trojan Source"-style reordering).
_BIDI_AND_INVISIBLE = chars.char_class(chars.INVISIBLE | chars.BIDI_CONTROLS)
_WHITESPACE = re.compile(r"\s+")
# Category Cc is exactly C0, DEL and C1 (the Unicode character database): one regex, not a loop.
_CONTROLS = chars.char_class(chars.C0_C1 - {0x09})
_CONTROLS_BUT_NEWLINE = chars.char_class(chars.C0_C1 - {0x09, 0x0A})
_SURROGATE = chars.char_class(chars.SURROGATES)
_TOKEN_CONTEXT = b"mofa-monitor unsubscribe v1\x00"

# What may stand unencoded in a URI's path or query (RFC 3986 §3.3/§3.4: unreserved, sub-delims,
# ":" "@", and "%" of an escape already made) — less the comma, which RFC 2369 §2 says MUST be
# encoded in a List-Unsubscribe URI, since commas separate the URIs of that header.
_PATH_SAFE = "/:@!$&'()*+;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
_LONE_PERCENT = re.compile("%(?![0-9A-Fa-f]{2})")

# Headers set as objects fold as usual; raw values we fold ourselves (List-Unsubscribe, and every
# header holding text from outside: see set_text_header) are kept as built. ``cte_type="7bit"``
# makes every body part quoted-printable or base64 when it is not plain ASCII, so the message is
# acceptable to a relay that does not offer 8BITMIME (RFC 6152) without declaring anything.
MAIL_POLICY = default.clone(refold_source="none", cte_type="7bit")

# RFC 2047 §2: an encoded word is at most 75 characters, a line holding one at most 76.
_ENCODED_WORD_MAX = 75
_ENCODED_LINE_MAX = 76
_PLAIN_LINE_MAX = 78  # RFC 5322 §2.1.1's recommended line length
_UTF8 = Charset("utf-8")
# An addr-spec whose local part and domain are dot-atoms (RFC 5322 §3.2.3, §3.4.1) of ASCII
# atext, the domain of letters, digits and hyphens: always valid, so it needs no full parse.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM_ADDRESS = re.compile(
    rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\Z"
)


def strip_controls(text: str, *, keep_newlines: bool = False) -> str:
    """Remove control characters (Unicode category Cc) and bidi/invisible format characters.

    Lone surrogates (category Cs, which no UTF-8 mail can carry) become U+FFFD. A CR becomes a
    line break, so no bare CR survives into a mail body. Every other control character but tab
    (and newline with ``keep_newlines``) becomes a space.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _BIDI_AND_INVISIBLE.sub("", text)
    text = (_CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS).sub(" ", text)
    return _SURROGATE.sub("\ufffd", text)


def safe_header_text(text: str, limit: int = 200) -> str:
    """One clean header line: no CR/LF or control characters, whitespace collapsed, capped with "…".

    Non-ASCII text is kept as is; :mod:`email` encodes it per RFC 2047 when the message is
    serialised, so a Korean title survives the trip.
    """
    line = _WHITESPACE.sub(" ", strip_controls(text)).strip()
    if len(line) <= limit:
        return line
    return line[: max(limit - 1, 0)].rstrip() + "…"


def _plain_word(word: str) -> bool:
    """A word that may stand in a header as is: printable ASCII that no reader can take for an
    RFC 2047 encoded word (which starts with ``=?``)."""
    return word.isascii() and word.isprintable() and "=?" not in word


def header_value(text: str, *, name: str) -> str:
    """The folded raw value of an unstructured header (RFC 5322 §2.2.3) holding ``text`` exactly.

    ``text`` is one clean line (see :func:`safe_header_text`). The leading run of plain ASCII
    words stays readable; from the first word that is not plain (non-ASCII, or text that looks
    like an encoded word such as ``=?utf-8?q?=0D=0A?=``) the rest is RFC 2047 encoded as UTF-8,
    so a reader decodes exactly ``text`` and never header syntax hidden in it. Encoded words
    hold whole characters and at most 75 characters, each on a line of at most 76 (RFC 2047 §2);
    the space between two encoded words is inside them, since decoders drop the space between
    adjacent encoded words (RFC 2047 §6.2). Lines join with ``"\n "``: set the value with
    ``EmailMessage.set_raw`` under :data:`MAIL_POLICY`, which writes the folds as they are.
    """
    words = text.split(" ")
    cut = next((i for i, word in enumerate(words) if not _plain_word(word)), len(words))
    lines: list[str] = []
    line = f"{name}:"
    for word in words[:cut]:
        if len(line) + 1 + len(word) > _PLAIN_LINE_MAX and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + word
    rest = " ".join(words[cut:])
    if rest:
        room = _ENCODED_LINE_MAX - len(line) - 1
        if room < 30:  # too little room for an encoded word of any character: a new line
            lines.append(line)
            line, room = "", _ENCODED_LINE_MAX - 1
        encoded = _UTF8.header_encode_lines(
            rest, itertools.chain([min(room, _ENCODED_WORD_MAX)], itertools.repeat(72))
        )
        for number, encoded_word in enumerate(encoded):
            if number:
                lines.append(line)
                line = ""
            line += " " + (encoded_word or "")  # typeshed allows None; the encoder yields none
    lines.append(line)
    return "\n".join(lines)[len(name) + 2 :]


def set_text_header(message: EmailMessage, name: str, text: str, limit: int = 200) -> None:
    """Set header ``name`` to ``text`` cleaned by :func:`safe_header_text` and encoded by
    :func:`header_value`: the one way outside text (titles, error messages) enters a header.

    Setting ``message[name] = text`` instead would let :mod:`email` parse ``text`` as header
    syntax and decode any encoded word in it, CR/LF included — a header injection.
    """
    message.set_raw(name, header_value(safe_header_text(text, limit), name=name))


def mailbox_value(name: str | None, addr_spec: str, *, header: str) -> str:
    """The raw value of an address header (``To``, ``From``) for one mailbox, built here.

    :mod:`email` decodes encoded words in a display name while folding, so a name such as
    ``Desk =?utf-8?q?=0D=0ABcc:_x@evil.example?=`` would write a ``Bcc:`` field even through a
    :class:`~email.headerregistry.Address`. So the name is cleaned by :func:`safe_header_text`,
    then written as a quoted-string when it is plain ASCII, or else as one UTF-8 encoded word
    (allowed in a display name's phrase, RFC 2047 §5(3); :mod:`email.charset` uses only the
    characters that section allows), shortened with "…" to fit one. Raises ValueError for an
    address no header can hold.
    """
    if not plain_address(addr_spec):  # the common form needs no full parse
        Address(addr_spec=addr_spec)  # e.g. "a..b@example.org": ValueError
        if not addr_spec.isascii() or any(ch in addr_spec for ch in "<>\r\n \t"):
            raise ValueError(f"{addr_spec!r} cannot stand in a mail header without SMTPUTF8")
    clean = safe_header_text(name or "", 80)
    if not clean:
        return addr_spec
    if all(_plain_word(word) for word in clean.split(" ")):
        quoted = clean.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{addr_spec}>'
    # One encoded word: readers such as Python's own keep the folding space between two encoded
    # words of a display name (RFC 2047 §6.2 says to drop it), so a longer name is shortened.
    room = min(_ENCODED_LINE_MAX - len(header) - 2, _ENCODED_WORD_MAX)
    while len(words := _UTF8.header_encode_lines(clean, itertools.repeat(room))) > 1:
        clean = clean[: max(len(clean) - 2, 1)].rstrip() + "…"
    return f"{words[0]}\n <{addr_spec}>"


def plain_address(addr_spec: str) -> bool:
    """Whether ``addr_spec`` is local-part@domain of plain ASCII dot-atoms (RFC 5322 §3.4.1):
    valid as it is, and written as it is in a header or an SMTP command."""
    return _DOT_ATOM_ADDRESS.match(addr_spec) is not None


def set_mailbox_header(message: EmailMessage, name: str, mailbox: str) -> None:
    """Set ``name`` to ``"Display Name <addr>"`` or ``addr`` via :func:`mailbox_value`."""
    display, addr = parseaddr(mailbox)
    if not addr:
        raise ValueError(f"{mailbox!r} is not a mailbox")
    message.set_raw(name, mailbox_value(display, addr, header=name))


def address_of(mailbox: str) -> str:
    """The bare address of ``"Name <addr>"`` or ``"addr"``."""
    return parseaddr(mailbox)[1]


@functools.lru_cache(maxsize=16)
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


def _uri_part(text: str, safe: str) -> str:
    return quote(_LONE_PERCENT.sub("%25", text), safe=safe)


@functools.cache
def _http_url() -> Any:
    """pydantic's WHATWG URL type (host IDNA), built on first use: an idle poll sends nothing."""
    from pydantic import AnyHttpUrl, TypeAdapter

    return TypeAdapter(AnyHttpUrl)


def header_uri(url: str) -> str:
    """``url`` as a 7-bit URI that can stand in angle brackets in a header (RFC 2369 §2, RFC 3986).

    The host becomes its IDNA A-label (``구독.example.kr`` → ``xn--2e0bk4j.example.kr``, UTS #46
    as the WHATWG URL standard applies it); path, query and fragment are percent-encoded as
    UTF-8 wherever RFC 3986 allows no literal character (non-ASCII, space, ``<>"{}|\\^```),
    plus every comma (RFC 2369 §2); escapes already made (``%2F``) stay, a lone ``%`` becomes
    ``%25``. Raises ValueError for a string that is not an absolute http(s) URL.
    """
    from pydantic import ValidationError

    try:
        host = _http_url().validate_python(url).host
    except ValidationError as exc:
        raise ValueError(f"{url!r} is not an http(s) URL") from exc
    parts = urlsplit(url)
    if not host:
        raise ValueError(f"{url!r} has no host")
    netloc = host if ":" not in host or host.startswith("[") else f"[{host}]"
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    uri = f"{parts.scheme.lower()}://{netloc}{_uri_part(parts.path or '/', _PATH_SAFE)}"
    if parts.query or url.rstrip("#").endswith("?"):
        uri += "?" + _uri_part(parts.query, _QUERY_SAFE)
    if parts.fragment:
        uri += "#" + _uri_part(parts.fragment, _QUERY_SAFE)
    return uri


def with_query_parameter(url: str, name: str, value: str) -> str:
    """``url`` (made by :func:`header_uri`) with ``name=value`` appended to its query, before any
    fragment: a fragment never reaches the server (RFC 3986 §3.5), so a token after ``#``
    would be lost. ``name`` and ``value`` are percent-encoded."""
    base, hash_, fragment = url.partition("#")
    pair = f"{quote(name, safe='')}={quote(value, safe='')}"
    if "?" not in base:
        joined = f"{base}?{pair}"
    elif base.endswith(("?", "&")):
        joined = base + pair
    else:
        joined = f"{base}&{pair}"
    return joined + hash_ + fragment


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
    appears only when both ``[mail] unsubscribe_url`` and the secret are set; the URL is made
    7-bit by :func:`header_uri` and the token goes into its query, before any fragment. Raises
    ValueError when ``url`` is not an http(s) URL.
    """
    sender, manage = _sender_and_manage(from_mailbox)
    mailto = f"mailto:{sender}?subject={quote('unsubscribe ' + subscriber_email, safe='')}"
    https = None
    if url and secret:
        token = make_unsubscribe_token(secret, subscriber_email)
        https = with_query_parameter(_header_uri_cached(url), "token", token)
    elif url:
        logger.warning("unsubscribe_url is set but no secret is available; sending mailto only")
    return UnsubscribeLinks(mailto=mailto, https=https, manage=manage)


@functools.lru_cache(maxsize=16)
def _sender_and_manage(from_mailbox: str) -> tuple[str, str]:
    """The bare sender address and the "how to change a subscription" sentence (per config)."""
    sender = address_of(from_mailbox)
    manage = (
        f"To change your themes, keywords or frequency, write to {sender}; "
        "subscriptions are kept in the monitor's configuration."
    )
    return sender, manage


@functools.lru_cache(maxsize=16)
def _header_uri_cached(url: str) -> str:
    """:func:`header_uri` of the configured unsubscribe URL, computed once per URL."""
    return header_uri(url)


def message_id_field(value: str, *, linesep: str = "\n") -> bytes:
    """The ``Message-ID`` field, as :data:`MAIL_POLICY` writes ``message["Message-ID"] = value``
    (RFC 5322 §3.6.4), ending with ``linesep``.

    A plain ``<id-left@id-right>`` of dot-atoms that fits one line (78 characters, RFC 5322
    §2.1.1) is written as is — what the header registry writes for it, without parsing; any
    other value goes through the header registry and the policy's folding. Raises
    UnicodeEncodeError when the folded field is not ASCII, as serialising the message would.
    """
    if len(value) <= _PLAIN_LINE_MAX - len("Message-ID: ") and _PLAIN_MESSAGE_ID.match(value):
        return f"Message-ID: {value}{linesep}".encode("ascii")
    policy = MAIL_POLICY.clone(linesep=linesep)
    name, header = policy.header_store_parse("Message-ID", value)
    return policy.fold_binary(name, header)


_PLAIN_MESSAGE_ID = re.compile(
    r"<[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*>\Z"
)


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """A message already serialised to bytes, with its SMTP envelope (RFC 5321 §2.3.1).

    ``data`` is the whole message, headers and body, 7-bit, every line ending with ``linesep``
    (``"\n"`` as a Maildir file holds it, ``"\r\n"`` as SMTP sends it). Transports write or
    send these bytes as they are, converting line ends only when their own differ.
    """

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    linesep: str = "\n"

    def with_linesep(self, linesep: str) -> bytes:
        """``data`` with every line ending in ``linesep``."""
        if linesep == self.linesep:
            return self.data
        return self.data.replace(self.linesep.encode("ascii"), linesep.encode("ascii"))
