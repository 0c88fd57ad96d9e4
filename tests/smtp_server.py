"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), with the misbehaviours we must survive.

Reusable by any test: ``with running_smtp_server(...) as server:`` or the fixtures at the end
(imported into ``conftest.py``). ``server.received`` holds every accepted message, parsed, with
its envelope; ``server.messages_to(addr)`` and ``server.wait_for(n)`` make assertions short.

Variants: ``tls="starttls"`` or ``"ssl"`` (certificate for 127.0.0.1 signed by the test-only CA in
``tests/data/tls/``), ``users={"name": "password"}`` for AUTH (``auth_exclude=("PLAIN",)``
to leave only LOGIN, ``auth_echo=True`` to quote refused credentials back), ``replies={"rcpt": "550 5.1.1 ..."}``
to refuse chosen recipients, ``drop_after=N`` to cut the connection after every N accepted
messages, ``drop_on_mail=N`` to cut it on the next N ``MAIL`` commands, ``drop_on_data`` to cut it
instead of answering the message data, ``final_reply_delay=S`` to store the message at once
but answer the end of its data only S seconds later (a slow relay: the client may give up first),
``mail_reply="530 ..."`` to refuse every sender, ``data_reply="554 ..."`` every message,
``offer_8bitmime=False`` to leave 8BITMIME out of the EHLO reply and ``strict_7bit=True`` to
refuse with 554 any message data holding a byte above 127 not announced with ``BODY=8BITMIME``
(RFC 6152 §3) — the relays that made undeclared 8-bit digests fail for good.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

TLS_DIR = Path(__file__).parent / "data" / "tls"
TEST_CA = TLS_DIR / "ca.pem"
HOST = "127.0.0.1"


def free_port() -> int:
    """A port nobody listens on right now (aiosmtpd's ``port=0`` does not work)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS_DIR / "server.pem", TLS_DIR / "server.key")
    return context


@dataclass(frozen=True)
class ReceivedMessage:
    """One accepted message: envelope, raw bytes and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    message: EmailMessage
    login: str | None
    connection: int  # which TCP connection carried it, counting from 1

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else str(value)


@dataclass
class RecordingHandler:
    """aiosmtpd handler: stores messages, refuses chosen recipients, drops connections on cue."""

    replies: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None
    drop_on_data: bool = False
    drop_on_mail: int = 0  # cut the line on this many MAIL commands (before any data)
    mail_reply: str | None = None  # answer every MAIL FROM with this (e.g. "530 5.7.0 ...")
    data_reply: str | None = None  # answer every message's data with this (e.g. "554 ...")
    final_reply_delay: float = 0.0  # seconds between storing a message and saying 250
    offer_8bitmime: bool = True
    strict_7bit: bool = False
    refused: list[str] = field(default_factory=list)  # the replies of refused message data
    received: list[ReceivedMessage] = field(default_factory=list)
    connections: int = 0
    noops: int = 0  # NOOP commands received
    mail_421_after: int | None = None  # after this many messages on a connection, 421 to MAIL
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Session, envelope: Envelope, hostname: str, responses: list
    ) -> list:
        session.host_name = hostname
        if not getattr(session, "counted", False):
            session.counted = True  # type: ignore[attr-defined]
            with self._lock:
                self.connections += 1
            session.number = self.connections  # type: ignore[attr-defined]
        if not self.offer_8bitmime:
            responses = [line for line in responses if "8BITMIME" not in line.upper()]
        return responses

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if self.drop_on_mail > 0:
            self.drop_on_mail -= 1
            server.transport.abort()
        self._hang_up_if_done(server, session)
        if (
            self.mail_421_after is not None
            and getattr(session, "accepted", 0) >= self.mail_421_after
        ):
            return "421 4.4.2 idle too long, closing connection"
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        reply = self.replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.drop_on_data:
            server.transport.abort()
            return "250 OK"  # never reaches the client
        raw = envelope.original_content or b""
        if self.data_reply:
            self.refused.append(self.data_reply)
            return self.data_reply
        declared = any(o.upper() == "BODY=8BITMIME" for o in envelope.mail_options)
        if self.strict_7bit and not declared and any(byte > 127 for byte in raw):
            reply = "554 5.6.1 8-bit message data without BODY=8BITMIME"
            self.refused.append(reply)
            return reply
        auth = session.auth_data
        self.received.append(
            ReceivedMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=raw,
                message=BytesParser(policy=default).parsebytes(raw),  # type: ignore[arg-type]
                login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
                connection=getattr(session, "number", 0),
            )
        )
        session.accepted = getattr(session, "accepted", 0) + 1  # type: ignore[attr-defined]
        if self.final_reply_delay:
            await asyncio.sleep(self.final_reply_delay)  # stored already: only the reply is late
        return "250 OK: queued"

    def _hang_up_if_done(self, server: Any, session: Session) -> bool:
        """After ``drop_after`` messages on a connection, the next command finds it closed."""
        if self.drop_after and getattr(session, "accepted", 0) >= self.drop_after:
            server.transport.abort()
            return True
        return False

    async def handle_NOOP(self, server: Any, session: Session, envelope: Envelope, arg: str) -> str:
        with self._lock:
            self.noops += 1
        self._hang_up_if_done(server, session)
        return "250 OK"


def _authenticator(users: dict[str, str], echo: bool = False) -> Callable[..., AuthResult]:
    """Check logins against ``users``; with ``echo`` a refusal quotes the credentials back, as
    careless servers do, to prove the client never repeats them."""

    def check(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any):
        ok = (
            isinstance(data, LoginPassword)
            and users.get(data.login.decode()) == data.password.decode()
        )
        message = None
        if echo and not ok and isinstance(data, LoginPassword):
            message = f"535 5.7.8 bad credentials {data.login.decode()}:{data.password.decode()}"
        return AuthResult(
            success=ok, handled=False, auth_data=data if ok else None, message=message
        )

    return check


@dataclass
class SmtpTestServer:
    """A running server: where it listens and what it received."""

    host: str
    port: int
    handler: RecordingHandler
    ca_file: Path = TEST_CA

    @property
    def received(self) -> list[ReceivedMessage]:
        return self.handler.received

    @property
    def connections(self) -> int:
        return self.handler.connections

    def messages_to(self, address: str) -> list[ReceivedMessage]:
        return [m for m in self.received if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.received


@contextmanager
def running_smtp_server(
    *,
    tls: Literal["none", "starttls", "ssl"] = "none",
    users: dict[str, str] | None = None,
    auth_echo: bool = False,
    auth_exclude: tuple[str, ...] = (),
    replies: dict[str, str] | None = None,
    drop_after: int | None = None,
    drop_on_data: bool = False,
    drop_on_mail: int = 0,
    mail_reply: str | None = None,
    data_reply: str | None = None,
    final_reply_delay: float = 0.0,
    offer_8bitmime: bool = True,
    strict_7bit: bool = False,
    mail_421_after: int | None = None,
) -> Iterator[SmtpTestServer]:
    """Start an aiosmtpd server on 127.0.0.1 with the chosen behaviour; stop it afterwards."""
    handler = RecordingHandler(
        replies={k.lower(): v for k, v in (replies or {}).items()},
        drop_after=drop_after,
        drop_on_data=drop_on_data,
        drop_on_mail=drop_on_mail,
        mail_reply=mail_reply,
        data_reply=data_reply,
        final_reply_delay=final_reply_delay,
        offer_8bitmime=offer_8bitmime,
        strict_7bit=strict_7bit,
        mail_421_after=mail_421_after,
    )
    kwargs: dict[str, Any] = {}
    if tls == "starttls":
        kwargs.update(tls_context=server_tls_context(), require_starttls=True)
    if tls == "ssl":
        kwargs["ssl_context"] = server_tls_context()
    if users is not None:
        kwargs.update(authenticator=_authenticator(users, auth_echo), auth_required=True)
        if auth_exclude:  # e.g. ("PLAIN",) to make clients use LOGIN
            kwargs["auth_exclude_mechanism"] = list(auth_exclude)
        # Plain-text AUTH is allowed only on the plain variant, to test AUTH alone.
        kwargs["auth_require_tls"] = tls == "starttls"
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port, **kwargs)
    controller.start()
    try:
        yield SmtpTestServer(HOST, port, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    """A plain SMTP server on 127.0.0.1 that accepts everything."""
    with running_smtp_server() as server:
        yield server


@pytest.fixture
def smtp_server_factory() -> Iterator[Callable[..., SmtpTestServer]]:
    """Start servers with options (see :func:`running_smtp_server`); all stop after the test."""
    with ExitStack() as stack:
        yield lambda **options: stack.enter_context(running_smtp_server(**options))
