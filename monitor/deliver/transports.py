"""Transports that hand a finished digest mail to a Maildir or an SMTP server.

The outbox sender (``monitor/plan/outbox.py``) decides *what* to send and records the result; this
module only delivers one message and says, by exception type, whether trying again makes sense:
:class:`TemporaryDeliveryError` (4xx, network, TLS or login trouble — retry with backoff) or
:class:`PermanentDeliveryError` (a 5xx for this recipient or message — mark it failed, go on).

The Maildir transport is exactly-once: the file name is derived from the delivery key, so a
resend after a crash finds the earlier file (in ``new/``, or in ``cur/`` once a mail client has
seen it) and does nothing. SMTP cannot be exactly-once; we only retry a dropped connection
automatically when the drop happened before the message data was sent. Once the whole message
went out, the client waits for the final reply as long as RFC 5321 §4.5.3.2.6 asks (10 minutes)
and, if none comes, raises :class:`DeliveryUncertainError`: the server may have stored it.

Every body leaves 7-bit clean (:data:`monitor.deliver.mailmessage.MAIL_POLICY`), so no message needs
``BODY=8BITMIME`` (RFC 6152) and a relay that does not offer it takes every digest. AUTH sends
user name and password as UTF-8 (RFC 4616 for PLAIN, RFC 4954); no error message ever holds the
password or a character of it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import os
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from monitor.closing import Closing
from monitor.config import Config, SmtpConfig
from monitor.deliver.mailmessage import PreparedMessage, plain_address
from monitor.errors import (
    DeliveryAbandonedError,
    DeliveryError,
    DeliveryUncertainError,
    PermanentDeliveryError,
    RecipientRefusedError,
    TemporaryDeliveryError,
)

logger = logging.getLogger(__name__)

RECONNECT_PAUSE = 1.0  # seconds between a dropped connection and the new one
#: Seconds a connection may sit unused before the next message first checks it with NOOP.
IDLE_CHECK = 15.0
#: RFC 5321 §4.5.3.2.6: after the final "." the client waits at least 10 minutes for the reply.
FINAL_REPLY_TIMEOUT = 600.0
#: How often (seconds) a send in flight checks the stop event.
STOP_TICK = 0.05
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


@runtime_checkable
class Transport(Protocol):
    """Delivers one message per call; use as a context manager so connections are closed.

    A message is an :class:`~email.message.EmailMessage` (serialised by the transport) or a
    :class:`PreparedMessage`, already bytes with its envelope, sent as it is. ``linesep``, when
    a transport has it, is the line end it writes (``"\\n"`` for files, ``"\\r\\n"`` for
    SMTP): a message prepared with it needs no conversion.
    """

    def send(self, delivery_key: str, message: EmailMessage | PreparedMessage) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


# --- Maildir -----------------------------------------------------------------------------------


def maildir_name(delivery_key: str) -> str:
    """A file name that is the same for every attempt of one delivery, and safe on any disk.

    The hash keeps names unique whatever the key holds; the readable tail helps a person
    browsing the folder. No ``:`` — Maildir reserves it for the flags a client appends in ``cur/``.
    """
    digest = hashlib.sha256(delivery_key.encode("utf-8")).hexdigest()[:24]
    readable = _UNSAFE.sub("_", delivery_key).strip("._")[:80]
    return f"{digest}.{readable}.mofa" if readable else f"{digest}.mofa"


def _fsync_dir(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MaildirTransport(Closing):
    """Writes each delivery once into a Maildir (``tmp/`` → fsync → ``new/``)."""

    #: Maildir files hold mail with Unix line ends.
    linesep = "\n"
    #: Sending a delivered key again writes nothing (see :meth:`send`): the outbox may record a
    #: batch of sends in one transaction, since a crash before it only repeats no-ops.
    exactly_once = True

    def __init__(self, path: Path) -> None:
        """Creates ``tmp/``, ``new/`` and ``cur/`` if it can. A Maildir that cannot be used
        never fails here: each :meth:`send` then raises one clear
        :class:`TemporaryDeliveryError` (reported and retried)."""
        self.path = Path(path)
        self._tmp, self._new, self._cur = (
            os.path.join(self.path, s) for s in ("tmp", "new", "cur")
        )
        self._ready = False  # the folders were found or made since the last fault
        with contextlib.suppress(OSError):
            self._ensure_folders()

    def _ensure_folders(self) -> None:
        for sub in ("tmp", "new", "cur"):
            folder = self.path / sub
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
        self._ready = True

    def _fault(self, exc: OSError) -> TemporaryDeliveryError:
        what = exc.strerror or type(exc).__name__
        where = f" ({exc.filename})" if exc.filename else ""
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            what = "a file stands where a folder should be"
        return TemporaryDeliveryError(f"cannot write to the Maildir {self.path}: {what}{where}")

    def delivered(self, delivery_key: str) -> bool:
        """Whether this delivery is already in ``new/`` or, flagged by a client, in ``cur/``."""
        name = maildir_name(delivery_key)
        if os.path.exists(os.path.join(self._new, name)):
            return True
        with os.scandir(self._cur) as entries:
            # Clients rename "name" to "name:2,S" (or "name!2,S" on systems without ":").
            return any(
                e.name == name or e.name.startswith((name + ":", name + "!")) for e in entries
            )

    def send(self, delivery_key: str, message: EmailMessage | PreparedMessage) -> None:
        """Deliver unless already delivered; an interrupted earlier attempt is simply redone.

        The folders are checked (and made) once, and again whenever one is found missing or a
        send failed. Raises :class:`TemporaryDeliveryError` naming the fault (a file where a
        folder should be, a read-only or full disk, a permission) when the Maildir cannot take
        the message.
        """
        name = maildir_name(delivery_key)
        try:
            if not self._ready:
                self._ensure_folders()
            try:
                self._deliver(delivery_key, name, message)
            except FileNotFoundError:  # a folder was removed since it was checked
                self._ensure_folders()
                self._deliver(delivery_key, name, message)
        except OSError as exc:
            self._ready = False
            raise self._fault(exc) from exc

    def _deliver(
        self, delivery_key: str, name: str, message: EmailMessage | PreparedMessage
    ) -> None:
        if self.delivered(delivery_key):
            logger.info("maildir: %s already delivered, skipping", delivery_key)
            return
        if isinstance(message, PreparedMessage):
            data = message.with_linesep(self.linesep)
        else:  # the message's own policy keeps hand-folded headers (List-Unsubscribe)
            data = message.as_bytes()
        tmp, new = os.path.join(self._tmp, name), os.path.join(self._new, name)
        self._write_synced(tmp, data)
        self._publish(tmp, new)
        logger.info("maildir: delivered %s as %s", delivery_key, new)

    @staticmethod
    def _write_synced(path: str, data: bytes) -> None:
        with open(path, "wb") as handle:  # truncates a leftover from a crashed attempt
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def _publish(self, tmp: str, new: str) -> None:
        """Move into ``new/`` without ever replacing a file there, then make it durable."""
        try:
            os.link(tmp, new)  # fails if a concurrent sender got there first: still one file
        except FileExistsError:
            logger.info(
                "maildir: %s appeared meanwhile, keeping the first copy", os.path.basename(new)
            )
        except OSError:
            os.rename(tmp, new)  # filesystems without hard links
            _fsync_dir(self._new)
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        _fsync_dir(self._new)

    def close(self) -> None:
        """Nothing to release: files are complete when :meth:`send` returns."""


# --- SMTP --------------------------------------------------------------------------------------


class _Client:
    """What :mod:`smtplib` lacks: knowing how far the data got, RFC 5321's final-reply timeout,
    and UTF-8 credentials.

    ``data_started``: the DATA command was sent (a resend could duplicate from here on).
    ``data_sent``: the whole message and its final ``.`` went out; only the reply is missing.
    """

    data_started = False
    data_sent = False
    final_reply_timeout = FINAL_REPLY_TIMEOUT
    sock: socket.socket | None
    user: str
    password: str
    _auth_challenge_count: int

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        """:meth:`smtplib.SMTP.data`, with the dot-stuffing (RFC 5321 §4.5.2) done by one
        ``bytes.replace`` instead of a regex over the whole message (the same bytes result)."""
        self.data_started, self.data_sent = True, False
        before = self.sock.gettimeout() if self.sock is not None else None
        try:
            if isinstance(msg, str):
                return super().data(msg)  # type: ignore[misc,no-any-return]
            self.putcmd("data")  # type: ignore[attr-defined]
            code, reply = self.getreply()  # type: ignore[attr-defined]
            if code != 354:
                raise smtplib.SMTPDataError(code, reply)
            stuffed = dot_stuff(msg)
            if not stuffed.endswith(b"\r\n"):
                stuffed += b"\r\n"
            self.send(stuffed + b".\r\n")
            return self.getreply()  # type: ignore[attr-defined,no-any-return]
        finally:
            if self.sock is not None:
                self.sock.settimeout(before)

    def send(self, s: bytes | str) -> None:
        super().send(s)  # type: ignore[misc]
        if self.data_started and isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.data_sent = True  # smtplib sends the message and its "." in one call
            if self.sock is not None:
                self.sock.settimeout(max(self.final_reply_timeout, self.sock.gettimeout() or 0))

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        """:meth:`smtplib.SMTP.mail` without parsing a plain address again: for one,
        ``smtplib.quoteaddr`` gives ``<address>`` (RFC 5321 §4.1.2 Path)."""
        if not plain_address(sender) or any(o.lower() == "smtputf8" for o in options):
            return super().mail(sender, options)  # type: ignore[misc,no-any-return]
        extra = " " + " ".join(options) if options and self.does_esmtp else ""  # type: ignore[attr-defined]
        self.putcmd("mail", f"FROM:<{sender}>{extra}")  # type: ignore[attr-defined]
        return self.getreply()  # type: ignore[attr-defined,no-any-return]

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        """:meth:`smtplib.SMTP.rcpt`, as :meth:`mail`."""
        if not plain_address(recip):
            return super().rcpt(recip, options)  # type: ignore[misc,no-any-return]
        extra = " " + " ".join(options) if options and self.does_esmtp else ""  # type: ignore[attr-defined]
        self.putcmd("rcpt", f"TO:<{recip}>{extra}")  # type: ignore[attr-defined]
        return self.getreply()  # type: ignore[attr-defined,no-any-return]

    def auth(
        self,
        mechanism: str,
        authobject: Callable[..., str | None],
        *,
        initial_response_ok: bool = True,
    ) -> tuple[int, bytes]:
        """:meth:`smtplib.SMTP.auth` with responses encoded as UTF-8 instead of ASCII.

        RFC 4616 §2 (PLAIN) and RFC 4954 carry UTF-8; smtplib's ``encode('ascii')`` raises a
        ``UnicodeEncodeError`` that quotes a character of the password and its position.
        """
        mechanism = mechanism.upper()
        initial = authobject() if initial_response_ok else None
        # smtplib's auth_login answers by this count (user name first, then the password).
        if initial is not None:
            code, resp = self.docmd("AUTH", f"{mechanism} {_b64(initial)}")  # type: ignore[attr-defined]
            self._auth_challenge_count = 1
        else:
            code, resp = self.docmd("AUTH", mechanism)  # type: ignore[attr-defined]
            self._auth_challenge_count = 0
        while code == 334:
            self._auth_challenge_count += 1
            if self._auth_challenge_count > 5:
                raise smtplib.SMTPException("the server keeps asking for AUTH challenges")
            answer = authobject(base64.decodebytes(resp))
            code, resp = self.docmd(_b64(answer or ""))  # type: ignore[attr-defined]
        if code in (235, 503):
            return code, resp
        raise smtplib.SMTPAuthenticationError(code, resp)

    def auth_cram_md5(self, challenge: bytes | None = None) -> str | None:
        """CRAM-MD5 (RFC 2195) with the password's UTF-8 bytes as the key."""
        if challenge is None:
            return None
        return self.user + " " + hmac.new(self.password.encode(), challenge, "md5").hexdigest()


def dot_stuff(data: bytes) -> bytes:
    """Every line that starts with "." gets one more (RFC 5321 §4.5.2), as ``smtplib`` does
    with ``re.sub(rb"(?m)^\\.", b"..", data)``: a line starts at the beginning and after "\\n"."""
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\n.", b"\n..")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class _SMTP(_Client, smtplib.SMTP):  # type: ignore[misc]  # _Client overrides on purpose
    pass


class _SMTPSSL(_Client, smtplib.SMTP_SSL):  # type: ignore[misc]  # as _SMTP
    pass


_Conn = _SMTP | _SMTPSSL


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


def _by_code(what: str, code: int, text: bytes | str) -> DeliveryError:
    """5xx is permanent for this message; everything else (4xx, odd codes) is worth a retry."""
    reply = _reply(code, text)
    if 500 <= code <= 599:
        return PermanentDeliveryError(f"{what}: {reply}")
    return TemporaryDeliveryError(f"{what}: {reply}")


def _refused_recipient(where: str, rcpt: str, code: int, text: bytes | str) -> DeliveryError:
    error = _by_code(f"{where} refused recipient {rcpt}", code, text)
    return RecipientRefusedError(str(error)) if isinstance(error, PermanentDeliveryError) else error


def _redact(text: str, secret: str | None, user: str | None) -> str:
    """``text`` without the password or the AUTH responses carrying it (PLAIN's and LOGIN's
    base64), should a server echo them back in a reply."""
    if not secret:
        return text
    for form in (_b64(f"\0{user or ''}\0{secret}"), _b64(secret), secret):
        text = text.replace(form, "[redacted]")
    return text


def _envelope(message: EmailMessage) -> tuple[str, list[str]]:
    """(sender, recipients) from the parsed address headers, never from their decoded text."""
    senders, recipients = _addr_specs(message, "From"), _addr_specs(message, "To")
    if not senders or not recipients:
        raise PermanentDeliveryError("message has no From or To address")
    return senders[0], recipients


def _addr_specs(message: EmailMessage, name: str) -> list[str]:
    header = message[name]
    if header is None:
        return []
    addresses = getattr(header, "addresses", None)
    if addresses is None:  # a message built under a policy without structured headers
        return [addr for _name, addr in getaddresses([str(header)]) if addr]
    return [a.addr_spec for a in addresses if a.username]


class SmtpTransport(Closing):
    """Sends through one SMTP connection per batch: connect lazily, reuse, reconnect when dropped."""

    #: SMTP carries lines ending in CRLF (RFC 5321 §2.3.8).
    linesep = "\r\n"

    def __init__(
        self,
        settings: SmtpConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        final_reply_timeout: float = FINAL_REPLY_TIMEOUT,
        cancel: threading.Event | None = None,
    ) -> None:
        """``cancel`` is the process's stop event: once set, a wait for the final reply to a
        whole message is abandoned at once (see :meth:`send`), and no new message is started."""
        self.settings = settings
        self._sleep = sleep
        self.final_reply_timeout = final_reply_timeout
        self.cancel = cancel
        self._abandoned = False
        self._conn: _Conn | None = None
        self._used = False
        self._clock = time.monotonic  # durations only: when the connection was last used
        self._last_used = self._clock()

    @property
    def _where(self) -> str:
        return f"SMTP server {self.settings.host}:{self.settings.port}"

    def _tls_context(self) -> ssl.SSLContext:
        cafile = str(self.settings.ca_file) if self.settings.ca_file else None
        return ssl.create_default_context(cafile=cafile)

    def _open(self) -> _Conn:
        s, timeout = self.settings, self.settings.timeout.total_seconds()
        if s.security == "ssl":
            return _SMTPSSL(s.host, s.port, timeout=timeout, context=self._tls_context())
        conn = _SMTP(s.host, s.port, timeout=timeout)
        if s.security == "starttls":
            conn.ehlo()
            conn.starttls(context=self._tls_context())
        return conn

    def _login(self, conn: _Conn) -> None:
        s = self.settings
        if not s.username:
            return
        password = s.password()
        if password is None:
            raise TemporaryDeliveryError(
                f"SMTP username is set but the environment variable {s.password_env} "
                "holding the password is not set"
            )
        conn.login(s.username, password)

    def _connect(self) -> _Conn:
        try:
            conn = self._open()
        except ssl.SSLCertVerificationError as exc:
            raise TemporaryDeliveryError(
                f"{self._where}: TLS certificate verification failed ({exc.verify_message}); "
                "check the host name, or set [mail.smtp] ca_file to the CA that signed it"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise TemporaryDeliveryError(
                f"{self._where} refused the connection: {_reply(exc.smtp_code, exc.smtp_error)}"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryDeliveryError(f"cannot connect to {self._where}: {exc}") from exc
        try:
            self._login(conn)
        except smtplib.SMTPException as exc:
            self._quietly_close(conn)
            code = getattr(exc, "smtp_code", None)
            detail = _reply(code, exc.smtp_error) if code else str(exc)  # type: ignore[attr-defined]
            detail = _redact(detail, self.settings.password(), self.settings.username)
            raise TemporaryDeliveryError(f"{self._where}: login failed: {detail}") from None
        except (OSError, ValueError) as exc:  # ValueError: UnicodeError and kin
            self._quietly_close(conn)
            raise TemporaryDeliveryError(
                f"{self._where}: login failed: {type(exc).__name__} while sending the "
                f"credentials of {self.settings.username} (details withheld: they may hold "
                "the password)"
            ) from None
        except BaseException:
            self._quietly_close(conn)
            raise
        return conn

    @staticmethod
    def _quietly_close(conn: smtplib.SMTP) -> None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            conn.quit()
        with contextlib.suppress(OSError):
            conn.close()

    def _alive(self, conn: _Conn) -> bool:
        try:
            return conn.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False

    def _connection(self) -> _Conn:
        """The open connection; a new one if it was dropped.

        A connection in steady use is not probed: a NOOP before every message would cost a
        round trip each. One idle for :data:`IDLE_CHECK` seconds or more is checked with NOOP
        first (servers close idle clients, RFC 5321 §4.5.3.2.7); a connection found dead when
        the next message starts is replaced by :meth:`send`, which is safe before the data.
        """
        idle = self._clock() - self._last_used
        if (
            self._conn is not None
            and self._used
            and idle >= IDLE_CHECK
            and not self._alive(self._conn)
        ):
            logger.info("%s dropped the connection; reconnecting", self._where)
            self._drop()
            self._sleep(RECONNECT_PAUSE)
        if self._conn is None:
            self._conn = self._connect()
            self._used = False
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._quietly_close(self._conn)
        self._conn = None

    def send(self, delivery_key: str, message: EmailMessage | PreparedMessage) -> None:
        """Send one message; reconnect once if the link died before the data went out.

        Raises :class:`DeliveryUncertainError` when the whole message went out but no final
        reply came within :data:`FINAL_REPLY_TIMEOUT` (or the link died while waiting for it),
        and :class:`DeliveryAbandonedError` when the stop event was set during that wait: the
        socket is shut down within a tick of :data:`STOP_TICK` seconds, so a stop never waits
        for a withheld reply; the outbox resends such a message once at most.
        """
        if self.cancel is not None and self.cancel.is_set():
            raise TemporaryDeliveryError("the process is stopping: not sent now")
        if isinstance(message, PreparedMessage):
            sender, recipients = message.sender, list(message.recipients)
            data: EmailMessage | bytes = message.with_linesep("\r\n")
        else:
            sender, recipients = _envelope(message)
            data = message
        for attempt in (1, 2):
            conn = self._connection()
            conn.data_started = conn.data_sent = False
            conn.final_reply_timeout = self.final_reply_timeout
            self._abandoned = False
            try:
                with self._abandoned_at_stop(conn):
                    self._send_once(conn, data, sender, recipients)
            except smtplib.SMTPServerDisconnected as exc:
                self._last_used = self._clock()
                self._drop()
                if conn.data_sent:
                    raise self._uncertain(exc) from exc
                if attempt == 1 and not conn.data_started:
                    logger.info("%s: disconnected before data; retrying once", delivery_key)
                    self._sleep(RECONNECT_PAUSE)
                    continue
                raise TemporaryDeliveryError(f"{self._where} disconnected: {exc}") from exc
            except TemporaryDeliveryError as exc:
                self._last_used = self._clock()
                if conn.data_sent and not isinstance(exc.__cause__, smtplib.SMTPResponseException):
                    raise self._uncertain(exc.__cause__ or exc) from exc
                raise
            self._last_used = self._clock()
            logger.info("smtp: delivered %s to %s", delivery_key, ", ".join(recipients))
            return

    @contextlib.contextmanager
    def _abandoned_at_stop(self, conn: _Conn) -> Iterator[None]:
        """While the block runs, a watcher shuts ``conn``'s socket down once the stop event is
        set and the whole message went out: the blocked read of the final reply then ends."""
        if self.cancel is None:
            yield
            return
        cancel, done = self.cancel, threading.Event()

        def watch() -> None:
            while not done.wait(STOP_TICK):
                if cancel.is_set() and conn.data_sent and conn.sock is not None:
                    self._abandoned = True
                    logger.warning(
                        "%s: stopping; abandoning the wait for its final reply", self._where
                    )
                    with contextlib.suppress(OSError):
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    return

        watcher = threading.Thread(target=watch, name="smtp-stop", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()

    def _uncertain(self, exc: BaseException) -> DeliveryUncertainError:
        if self._abandoned:
            return DeliveryAbandonedError(
                f"{self._where} took the whole message; the process stopped before its final "
                "reply came, so it may have been delivered"
            )
        detail = str(exc) or type(exc).__name__
        if "timed out" in detail:
            detail = f"waited {self.final_reply_timeout:g}s, RFC 5321 §4.5.3.2.6"
        return DeliveryUncertainError(
            f"{self._where} took the whole message but no final reply came ({detail}); "
            "it may have been delivered"
        )

    def _send_once(
        self, conn: _Conn, message: EmailMessage | bytes, sender: str, recipients: list[str]
    ) -> None:
        """One try on ``conn``. A connection found dead before the DATA command (the link
        reset, or ``421`` to ``MAIL``: the server is closing it) raises
        :class:`smtplib.SMTPServerDisconnected`, which :meth:`send` retries once on a new one:
        nothing of the message can have been delivered yet."""
        self._used = True
        try:
            if isinstance(message, bytes):  # prepared: sent as it is (smtplib dot-stuffs)
                refused = conn.sendmail(sender, recipients, message)
            else:
                refused = conn.send_message(message, sender, recipients)
        except smtplib.SMTPServerDisconnected:
            raise
        except smtplib.SMTPSenderRefused as exc:
            if exc.smtp_code == 421 and not conn.data_started:
                self._drop()
                raise smtplib.SMTPServerDisconnected(_reply(exc.smtp_code, exc.smtp_error)) from exc
            # Our own sender refused (relay rules, "530 authentication required"): a fault of
            # the configuration that every message would meet, so retried, never "failed".
            self._drop_if_closed(conn)
            raise TemporaryDeliveryError(
                f"{self._where} refused the sender {exc.sender}: "
                f"{_reply(exc.smtp_code, exc.smtp_error)}; check [mail] from and the relay's "
                "rules for it (authentication, allowed senders)"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop_if_closed(conn)
            rcpt, (code, text) = next(iter(exc.recipients.items()))
            raise _refused_recipient(self._where, rcpt, code, text) from exc
        except smtplib.SMTPResponseException as exc:  # SMTPDataError and friends
            self._drop_if_closed(conn)
            raise _by_code(
                f"{self._where} refused the message", exc.smtp_code, exc.smtp_error
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            if isinstance(exc, OSError) and not conn.data_started:
                raise smtplib.SMTPServerDisconnected(f"connection lost: {exc}") from exc
            raise TemporaryDeliveryError(f"network error talking to {self._where}: {exc}") from exc
        if refused:  # only possible with several recipients; we send one per message
            rcpt, (code, text) = next(iter(refused.items()))
            raise _refused_recipient(self._where, rcpt, code, text)

    def _drop_if_closed(self, conn: _Conn) -> None:
        if conn.sock is None:  # smtplib closes the socket itself after a 421
            self._conn = None

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        self._drop()


def make_transport(config: Config, *, cancel: threading.Event | None = None) -> Transport:
    """The transport ``[mail] transport`` names, ready to use as a context manager; ``cancel``
    is the process's stop event (see :class:`SmtpTransport`)."""
    if config.mail.transport == "smtp":
        return SmtpTransport(config.mail.smtp, cancel=cancel)
    return MaildirTransport(config.maildir)
