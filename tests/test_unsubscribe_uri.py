"""The unsubscribe URL in List-Unsubscribe and in the body: 7-bit, one URI per bracket, the token
in the query (RFC 2369 §2, RFC 3986, RFC 8058); and a message that cannot be built is one clear
line in status, health and the alert, never a crash of the send pass."""

from __future__ import annotations

import datetime as dt
import mailbox
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError
from test_mail_headers import THEMES
from test_outbox import Ledger, config_with, kst

from monitor.config import MailConfig, validate
from monitor.deliver.mailmessage import header_uri, unsubscribe_links, verify_unsubscribe_token
from monitor.deliver.transports import MaildirTransport
from monitor.ops.health import health_report
from monitor.plan import outbox

SECRET = b"k"


def https_uris(header: str) -> list[str]:
    """The URIs a client reads from a List-Unsubscribe value: <...> split on commas outside."""
    return re.findall(r"<([^>]*)>", header.replace("\n ", " "))


@pytest.mark.parametrize(
    ("url", "host", "path"),
    [
        ("https://구독.example.kr/unsubscribe", "xn--2e0bk4j.example.kr", "/unsubscribe"),
        ("https://m.example.org/ünsub", "m.example.org", "/%C3%BCnsub"),
        ("https://m.example.org/a b/%2F/50%", "m.example.org", "/a%20b/%2F/50%25"),
        ("https://m.example.org/x{1}|^`", "m.example.org", "/x%7B1%7D%7C%5E%60"),
        ("https://m.example.org", "m.example.org", "/"),
        ("https://[::1]:8443/u", "[::1]:8443", "/u"),
    ],
)
def test_the_unsubscribe_uri_is_7bit_and_keeps_its_meaning(url: str, host: str, path: str) -> None:
    """IDN host → A-label, non-ASCII and non-URI characters percent-encoded as UTF-8, escapes
    kept, a lone % encoded — and the token still verifies at the server."""
    links = unsubscribe_links("M <m@x.io>", "r@x.io", url=url, secret=SECRET)
    header = links.header()
    assert header.isascii()
    uris = https_uris(header)
    assert len(uris) == 2 and uris[1].startswith("mailto:")
    parts = urlsplit(uris[0])
    assert parts.netloc == host and parts.path == path
    assert verify_unsubscribe_token(SECRET, parse_qs(parts.query)["token"][0]) == "r@x.io"


def test_angle_brackets_and_commas_in_the_url_do_not_split_the_header() -> None:
    """``>,<`` in the configured query stays inside one URI (RFC 2369 §2: commas MUST be
    encoded), and the existing query parameter survives next to the token."""
    url = "https://m.example.org/unsub?a=>,<evil>"
    header = unsubscribe_links("M <m@x.io>", "r@x.io", url=url, secret=SECRET).header()
    uris = https_uris(header)
    assert len(uris) == 2
    query = parse_qs(urlsplit(uris[0]).query)
    assert query["a"] == [">,<evil>"]
    assert verify_unsubscribe_token(SECRET, query["token"][0]) == "r@x.io"
    assert "," not in uris[0]


def test_the_token_goes_into_the_query_even_before_a_fragment() -> None:
    """A fragment is never sent to the server: the token must stand before it."""
    uri = header_uri("https://m.example.org/unsub?x=1#frag")
    links = unsubscribe_links("M <m@x.io>", "r@x.io", url=uri, secret=SECRET)
    assert links.https is not None
    parts = urlsplit(links.https)
    assert parts.fragment == "frag"
    assert "token" in parse_qs(parts.query)


def test_check_config_refuses_a_fragment() -> None:
    with pytest.raises(ValidationError, match="fragment"):
        validate(MailConfig, {"unsubscribe_url": "https://m.example.org/unsub#frag"})


def idn_ledger(tmp_path: Path, url: str) -> Ledger:
    config = config_with(
        tmp_path,
        f'[mail]\nunsubscribe_url = "{url}"\n'
        '[[subscribers]]\nemail = "d@example.org"\nfrequency = "immediate"\n',
    )
    ledger = Ledger(config)
    ledger.subscribe("d@example.org", kst(26, 10))
    ledger.release(1, kst(26, 12))
    assert ledger.plan(kst(26, 13), poll_run=1) == ["d@example.org immediate:1"]
    return ledger


def test_a_digest_with_an_idn_unsubscribe_url_is_delivered(tmp_path: Path) -> None:
    """The reported case: every digest crashed unsent with UnicodeEncodeError."""
    ledger = idn_ledger(tmp_path, "https://구독.example.kr/ünsub")
    now = kst(26, 14).astimezone(dt.UTC)
    with MaildirTransport(tmp_path / "out") as transport:
        report = outbox.send_due(ledger.config, ledger.store, transport, THEMES, now=lambda: now)
    assert report.sent == ["d@example.org immediate:1"]
    (message,) = list(mailbox.Maildir(tmp_path / "out"))
    assert "https://xn--2e0bk4j.example.kr/%C3%BCnsub?token=" in message["List-Unsubscribe"]


def test_a_message_that_cannot_be_built_is_one_line_in_status_health(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Whole kind: any fault while rendering or serialising defers that delivery, the pass goes
    on, and status and /healthz name the cause (the operator alert reads the same record)."""
    ledger = idn_ledger(tmp_path, "https://m.example.org/unsub")

    def broken(*args: object, **kwargs: object) -> object:
        raise UnicodeEncodeError("ascii", "ü", 0, 1, "ordinal not in range(128)")

    # send_due renders through the renderer (monitor.render.digest)
    monkeypatch.setattr("monitor.render.digest.DigestRenderer.message", broken)
    now = kst(26, 14).astimezone(dt.UTC)
    with MaildirTransport(tmp_path / "out") as transport:
        report = outbox.send_due(ledger.config, ledger.store, transport, THEMES, now=lambda: now)
    assert report.retry == ["d@example.org immediate:1"] and not report.sent
    (delivery,) = ledger.store.deliveries(limit=5)
    assert delivery.status == "pending"
    assert "cannot build the message (UnicodeEncodeError)" in (delivery.last_error or "")
    status = "\n".join(outbox.status_lines(ledger.store, now))
    assert "FAILING" in status and "cannot build the message" in status
    health = health_report(ledger.config, ledger.store, now=now, started_at=now)
    assert not health.ok
    assert any("cannot build the message" in line for line in health.reasons)
    assert "Traceback" not in caplog.text
    # fixed (here: the fault gone), the same delivery goes out on its next try
    monkeypatch.undo()
    later = kst(27, 14).astimezone(dt.UTC)
    with MaildirTransport(tmp_path / "out") as transport:
        report = outbox.send_due(ledger.config, ledger.store, transport, THEMES, now=lambda: later)
    assert report.sent == ["d@example.org immediate:1"]


class ExplodingTransport:
    """A transport with a fault it does not classify (a bug, an unexpected library error)."""

    def send(self, delivery_key: str, message: object) -> None:
        raise RuntimeError("unexpected")

    def close(self) -> None:
        pass

    def __enter__(self) -> ExplodingTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def test_an_unclassified_transport_fault_is_uncertain_not_a_crash(tmp_path: Path) -> None:
    """The pass goes on; the delivery may have gone out, so it is resent once at most."""
    ledger = idn_ledger(tmp_path, "https://m.example.org/unsub")
    now = kst(26, 14).astimezone(dt.UTC)
    report = outbox.send_due(
        ledger.config, ledger.store, ExplodingTransport(), THEMES, now=lambda: now
    )
    assert report.retry == ["d@example.org immediate:1"]
    (delivery,) = ledger.store.deliveries(limit=5)
    assert delivery.uncertain == 1
    assert "unexpected fault while sending (RuntimeError)" in (delivery.last_error or "")
