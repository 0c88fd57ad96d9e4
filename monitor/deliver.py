"""Transports that hand a finished digest mail to a Maildir or an SMTP server.

The outbox sender (``monitor/outbox.py``) decides *what* to send and records the result; this
module only delivers one message and says, by exception type, whether trying again makes sense:
:class:`TemporaryDeliveryError` (4xx, network, TLS or login trouble — retry with backoff) or
:class:`PermanentDeliveryError` (a 5xx for this recipient or message — mark it failed, go on).

The Maildir transport is exactly-once: the file name is derived from the delivery key, so a
resend after a crash finds the earlier file (in ``new/``, or in ``cur/`` once a mail client has
seen it) and does nothing. SMTP cannot be exactly-once; we only retry a dropped connection
automatically when the drop happened before the message data was sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from monitor.closing import Closing
from monitor.config import Config, SmtpConfig
from monitor.errors import DeliveryError, PermanentDeliveryError, TemporaryDeliveryError

logger = logging.getLogger(__name__)

RECONNECT_PAUSE = 1.0  # seconds between a dropped connection and the new one
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


@runtime_checkable
class Transport(Protocol):
    """Delivers one message per call; use as a context manager so connections are closed."""

    def send(self, delivery_key: str, message: EmailMessage) -> None: ...

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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MaildirTransport(Closing):
    """Writes each delivery once into a Maildir (``tmp/`` → fsync → ``new/``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    def delivered(self, delivery_key: str) -> bool:
        """Whether this delivery is already in ``new/`` or, flagged by a client, in ``cur/``."""
        name = maildir_name(delivery_key)
        if (self.path / "new" / name).exists():
            return True
        with os.scandir(self.path / "cur") as entries:
            # Clients rename "name" to "name:2,S" (or "name!2,S" on systems without ":").
            return any(
                e.name == name or e.name.startswith((name + ":", name + "!")) for e in entries
            )

    def send(self, delivery_key: str, message: EmailMessage) -> None:
        """Deliver unless already delivered; an interrupted earlier attempt is simply redone."""
        if self.delivered(delivery_key):
            logger.info("maildir: %s already delivered, skipping", delivery_key)
            return
        name = maildir_name(delivery_key)
        tmp, new = self.path / "tmp" / name, self.path / "new" / name
        try:
            # The message's own policy: it keeps hand-folded headers such as List-Unsubscribe.
            self._write_synced(tmp, message.as_bytes())
            self._publish(tmp, new)
        except OSError as exc:
            raise TemporaryDeliveryError(f"cannot write to Maildir {self.path}: {exc}") from exc
        logger.info("maildir: delivered %s as %s", delivery_key, new)

    @staticmethod
    def _write_synced(path: Path, data: bytes) -> None:
        with open(path, "wb") as handle:  # truncates a leftover from a crashed attempt
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def _publish(self, tmp: Path, new: Path) -> None:
        """Move into ``new/`` without ever replacing a file there, then make it durable."""
        try:
            os.link(tmp, new)  # fails if a concurrent sender got there first: still one file
        except FileExistsError:
            logger.info("maildir: %s appeared meanwhile, keeping the first copy", new.name)
        except OSError:
            os.rename(tmp, new)  # filesystems without hard links
            _fsync_dir(new.parent)
            return
        tmp.unlink(missing_ok=True)
        _fsync_dir(new.parent)

    def close(self) -> None:
        """Nothing to release: files are complete when :meth:`send` returns."""


# --- SMTP --------------------------------------------------------------------------------------


class _DataTracking:
    """Notes when the message data starts, so we know whether a resend could duplicate it."""

    data_started = False

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        self.data_started = True
        return super().data(msg)  # type: ignore[misc]


class _SMTP(_DataTracking, smtplib.SMTP):
    pass


class _SMTPSSL(_DataTracking, smtplib.SMTP_SSL):
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


def _envelope(message: EmailMessage) -> tuple[str, list[str]]:
    sender = getaddresses([str(message["From"] or "")])
    recipients = [addr for _name, addr in getaddresses([str(message["To"] or "")]) if addr]
    if not sender or not sender[0][1] or not recipients:
        raise PermanentDeliveryError("message has no From or To address")
    return sender[0][1], recipients


class SmtpTransport(Closing):
    """Sends through one SMTP connection per batch: connect lazily, reuse, reconnect when dropped."""

    def __init__(
        self, settings: SmtpConfig, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._conn: _Conn | None = None
        self._used = False

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
            raise TemporaryDeliveryError(f"{self._where}: login failed: {detail}") from exc
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
        """The open connection, checked with NOOP when reused; a new one if it was dropped."""
        if self._conn is not None and self._used and not self._alive(self._conn):
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

    def send(self, delivery_key: str, message: EmailMessage) -> None:
        """Send one message; reconnect once if the link died before the data went out."""
        sender, recipients = _envelope(message)
        for attempt in (1, 2):
            conn = self._connection()
            conn.data_started = False
            try:
                self._send_once(conn, message, sender, recipients)
            except smtplib.SMTPServerDisconnected as exc:
                self._drop()
                if attempt == 1 and not conn.data_started:
                    logger.info("%s: disconnected before data; retrying once", delivery_key)
                    self._sleep(RECONNECT_PAUSE)
                    continue
                raise TemporaryDeliveryError(f"{self._where} disconnected: {exc}") from exc
            logger.info("smtp: delivered %s to %s", delivery_key, ", ".join(recipients))
            return

    def _send_once(
        self, conn: _Conn, message: EmailMessage, sender: str, recipients: list[str]
    ) -> None:
        self._used = True
        try:
            refused = conn.send_message(message, sender, recipients)
        except smtplib.SMTPServerDisconnected:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop_if_closed(conn)
            rcpt, (code, text) = next(iter(exc.recipients.items()))
            raise _by_code(f"{self._where} refused recipient {rcpt}", code, text) from exc
        except smtplib.SMTPSenderRefused as exc:
            self._drop_if_closed(conn)
            raise _by_code(
                f"{self._where} refused sender {exc.sender}", exc.smtp_code, exc.smtp_error
            ) from exc
        except smtplib.SMTPResponseException as exc:  # SMTPDataError and friends
            self._drop_if_closed(conn)
            raise _by_code(
                f"{self._where} refused the message", exc.smtp_code, exc.smtp_error
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise TemporaryDeliveryError(f"network error talking to {self._where}: {exc}") from exc
        if refused:  # only possible with several recipients; we send one per message
            rcpt, (code, text) = next(iter(refused.items()))
            raise _by_code(f"{self._where} refused recipient {rcpt}", code, text)

    def _drop_if_closed(self, conn: _Conn) -> None:
        if conn.sock is None:  # smtplib closes the socket itself after a 421
            self._conn = None

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        self._drop()


def make_transport(config: Config) -> Transport:
    """The transport ``[mail] transport`` names, ready to use as a context manager."""
    if config.mail.transport == "smtp":
        return SmtpTransport(config.mail.smtp)
    return MaildirTransport(config.maildir)
