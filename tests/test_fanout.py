"""Fan-out (issue 10): a send pass renders each distinct digest once and gives every reader their
own fields; messages are bytes made once; the ledger is written per batch where exactly-once
allows it; a healthy SMTP connection is not probed before every message; planning reads the
archive by row ranges, never whole.

The reference for every byte is :func:`monitor.render.digest.build_message` (what each reader
got before): the fast path must give exactly its bytes, the MIME boundary aside.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import re
import smtplib
import sqlite3
import unicodedata
from collections.abc import Iterator
from email.headerregistry import Address
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import jinja2
import pytest
from test_deliver import Sleeps, smtp_settings
from test_mail_headers import THEMES
from test_outbox import Ledger, config_with, kst

from monitor import text as chars
from monitor.config import Config, MailConfig, load_config, validate
from monitor.deliver import transports
from monitor.deliver.mailmessage import (
    MAIL_POLICY,
    PreparedMessage,
    mailbox_value,
    message_id_field,
    plain_address,
    strip_controls,
    verify_unsubscribe_token,
)
from monitor.deliver.transports import MaildirTransport, SmtpTransport, dot_stuff
from monitor.models import Classification, ThemeTag
from monitor.plan import outbox
from monitor.render import digest as digest_module
from monitor.render.digest import DigestRenderer, build_message, message_bytes, sample_digest
from monitor.schedule.app import App
from monitor.store.sqlite import Store

from smtp_server import running_smtp_server

SECRET = b"fan-out secret"
URL = "https://m.example.org/unsubscribe"
NK = Classification((ThemeTag("north-korea", 9.0),), ("KP",), "test")

#: Nine readers, four distinct digests: html, text, html in another zone, html of keyword "Peru".
READERS = [
    ("a1@example.org", 'format = "html"'),
    ("a2@example.org", 'format = "html"\nname = "Kim Min-jun"'),
    ("a3@example.org", 'format = "html"\nname = "김민준 =?utf-8?q?=0D=0ABcc:_x@evil.example?="'),
    ("o'brien&co@example.org", 'format = "html"'),
    ("t1@example.org", 'format = "text"'),
    ("t2@example.org", 'format = "text"\nname = "Text Reader"'),
    ("p1@example.org", 'format = "html"\ntimezone = "Europe/Paris"'),
    ("p2@example.org", 'format = "html"\ntimezone = "Europe/Paris"'),
    ("k1@example.org", 'format = "html"\nkeywords = ["Peru"]'),
]
DISTINCT = 4
#: jinja2 renders of those four: a text part each, an HTML part for the three HTML ones.
RENDERS, INLININGS = 4 + 3, 3


def fanout_ledger(tmp_path: Path, *, url: str | None = URL) -> Ledger:
    subscribers = "".join(
        f'[[subscribers]]\nemail = "{address}"\nfrequency = "immediate"\n{extra}\n'
        for address, extra in READERS
    )
    mail = f'[mail]\nunsubscribe_url = "{url}"\n' if url else ""
    ledger = Ledger(config_with(tmp_path, mail + subscribers))
    for address, _ in READERS:
        ledger.subscribe(address, kst(26, 10))
    ledger.release(1, kst(26, 12))
    ledger.release(2, kst(26, 12, 5))
    peru = ledger.store.releases_by_row([2])[2]
    ledger.store.update_release(
        2,
        dataclasses.replace(peru, body="The Republic of Peru and Korea signed an agreement."),
        content_hash="2b",
        classification=NK,
    )
    assert len(ledger.plan(kst(26, 13), poll_run=1)) == len(READERS)
    return ledger


@dataclasses.dataclass
class Counts:
    renders: int = 0
    inlinings: int = 0


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counts]:
    """Count every jinja2 template render and CSS inlining, as the bench does."""
    counts = Counts()
    render, inliner = jinja2.Template.render, digest_module._inliner()

    def counting_render(self: jinja2.Template, *args: object, **kwargs: object) -> str:
        counts.renders += 1
        return render(self, *args, **kwargs)

    class CountingInliner:
        def inline(self, html: str) -> str:
            counts.inlinings += 1
            return inliner.inline(html)

    monkeypatch.setattr(jinja2.Template, "render", counting_render)
    monkeypatch.setattr(digest_module, "_inliner", CountingInliner)
    yield counts


def send_pass(ledger: Ledger, transport: object) -> outbox.SendReport:
    now = kst(26, 14).astimezone(dt.UTC)
    return outbox.send_due(ledger.config, ledger.store, transport, THEMES, now=lambda: now)  # type: ignore[arg-type]


def reference(ledger: Ledger, address: str, data: bytes, linesep: str = "\n") -> bytes:
    """What build_message gives this reader's delivery, with the boundary ``data`` used."""
    delivery = next(d for d in ledger.store.deliveries(limit=50) if d.subscriber == address)
    message = outbox.render(ledger.config, ledger.store, delivery, THEMES, SECRET)
    boundary = re.search(rb'boundary="([^"]+)"', data)
    if boundary:
        message.set_boundary(boundary.group(1).decode())
    return message_bytes(message, linesep)


def maildir_messages(folder: Path) -> dict[str, bytes]:
    found = {}
    for path in (folder / "new").iterdir():
        data = path.read_bytes()
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        found[parsed["To"].addresses[0].addr_spec] = data
    return found


class TestRenderOnce:
    def test_a_send_pass_renders_each_distinct_digest_once(
        self, tmp_path: Path, counted: Counts, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ledger = fanout_ledger(tmp_path)
        monkeypatch.setattr(outbox, "unsubscribe_secret", lambda config, store: SECRET)
        with MaildirTransport(tmp_path / "box") as box:
            report = send_pass(ledger, box)
        assert len(report.sent) == len(READERS)
        assert (counted.renders, counted.inlinings) == (RENDERS, INLININGS)

    def test_each_reader_gets_the_bytes_build_message_gives_them(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The whole message, byte for byte: nothing a reader sees changed."""
        ledger = fanout_ledger(tmp_path)
        monkeypatch.setattr(outbox, "unsubscribe_secret", lambda config, store: SECRET)
        with MaildirTransport(tmp_path / "box") as box:
            send_pass(ledger, box)
        messages = maildir_messages(tmp_path / "box")
        assert sorted(messages) == sorted(address for address, _ in READERS)
        for address, data in messages.items():
            assert data == reference(ledger, address, data), address

    @pytest.mark.parametrize("url", [URL, None])
    def test_every_reader_field_is_their_own(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str | None
    ) -> None:
        """To, Message-ID, List-Unsubscribe and, in both body parts, the address and the
        unsubscribe links: each reader's own, distinct, and the token verifies for them."""
        ledger = fanout_ledger(tmp_path, url=url)
        monkeypatch.setattr(outbox, "unsubscribe_secret", lambda config, store: SECRET)
        with MaildirTransport(tmp_path / "box") as box:
            send_pass(ledger, box)
        ids = {d.subscriber: d.message_id for d in ledger.store.deliveries(limit=50)}
        seen_ids, seen_links = set(), set()
        for address, data in maildir_messages(tmp_path / "box").items():
            msg = email.message_from_bytes(data, policy=email.policy.default)
            assert msg["Message-ID"] == ids[address]
            seen_ids.add(msg["Message-ID"])
            header = msg["List-Unsubscribe"].replace("\n ", " ")
            links = re.findall(r"<([^>]*)>", header)
            assert links[-1] == f"mailto:monitor@localhost?subject=unsubscribe%20{quote(address)}"
            text = msg.get_body(("plain",)).get_content()
            assert f"You receive this digest because {address} is subscribed" in text
            assert f"Unsubscribe by e-mail: {links[-1]}" in text
            if url:
                token = parse_qs(urlsplit(links[0]).query)["token"][0]
                assert verify_unsubscribe_token(SECRET, token) == address
                assert f"Unsubscribe with one click: {links[0]}" in text
                seen_links.add(links[0])
            else:
                assert len(links) == 1 and "one click" not in text
            html_part = msg.get_body(("html",))
            if html_part is not None:
                html = html_part.get_content()
                hrefs = [unescape_href(h) for h in re.findall(r'href="([^"]*)"', html)]
                assert links[-1] in hrefs
                if url:
                    assert links[0] in hrefs
                assert f"because {escape_text(address)} is subscribed" in html
        assert len(seen_ids) == len(READERS)
        assert len(seen_links) == (len(READERS) if url else 0)

    def test_a_hostile_name_stays_a_display_name(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The encoded-word CRLF in a configured name writes no Bcc through the fast path."""
        ledger = fanout_ledger(tmp_path)
        monkeypatch.setattr(outbox, "unsubscribe_secret", lambda config, store: SECRET)
        with MaildirTransport(tmp_path / "box") as box:
            send_pass(ledger, box)
        data = maildir_messages(tmp_path / "box")["a3@example.org"]
        msg = email.message_from_bytes(data, policy=email.policy.default)
        assert msg["Bcc"] is None and b"\nBcc:" not in data
        assert [k for k in msg if k.lower() == "to"] == ["To"]
        assert msg["To"].addresses[0].addr_spec == "a3@example.org"
        assert "Bcc" in msg["To"].addresses[0].display_name  # kept as text, not a field


def quote(address: str) -> str:
    from urllib.parse import quote as q

    return q(address, safe="")


def unescape_href(value: str) -> str:
    return value.replace("&amp;", "&")


def escape_text(value: str) -> str:
    return value.replace("&", "&amp;")


class TestPreparedDigest:
    """The renderer against build_message for readers of every kind, line ends and formats."""

    NAMES_AND_ADDRESSES: ClassVar[list[tuple[str | None, str]]] = [
        ("Reader Kim", "reader@example.org"),
        (None, "o'brien&co@example.org"),
        ("김철수 =?utf-8?q?=0D=0ABcc:_x@evil.example?=", "x@y.z"),
        ('Quote " and \\ back', "quote@example.org"),
        ("A" * 200, "a" * 60 + "@" + "b" * 60 + ".example"),
        ("\u202eevil\u202c name\r\nBcc: x@evil.example", "bidi@example.org"),
        (None, "dots.in.the.local.part+tag@sub.example.co.kr"),
    ]

    @pytest.mark.parametrize("format", ["html", "text"])
    @pytest.mark.parametrize("linesep", ["\n", "\r\n"])
    @pytest.mark.parametrize("url", [URL, None])
    def test_bytes_equal_build_message(self, format: str, linesep: str, url: str | None) -> None:
        mail = validate(
            MailConfig, {"from": "MOFA Monitor <m@example.org>", "unsubscribe_url": url}
        )
        base = sample_digest(dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC), "Asia/Seoul")
        renderer = DigestRenderer(mail, THEMES, SECRET, linesep=linesep)
        for name, address in self.NAMES_AND_ADDRESSES:
            mine = dataclasses.replace(
                base, subscriber_email=address, subscriber_name=name, message_id=f"{address}.id"
            )
            prepared = renderer.message(mine, format=format)
            assert prepared.recipients == (address,) and prepared.sender == "m@example.org"
            built = build_message(
                mine, mail, format=format, theme_names=THEMES, unsubscribe_secret=SECRET
            )
            boundary = re.search(rb'boundary="([^"]+)"', prepared.data)
            if boundary:
                built.set_boundary(boundary.group(1).decode())
            assert prepared.data == message_bytes(built, linesep), address
        assert renderer.renders == 1  # one rendering served them all

    def test_a_reader_whose_values_change_the_encoding_is_built_whole(self) -> None:
        """An empty text digest is short: its reader lines fall in the ten lines that choose
        the transfer encoding, so each reader's message is built whole — and still exact."""
        mail = validate(MailConfig, {"from": "M <m@x.io>"})
        base = dataclasses.replace(
            sample_digest(dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)), items=()
        )
        renderer = DigestRenderer(mail, THEMES, None)
        for address in ("r@x.io", "a-much-longer-address-of-a-reader@example.org"):
            mine = dataclasses.replace(base, subscriber_email=address, message_id="i@x.io")
            data = renderer.message(mine, format="text").data
            built = build_message(
                mine, mail, format="text", theme_names=THEMES, unsubscribe_secret=None
            )
            assert data == message_bytes(built)
        assert renderer.renders == 1 + 2  # the shared rendering, then each reader whole

    def test_distinct_digests_are_not_shared(self) -> None:
        mail = validate(MailConfig, {"from": "M <m@x.io>"})
        base = sample_digest(dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC))
        renderer = DigestRenderer(mail, THEMES, None)
        one = renderer.message(base, format="html").data
        fewer = dataclasses.replace(base, items=base.items[1:])
        two = renderer.message(fewer, format="html").data
        other_zone = dataclasses.replace(base, timezone="Europe/Paris")
        three = renderer.message(other_zone, format="html").data
        assert renderer.renders == 3 and len({one, two, three}) == 3

    def test_the_renderings_kept_are_bounded(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Readers whose digests are all their own do not pile renderings up in memory."""
        monkeypatch.setattr(digest_module, "PREPARED_KEPT", 2)
        mail = validate(MailConfig, {"from": "M <m@x.io>"})
        base = sample_digest(dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC))
        renderer = DigestRenderer(mail, THEMES, None)
        digests = [dataclasses.replace(base, items=base.items[n:]) for n in range(3)]
        for one in [*digests, digests[2], digests[0]]:
            renderer.message(one, format="text")
        assert renderer.renders == 4  # the third was still kept; the first had to go
        assert len(renderer._prepared) == 2


class TestHeaderHelpers:
    def test_strip_controls_is_the_unicode_category_rule(self) -> None:
        """Every code point: Cc to a space (tab kept, newline too on request), Cs to U+FFFD,
        bidi and invisible format characters dropped, CR as a line break."""
        every = "".join(chr(c) for c in range(0x110000))
        drop = chars.char_class(chars.INVISIBLE | chars.BIDI_CONTROLS)
        for keep in (False, True):
            kept = "\n" if keep else ""

            def one(ch: str, kept: str = kept) -> str:
                category = unicodedata.category(ch)
                if category == "Cc" and ch not in kept and ch != "\t":
                    return " "
                return "\ufffd" if category == "Cs" else ch

            text = drop.sub("", every.replace("\r\n", "\n").replace("\r", "\n"))
            assert strip_controls(every, keep_newlines=keep) == "".join(map(one, text))

    @pytest.mark.parametrize(
        "value",
        [
            "<a@b>",
            "<0123456789abcdef0123456789abcdef.immediate-12@bench.example>",
            "<" + "x" * 62 + "@b.c>",  # one past the line: folded by the registry
            "<sample.20261127@mofa-monitor.invalid>",
            "<odd!id@x.y>",
            "<a@[127.0.0.1]>",
        ],
    )
    @pytest.mark.parametrize("linesep", ["\n", "\r\n"])
    def test_message_id_field_is_what_the_policy_writes(self, value: str, linesep: str) -> None:
        policy = MAIL_POLICY.clone(linesep=linesep)
        name, header = policy.header_store_parse("Message-ID", value)
        assert message_id_field(value, linesep=linesep) == policy.fold_binary(name, header)

    @pytest.mark.parametrize(
        "address",
        [
            "a@example.org",
            "o'brien&co+tag@example.org",
            "a..b@example.org",
            ".a@example.org",
            "a.@example.org",
            "a b@example.org",
            "<a@example.org>",
            "ü@example.org",
            "a@b",
            "a@-b.example",
            '"quoted"@example.org',
            "a@exa_mple.org",
        ],
    )
    def test_mailbox_value_checks_every_address_as_before(self, address: str) -> None:
        """The quick dot-atom path accepts only what the full parse accepts."""

        def full(addr: str) -> str:
            Address(addr_spec=addr)
            if not addr.isascii() or any(ch in addr for ch in "<>\r\n \t"):
                raise ValueError(addr)
            return addr

        try:
            expected: str | None = full(address)
        except Exception:
            expected = None
        try:
            got: str | None = mailbox_value(None, address, header="To")
        except Exception:  # ValueError, or the parser's HeaderParseError, as before
            got = None
        assert got == expected

    def test_a_plain_address_is_what_smtplib_would_quote(self) -> None:
        """MAIL FROM and RCPT TO skip smtplib's parse for plain addresses: same command."""
        for address in ["a@example.org", "o'brien&co+tag@example.org", "x.y@sub.example.co.kr"]:
            assert plain_address(address)
            assert smtplib.quoteaddr(address) == f"<{address}>"
        for address in ['"q"@example.org', "a..b@example.org", "a@b_c.org", "<a@b.org>"]:
            assert not plain_address(address)

    def test_dot_stuffing_is_smtplibs(self) -> None:
        for data in [b"", b".", b"..\r\n", b"a\r\n.b\r\n", b"\n.\n.", b"x.\r\n.\r\n..y", b"\r."]:
            assert dot_stuff(data) == re.sub(rb"(?m)^\.", b"..", data)


class TestSmtpConnection:
    def prepared(self, to: str, body: str = "body\n") -> PreparedMessage:
        data = (
            f"From: m@example.org\nTo: {to}\nSubject: t\nMessage-ID: <{to}.id>\n\n{body}"
        ).encode()
        return PreparedMessage("m@example.org", (to,), data)

    def test_no_noop_between_messages_of_a_healthy_connection(self) -> None:
        with (
            running_smtp_server() as server,
            SmtpTransport(smtp_settings(server), sleep=Sleeps()) as smtp,
        ):
            for n in range(5):
                smtp.send(f"k{n}", self.prepared(f"r{n}@example.org"))
        assert len(server.received) == 5 and server.connections == 1
        assert server.handler.noops == 0

    def test_a_connection_idle_for_long_is_checked_first(self) -> None:
        with (
            running_smtp_server() as server,
            SmtpTransport(smtp_settings(server), sleep=Sleeps()) as smtp,
        ):
            clock = [0.0]
            smtp._clock = lambda: clock[0]
            smtp.send("k1", self.prepared("a@example.org"))
            clock[0] += transports.IDLE_CHECK + 1
            smtp.send("k2", self.prepared("b@example.org"))
        assert server.handler.noops == 1 and len(server.received) == 2

    def test_a_421_to_mail_on_a_reused_connection_reconnects_and_sends_once(self) -> None:
        """The server closed an idle client without a NOOP noticing: nothing was sent yet, so
        the message goes out once on a new connection, and is not deferred."""
        sleeps = Sleeps()
        with (
            running_smtp_server(mail_421_after=1) as server,
            SmtpTransport(smtp_settings(server), sleep=sleeps) as smtp,
        ):
            for n in range(3):
                smtp.send(f"k{n}", self.prepared(f"r{n}@example.org"))
        assert [m.rcpt_tos for m in server.received] == [
            ("r0@example.org",),
            ("r1@example.org",),
            ("r2@example.org",),
        ]
        assert server.connections == 3 and len(sleeps) == 2

    def test_lines_starting_with_a_dot_arrive_intact(self) -> None:
        body = ".leading dot\n..two\nmiddle . dot\n.\nend\n"
        with running_smtp_server() as server, SmtpTransport(smtp_settings(server)) as smtp:
            smtp.send("k", self.prepared("r@example.org", body))
        received = server.received[0].message.get_content()
        assert received.replace("\r\n", "\n") == body

    def test_a_message_refused_for_good_is_not_retried(self) -> None:
        with (
            running_smtp_server(replies={"gone@example.org": "550 5.1.1 unknown"}) as server,
            SmtpTransport(smtp_settings(server), sleep=Sleeps()) as smtp,
            pytest.raises(transports.RecipientRefusedError),
        ):
            smtp.send("k", self.prepared("gone@example.org"))
        assert server.connections == 1


def count_transactions(store: Store) -> list[str]:
    begun: list[str] = []
    store.db.set_trace_callback(lambda sql: begun.append(sql) if sql.startswith("BEGIN") else None)
    return begun


class TestLedgerWrites:
    def test_a_maildir_pass_records_a_batch_in_one_transaction(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Claims and "sent" are per batch: as many transactions for nine readers as for one."""
        counts = []
        for size in (1, len(READERS)):
            (tmp_path / str(size)).mkdir()
            ledger = fanout_ledger(tmp_path / str(size))
            monkeypatch.setattr(outbox, "unsubscribe_secret", lambda config, store: SECRET)
            for extra in ledger.store.deliveries(limit=50)[size:]:
                ledger.store.mark_failed(extra.id, "not in this pass")
            begun = count_transactions(ledger.store)
            with MaildirTransport(tmp_path / str(size) / "box") as box:
                report = send_pass(ledger, box)
            assert len(report.sent) == size
            counts.append(len(begun))
        assert counts[0] == counts[1] <= 4  # claim, claim (none left), sent, health

    def test_an_smtp_pass_records_each_message_before_the_next(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """At most one repeat per crash: each accepted message is committed at once."""
        ledger = fanout_ledger(tmp_path)
        monkeypatch.setattr(outbox, "unsubscribe_secret", lambda config, store: SECRET)
        with running_smtp_server() as server:
            config = dataclasses.replace(
                ledger.config,
                mail=dataclasses.replace(
                    ledger.config.mail, transport="smtp", smtp=smtp_settings(server)
                ),
            )
            ledger.config = config
            sent_before: list[int] = []
            committed: list[str] = []
            mark_sent = ledger.store.mark_sent
            other = sqlite3.connect(ledger.store.path)  # sees only what is committed

            def spy(delivery_id: int, now: dt.datetime) -> None:
                sent_before.append(len(server.received))  # messages the server had by then
                mark_sent(delivery_id, now)
                row = other.execute("SELECT status FROM deliveries WHERE id = ?", (delivery_id,))
                committed.append(row.fetchone()[0])

            ledger.store.mark_sent = spy  # type: ignore[method-assign]
            begun = count_transactions(ledger.store)
            with SmtpTransport(config.mail.smtp) as smtp:
                report = send_pass(ledger, smtp)
        assert len(report.sent) == len(READERS) == len(server.received)
        other.close()
        assert sent_before == list(range(1, len(READERS) + 1))
        assert committed == ["sent"] * len(READERS)  # each committed before the next went out
        assert len(begun) == 3  # two claims, one health record; each "sent" commits on its own
        for message in server.received:
            address = message.rcpt_tos[0]
            assert message.data.replace(b"\r\n", b"\n") == reference(
                ledger, address, message.data
            ), address

    def test_claims_a_stopped_pass_never_tried_are_given_back(self, tmp_path: Path) -> None:
        ledger = fanout_ledger(tmp_path)
        now = kst(26, 14).astimezone(dt.UTC)
        claimed = ledger.store.claim_deliveries(now, outbox.LEASE, 4)
        assert [d.attempts for d in claimed] == [1, 1, 1, 1]
        ledger.store.release_claims([d.id for d in claimed[1:]])
        again = ledger.store.claim_deliveries(now, outbox.LEASE, 50)
        assert [d.id for d in again] == [d.id for d in ledger.store.deliveries(limit=50)][::-1][1:]
        assert {d.id: d.attempts for d in again}[claimed[1].id] == 1


class TestPlanning:
    def scenario(self, tmp_path: Path) -> Ledger:
        """Readers added at different times, corrections of mailed releases, one reader who
        already got the correction."""
        ledger = Ledger(
            config_with(
                tmp_path,
                "".join(
                    f'[[subscribers]]\nemail = "s{i}@example.org"\nfrequency = "immediate"\n'
                    for i in range(4)
                ),
            )
        )
        ledger.subscribe("s0@example.org", kst(20, 9))
        ledger.subscribe("s1@example.org", kst(20, 9))
        first = ledger.release(1, kst(20, 10))
        ledger.release(2, kst(20, 11))
        ledger.plan(kst(20, 12), poll_run=1)
        ledger.subscribe("s2@example.org", kst(20, 13))
        ledger.correct(first, 1, kst(20, 14))
        ledger.release(3, kst(20, 15))
        ledger.subscribe("s3@example.org", kst(20, 16))
        ledger.release(4, kst(20, 17))
        return ledger

    def test_batched_candidates_are_each_subscribers_own(self, tmp_path: Path) -> None:
        ledger = self.scenario(tmp_path)
        store = ledger.store
        emails = [f"s{i}@example.org" for i in range(4)]
        windows = store.planning_windows(emails)
        through = store.watermarks()
        batched = store.candidates_for(windows, through)
        for address in emails:
            assert batched[address] == store.candidate_releases(address, windows[address], through)
        assert [i.updated for i in batched["s0@example.org"]] == [True, False, False]
        assert batched["s3@example.org"] == [(4, 1, False)]

    def test_planning_reads_the_archive_by_row_ranges(self, tmp_path: Path) -> None:
        """EXPLAIN QUERY PLAN: no statement of a planning pass scans releases or revisions."""
        ledger = self.scenario(tmp_path)
        plans: list[str] = []
        conn = ledger.store.db

        def explain(sql: str) -> None:
            if sql.lstrip().upper().startswith("SELECT") and "EXPLAIN" not in sql:
                plans.append(sql)

        conn.set_trace_callback(explain)
        ledger.plan(kst(20, 18), poll_run=2)
        conn.set_trace_callback(None)
        assert plans
        scans = []
        for sql in plans:
            for row in conn.execute("EXPLAIN QUERY PLAN " + sql.replace("\n", " ")).fetchall():
                detail = row[-1]
                if re.match(
                    r"SCAN (releases|release_revisions|delivery_items|deliveries)\b", detail
                ):
                    scans.append(f"{detail}: {sql[:80]}")
        assert scans == []

    def test_planning_a_batch_plans_what_planning_one_by_one_did(self, tmp_path: Path) -> None:
        ledger = self.scenario(tmp_path)
        planned = ledger.plan(kst(20, 18), poll_run=2)
        assert planned == [f"s{i}@example.org immediate:2" for i in range(4)]
        contents = ledger.contents()
        assert contents["s0@example.org immediate:2"] == [(1, True), (3, False), (4, False)]
        assert contents["s2@example.org immediate:2"] == [(3, False), (4, False)]
        assert contents["s3@example.org immediate:2"] == [(4, False)]
        assert ledger.plan(kst(20, 19), poll_run=2) == []  # a period is planned once


def test_the_subscriber_lookup_follows_the_config(tmp_path: Path) -> None:
    config = validate(
        Config,
        {"subscribers": [{"email": "A@example.org", "name": "a"}, {"email": "b@example.org"}]},
    )
    assert config.subscriber("a@EXAMPLE.org").name == "a"  # type: ignore[union-attr]
    assert config.subscriber("c@example.org") is None
    fewer = dataclasses.replace(config, subscribers=config.subscribers[1:])
    assert fewer.subscriber("a@example.org") is None
    assert fewer.subscriber("b@example.org") is not None


def test_theme_names_without_the_classifier_are_the_classifiers(tmp_path: Path) -> None:
    """A send pass reads theme names from the taxonomy's data instead of compiling the
    classifier; the names and their order must be the classifier's, overrides included."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[service]\nstate_dir = "state"\n'
        '[[themes]]\nid = "arctic"\nname = "Arctic"\npatterns = ["arctic"]\n'
        '[[themes]]\nid = "cyber"\nname = "Cyber security"\npatterns = ["hacking"]\n'
        '[[themes]]\nid = "sanctions"\nmode = "replace"\npatterns = ["embargo"]\n'
        '[[themes]]\nid = "unnamed"\npatterns = ["something"]\n',
        encoding="utf-8",
    )
    config = load_config(path)
    cheap = App(config)
    try:
        names = cheap.theme_names
        assert "classifier" not in cheap.__dict__  # not built for it
    finally:
        cheap.close()
    built = App(config)
    try:
        built.classifier  # noqa: B018 — the classifier first, then its names
        assert list(built.theme_names.items()) == list(names.items())
    finally:
        built.close()
    assert names["arctic"] == "Arctic" and names["cyber"] == "Cyber security"
    assert names["unnamed"] == "unnamed"


KOREAN_TITLE = "북한 탄도미사일 발사 관련 외교부 대변인 논평 및 한미일 외교장관 통화 결과"


@pytest.mark.parametrize("fmt", ["text", "html"])
def test_a_digest_email_encodes_as_base64_reaches_its_reader_as_build_message_makes_it(
    tmp_path: Path, fmt: str
) -> None:
    """A Korean title in the first lines makes :mod:`email` choose base64 for the text part; the
    render-once path re-encodes such a part whole per reader (it once tried to keep it as ASCII
    chunks, failed, and put the delivery off for ever)."""
    from test_outbox import NK

    ledger = Ledger(
        config_with(
            tmp_path,
            f'[[subscribers]]\nemail = "r@example.org"\nfrequency = "immediate"\nformat = "{fmt}"\n',
        )
    )
    ledger.release(2, kst(26, 11))  # an English release beside it
    ledger.subscribe("r@example.org", kst(26, 10))
    row = ledger.release(1, kst(26, 12))
    release = ledger.store.releases_by_row([row])[row]
    ledger.store.update_release(
        row,
        dataclasses.replace(
            release, title=KOREAN_TITLE, body=KOREAN_TITLE * 5, summary=KOREAN_TITLE
        ),
        content_hash="k",
        classification=NK,
    )
    assert ledger.plan(kst(26, 13), poll_run=1)
    folder = tmp_path / "mail"

    report = send_pass(ledger, MaildirTransport(folder))

    delivered = list((folder / "new").iterdir())
    assert len(delivered) == 1 and report.sent and not report.retry and not report.failed
    data = delivered[0].read_bytes()
    assert b"Content-Transfer-Encoding: base64" in data
    assert data == reference(ledger, "r@example.org", data)
