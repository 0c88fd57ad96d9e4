"""Scraped text in mail headers: never header syntax, always decoded back exactly.

Titles reach the Subject. A title may carry RFC 2047 syntax whose encoded text is a line break
(``=?utf-8?q?=0D=0ABcc:...?=``): a reader must see that literal text, never a new field. The
property tests below send arbitrary titles through :func:`build_message` and a mail parser and
require the Subject to come back exactly, within RFC 2047's limits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.config import Config, MailConfig, SmtpConfig, validate
from monitor.deliver.mailmessage import header_value, safe_header_text
from monitor.deliver.transports import MaildirTransport, SmtpTransport
from monitor.models import Release, release_id
from monitor.render.digest import Digest, DigestItem, build_message, subject_for

from smtp_server import SmtpTestServer

MAIL = validate(MailConfig, {"from": "MOFA Monitor <monitor@example.org>"})
THEMES = {"north-korea": "North Korea"}
NOW = dt.datetime(2026, 11, 27, 0, 30, tzinfo=dt.UTC)

#: The fields a digest has; a reader must see these and no others.
DIGEST_FIELDS = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "list-unsubscribe",
    "auto-submitted",
    "x-mofa-digest",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}

#: Hostile titles of the kind "RFC 2047 syntax in scraped text", beyond the reported one.
HOSTILE_TITLES = [
    "Statement =?utf-8?q?=0D=0AReply-To:_x@evil.example=0D=0ABcc:_y@evil.example?= on Trade",
    "Statement =?utf-8?q?=0D=0A=0D=0A?= on Trade",  # a blank line: ends the header block
    "=?UTF-8?B?DQpCY2M6IHlAZXZpbC5leGFtcGxl?=",  # base64, upper case, at the very start
    "=?iso-8859-1?q?=0ABcc:_y@evil.example?= 외교부 =?utf-8?q?=0D?=",  # other charset, Korean
    "Trade=?utf-8?q?=0A?=Talks",  # glued to plain words
    "Statement\r\nBcc: y@evil.example",  # raw CR/LF
    "Statement =?utf-8*en?q?=0A=0ABcc:_y@evil.example?= on Trade",  # RFC 2231 language tag
]


def release(title: str, seq: int = 1) -> Release:
    return Release(
        id=release_id("m_5676", seq),
        source="mofa-en",
        board="m_5676",
        seq=seq,
        title=title,
        date=dt.date(2026, 11, 27),
        url=f"https://www.mofa.go.kr/eng/brd/m_5676/view.do?seq={seq}",
        body="1. A body line.\r2. Another, after a bare CR.",
        summary="A summary.",
    )


def digest(*titles: str) -> Digest:
    return Digest(
        subscriber_email="reader@example.org",
        subscriber_name="Reader",
        key="immediate:7",
        label="27 Nov 2026, 09:30",
        items=tuple(DigestItem(release(t, i + 1)) for i, t in enumerate(titles)),
        message_id="abc.immediate-7@example.org",
        created_at=NOW,
    )


def message_for(title: str, format: str = "html") -> EmailMessage:
    return build_message(
        digest(title), MAIL, format=format, theme_names=THEMES, unsubscribe_secret=b"k"
    )


def parse(data: bytes) -> EmailMessage:
    return BytesParser(policy=default).parsebytes(data)  # type: ignore[return-value]


def header_block(data: bytes) -> list[bytes]:
    """The raw header lines (folded lines kept apart) before the first blank line."""
    head = data.split(b"\r\n\r\n" if b"\r\n\r\n" in data else b"\n\n", 1)[0]
    return head.splitlines()


def assert_clean(data: bytes, title: str) -> None:
    """Exactly the digest's fields, the Subject decoded as intended, RFC 2047's limits kept."""
    parsed = parse(data)
    fields = DIGEST_FIELDS - ({"content-transfer-encoding"} if parsed.is_multipart() else set())
    assert {k.lower() for k in parsed} == fields
    assert len(parsed.keys()) == len(fields)  # no field twice
    expected = f"MOFA digest: {safe_header_text(title, 120)} (2026-11-27)"
    assert str(parsed["Subject"]) == safe_header_text(expected, 200)
    assert "\r" not in str(parsed["Subject"]) and "\n" not in str(parsed["Subject"])
    for line in header_block(data):
        assert line.isascii()
        for word in re.findall(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=", line):
            assert len(word) <= 75
            assert len(line) <= 76
        assert len(line) <= 998
    assert b"\r" not in data.replace(b"\r\n", b"")  # no bare CR, in headers or bodies
    assert all(byte < 0x80 for byte in data)  # acceptable to a 7-bit relay


# --- the reported kind, over both transports -------------------------------------------------


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_encoded_words_in_a_title_never_become_fields_in_the_maildir(
    tmp_path: Path, title: str
) -> None:
    with MaildirTransport(tmp_path / "box") as box:
        box.send("k", message_for(title))
    [file] = (tmp_path / "box" / "new").iterdir()
    assert_clean(file.read_bytes(), title)


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_encoded_words_in_a_title_never_become_fields_over_smtp(
    smtp_server: SmtpTestServer, title: str
) -> None:
    settings_ = validate(SmtpConfig, {"host": smtp_server.host, "port": smtp_server.port})
    with SmtpTransport(settings_) as transport:
        transport.send("k", message_for(title, format="text"))
    [got] = smtp_server.wait_for(1)
    parsed = parse(got.data)
    assert parsed["Reply-To"] is None and parsed["Bcc"] is None
    assert got.rcpt_tos == ("reader@example.org",)
    assert_clean(got.data, title)


def test_the_legacy_decoder_reads_the_same_subject() -> None:
    """Clients built on the older decode_header API see the same literal text."""
    title = HOSTILE_TITLES[0]
    raw = header_value(f"MOFA digest: {title}", name="Subject")
    assert str(make_header(decode_header(raw))) == f"MOFA digest: {title}"


def test_alert_subjects_are_encoded_the_same_way(tmp_path: Path) -> None:
    from monitor.ops.alerts import Alert, build_alert
    from monitor.store.sqlite import SourceHealth

    error = "listing title =?utf-8?q?=0D=0ABcc:_y@evil.example?= broke the parser"
    health = SourceHealth(
        "mofa-en",
        "mofa-board",
        "http://x.invalid/",
        None,
        None,
        None,
        3,
        error,
        None,
        None,
        None,
        None,
    )
    config = validate(Config, {"mail": {"from": "MOFA Monitor <monitor@example.org>"}})
    message = build_alert(config, Alert("mofa-en", "down", "alert:1", health), "ops@example.org")
    parsed = parse(message.as_bytes())
    assert parsed["Bcc"] is None
    assert "=?utf-8?q?=0D=0ABcc:_y@evil.example?=" in str(parsed["Subject"])
    assert all(byte < 0x80 for byte in message.as_bytes())


# --- the property: any title, back exactly ---------------------------------------------------

_TITLE_PIECES = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(
        [
            "외교부 대변인 논평",
            "Korea–Japan — talks",  # en and em dashes
            "“quoted” ‘single’",
            "&#39;entity&quot; &amp;amp;",
            "=?utf-8?q?=0D=0A?=",
            "=?",
            "?=",
            "  ",
            "Foreign Ministry Spokesperson's Commentary on the Adoption of a Resolution",
            "🇰🇷🚀",
            "e\u0301",  # combining accent
            "x" * 90,  # a word longer than a line
        ]
    ),
)
TITLES = st.lists(_TITLE_PIECES, min_size=1, max_size=8).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=TITLES)
@example(title=HOSTILE_TITLES[0])
@example(title="a" + " =?utf-8?b?PQ==?=" * 40)
def test_any_title_round_trips_exactly(title: str) -> None:
    """Subject as decoded by a mail parser == the intended text; fields and limits as built."""
    if not safe_header_text(title):
        title = "x" + title
    message = message_for(title, format="text")
    intended = subject_for(digest(title), THEMES, "MOFA digest")
    data = message.as_bytes()
    assert str(parse(data)["Subject"]) == intended
    assert_clean(data, title)


@settings(max_examples=300, deadline=None)
@given(text=TITLES, name=st.sampled_from(["Subject", "X-Long-Header-Name-For-Folding"]))
def test_header_value_decodes_to_its_text(text: str, name: str) -> None:
    """The encoder alone, without the 200-character cap, for long Korean and mixed text."""
    clean = safe_header_text(text, 10_000)
    if not clean:
        return
    message = EmailMessage(policy=default.clone(refold_source="none"))
    message.set_raw(name, header_value(clean, name=name))
    data = message.as_bytes()
    assert str(parse(data)[name]) == clean
    for line in header_block(data):
        if b"=?" in line and line.split(b":", 1)[0] != name.encode():
            assert len(line) <= 76


# --- end to end: the title comes from the site, the mail goes through the real CLI ----------


@pytest.mark.parametrize("kind", ["mofa-board", "mofa-rss"])
@pytest.mark.parametrize("transport", ["maildir", "smtp"])
def test_a_hostile_title_from_the_site_never_becomes_a_field(
    live_site, smtp_server: SmtpTestServer, tmp_path: Path, kind: str, transport: str
) -> None:
    """The reported case end to end: board or feed → SQLite → Maildir or SMTP."""
    import subprocess
    import sys

    live_site.seed_from_corpus(limit=3)
    url = live_site.list_url() if kind == "mofa-board" else live_site.feed_url()
    mail = (
        f'transport = "smtp"\n[mail.smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\n'
        if transport == "smtp"
        else ""
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[service]\nstate_dir = "state"\nrequest_delay = "0s"\ntimeout = "3s"\n'
        f'[[sources]]\nid = "s"\nkind = "{kind}"\nurl = "{url}"\n'
        f'[mail]\nfrom = "MOFA Monitor <monitor@example.org>"\n{mail}'
        '[[subscribers]]\nemail = "desk@example.org"\nfrequency = "immediate"\nformat = "text"\n',
        encoding="utf-8",
    )

    def run_once() -> None:
        result = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), "run-once"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    run_once()  # baseline
    title = HOSTILE_TITLES[0]
    live_site.publish(600001, title, "2026-11-27", "1. A statement.\n2. On trade.")
    run_once()
    if transport == "smtp":
        [got] = smtp_server.wait_for(1)
        assert got.rcpt_tos == ("desk@example.org",)
        data = got.data
    else:
        [file] = (tmp_path / "state" / "outbox" / "new").iterdir()
        data = file.read_bytes()
    parsed = parse(data)
    assert parsed["Reply-To"] is None and parsed["Bcc"] is None
    assert {k.lower() for k in parsed} == DIGEST_FIELDS
    assert str(parsed["Subject"]).startswith("MOFA digest: Statement =?utf-8?q?=0D=0AReply-To:")
    assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])


# --- address headers: a display name is text too ----------------------------------------------


@settings(max_examples=300, deadline=None)
@given(name=TITLES)
@example(name="Desk =?utf-8?q?=0D=0ABcc:_y@evil.example?= 외교부")
@example(name='A "quoted", name; <x@evil.example>')
def test_a_display_name_is_never_header_syntax(name: str) -> None:
    """Whatever the subscriber's name: one To address, theirs, and the name as text (shortened
    with "…" only when it does not fit one encoded word)."""
    message = build_message(
        dataclasses.replace(digest("t"), subscriber_name=name),
        MAIL,
        format="text",
        theme_names=THEMES,
        unsubscribe_secret=b"k",
    )
    parsed = parse(message.as_bytes())
    assert {k.lower() for k in parsed} == DIGEST_FIELDS
    [address] = parsed["To"].addresses
    assert address.addr_spec == "reader@example.org"
    clean = safe_header_text(name, 80)
    if address.display_name != clean:  # shortened to fit one encoded word
        assert address.display_name.endswith("…")
        assert clean.startswith(address.display_name[:-1].rstrip())
    assert [a.addr_spec for a in parsed["From"].addresses] == ["monitor@example.org"]
