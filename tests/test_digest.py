"""Digest selection, rendering and message headers: goldens, hostile text, unsubscribe tokens."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import ClassVar

import pytest

from monitor.config import DEFAULT_THEME_IDS, MailConfig, SubscriberConfig, validate
from monitor.deliver.mailmessage import unsubscribe_links
from monitor.models import Attachment, Evidence, Release, ThemeTag
from monitor.render.digest import (
    Digest,
    DigestItem,
    build_message,
    make_unsubscribe_token,
    matches,
    render_html,
    render_text,
    safe_header_text,
    sample_digest,
    subject_for,
    verify_unsubscribe_token,
)
from monitor.render.view import describe_changes
from monitor.store.sqlite import SeenRevision

GOLDEN = Path(__file__).parent / "data" / "digest"
KST = dt.timezone(dt.timedelta(hours=9))
NOW = dt.datetime(2026, 11, 27, 8, 0, tzinfo=KST)
SECRET = b"test-secret"
THEME_NAMES = {
    "north-korea": "North Korea",
    "sanctions": "Sanctions",
    "cyber": "Cyber",
    "human-rights": "Human Rights",
    "security-defense": "Security & Defence",
    "humanitarian-aid": "Humanitarian Aid",
    "consular-safety": "Consular Safety",
    "economy-trade": "Economy & Trade",
    "technology": "Technology",
    "multilateral": "Multilateral",
    "conflict-crisis": "Conflicts & Crises",
    "climate-environment": "Climate & Environment",
}
MAIL = validate(
    MailConfig,
    {"from": "MOFA Monitor <monitor@example.org>", "unsubscribe_url": "https://example.org/u"},
)
HOSTILE_TITLE = "북한 <script>alert(1)</script>\r\nBcc: x@evil.example\u202e\u0000 " + "가" * 5000


def release(
    seq: int = 1,
    title: str = "Statement",
    body: str = "",
    themes: tuple[tuple[str, float], ...] = (),
    countries: tuple[str, ...] = (),
    **extra: object,
) -> Release:
    return Release(
        id=f"m_5676-{seq}",
        source="mofa-en",
        board="m_5676",
        seq=seq,
        title=title,
        date=dt.date(2026, 11, 27),
        body=body,
        summary=body,
        themes=tuple(ThemeTag(t, s, (Evidence(t, "body", 2),)) for t, s in themes),
        countries=countries,
        **{"url": f"https://www.mofa.go.kr/eng/brd/m_5676/view.do?seq={seq}", **extra},  # type: ignore[arg-type]
    )


def digest_of(*items: DigestItem, followed: tuple[str, ...] = ()) -> Digest:
    return Digest(
        subscriber_email="reader@example.org",
        subscriber_name="독자 Reader",
        key="daily:2026-11-27",
        label="27 Nov 2026",
        items=items,
        message_id="<abc.123@mofa-monitor>",
        created_at=NOW,
        followed=followed,
    )


def parse(msg: EmailMessage) -> EmailMessage:
    return BytesParser(policy=default).parsebytes(msg.as_bytes())  # type: ignore[return-value]


class TestMatches:
    NK = release(
        1, "Statement on North Korea's launch", "missile", (("north-korea", 0.9),), ("KP",)
    )
    AID = release(2, "Aid to Gaza", "food aid via WFP", (("humanitarian-aid", 0.8),))
    UNTAGGED = release(3, "Minister meets ambassador", "courtesy call on Ukraine")

    CASES: ClassVar[list[tuple[str, dict, Release, bool]]] = [
        ("no themes: everything", {}, NK, True),
        ("no themes: untagged too", {}, UNTAGGED, True),
        ("empty themes list: everything", {"themes": []}, UNTAGGED, True),
        ("theme matches", {"themes": ["north-korea"]}, NK, True),
        ("theme does not match", {"themes": ["north-korea"]}, AID, False),
        (
            "keyword adds outside themes",
            {"themes": ["north-korea"], "keywords": ["ukraine"]},
            UNTAGGED,
            True,
        ),
        (
            "keyword is case-insensitive on title",
            {"themes": ["cyber"], "keywords": ["GAZA"]},
            AID,
            True,
        ),
        ("blank keyword matches nothing", {"themes": ["cyber"], "keywords": [" "]}, AID, False),
        ("keywords alone: a release containing one", {"keywords": ["gaza"]}, AID, True),
        ("keywords alone: nothing else", {"keywords": ["gaza"]}, NK, False),
        ("keywords alone: not untagged ones", {"keywords": ["gaza"]}, UNTAGGED, False),
        ("blank keywords alone: everything", {"keywords": [" "]}, UNTAGGED, True),
        (
            "exclude drops a theme match",
            {"themes": ["north-korea"], "exclude": ["Missile"]},
            NK,
            False,
        ),
        (
            "exclude wins over keyword",
            {"themes": ["cyber"], "keywords": ["gaza"], "exclude": ["wfp"]},
            AID,
            False,
        ),
        ("exclude with no themes", {"exclude": ["courtesy"]}, UNTAGGED, False),
        ("country required and named", {"countries": ["kp"]}, NK, True),
        ("country required, not named", {"countries": ["KP"]}, AID, False),
        ("country AND theme", {"themes": ["north-korea"], "countries": ["UA"]}, NK, False),
        (
            "country AND keyword",
            {"themes": ["cyber"], "keywords": ["missile"], "countries": ["KP"]},
            NK,
            True,
        ),
    ]

    @pytest.mark.parametrize(
        ("settings", "rel", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
    )
    def test_rule(self, settings: dict, rel: Release, expected: bool) -> None:
        """(themes OR keywords) AND countries AND NOT exclude."""
        subscriber = validate(SubscriberConfig, {"email": "r@example.org", **settings})
        assert matches(subscriber, rel) is expected


class TestKeywordWords:
    """Keywords and exclude terms match whole words, normalised as theme terms are (F1)."""

    SAID = release(4, "Foreign Minister Said to Visit Thailand", "The minister said so.")
    AID = release(5, "Humanitarian Aid to the Gaza Strip", "Funds in June for the fund.")
    AI = release(6, "Seoul Hosts AI Summit", "AI-driven tools and the U.N. charter.")
    GAZA = release(7, "Statement on the Gaza\u00a0Strip", "Ｇａｚａ ceasefire")

    CASES: ClassVar[list[tuple[str, dict, Release, bool]]] = [
        ("AI not inside Said/Thailand", {"keywords": ["AI"]}, SAID, False),
        ("AI not inside Aid", {"keywords": ["AI"]}, AID, False),
        ("AI as a word", {"keywords": ["AI"]}, AI, True),
        ("AI before a hyphen", {"keywords": ["ai"]}, release(8, "x", "AI-driven"), True),
        ("UN not inside June/fund", {"keywords": ["UN"]}, AID, False),
        ("keyword with two spaces", {"keywords": ["Gaza  Strip"]}, GAZA, True),
        ("fullwidth keyword", {"keywords": ["Ｇａｚａ Ｓｔｒｉｐ"]}, GAZA, True),
        ("fullwidth text", {"keywords": ["gaza ceasefire"]}, GAZA, True),
        ("curly quote keyword", {"keywords": ["Korea’s"]}, release(9, "Korea's role"), True),
        (
            "Korean keyword takes particles",
            {"keywords": ["북한"]},
            release(10, "북한의 도발"),
            True,
        ),
        ("exclude is whole-word too", {"exclude": ["AI"]}, SAID, True),
        ("exclude normalised too", {"exclude": ["gaza  strip"]}, GAZA, False),
        ("zero-width keyword is blank", {"keywords": ["\u200b"]}, SAID, True),
    ]

    @pytest.mark.parametrize(
        ("settings", "rel", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
    )
    def test_rule(self, settings: dict, rel: Release, expected: bool) -> None:
        subscriber = validate(SubscriberConfig, {"email": "r@example.org", **settings})
        assert matches(subscriber, rel) is expected


class TestEvidence:
    def test_a_term_two_themes_share_is_counted_once(self) -> None:
        """Both themes report the same three occurrences of “missile”: the digest says ×3."""
        tags = (
            ThemeTag("north-korea", 9.0, (Evidence("missile", "body", 3),)),
            ThemeTag("security-defense", 6.0, (Evidence("missile", "body", 3),)),
        )
        rel = dataclasses.replace(release(1, "Statement"), themes=tags)
        text = render_text(digest_of(DigestItem(rel)), theme_names=THEME_NAMES, unsubscribe=links())
        assert "Matched on “missile”\u00a0×3" in text
        assert "×6" not in text

    def test_title_and_body_occurrences_still_add_up(self) -> None:
        tags = (
            ThemeTag(
                "north-korea", 9.0, (Evidence("icbm", "title", 1), Evidence("icbm", "body", 2))
            ),
            ThemeTag("security-defense", 6.0, (Evidence("icbm", "body", 2),)),
        )
        rel = dataclasses.replace(release(1, "ICBM"), themes=tags)
        html = render_html(digest_of(DigestItem(rel)), theme_names=THEME_NAMES, unsubscribe=links())
        assert "Matched on “icbm” in title" in html


class TestDescribeChanges:
    BEFORE = SeenRevision(1, "Statement", "The talks were held on 22 July in Seoul.", ())

    @pytest.mark.parametrize(
        ("title", "body", "attachments", "expected"),
        [
            ("Statement", "The talks were held on 23 July in Seoul.", (), "body “22” → “23”"),
            ("Statement", "The talks were  held on 22 July\nin Seoul.", (), "body spacing"),
            (
                "Statement",
                "The talks were held on 22 July in Seoul. Both sides agreed.",
                (),
                "body added “Both sides agreed.”",
            ),
            ("Statement", "The talks were held in Seoul.", (), "body removed “on 22 July”"),
            (
                "Statement",
                "Talks were held on 23 July in Busan.",
                (),
                "body “The talks” → “Talks” (and 2 more edits)",
            ),
            (
                "Statement (corrected)",
                "The talks were held on 22 July in Seoul.",
                (Attachment("Annex.pdf", "https://x/a"),),
                "title (was “Statement”); attachment added: Annex.pdf",
            ),
            (
                "Statement",
                "The talks were held on 22 July in Seoul, "
                + "with one two three four five six seven eight nine ten.",
                (),
                "body “Seoul.” → “Seoul, with one two three four five six …”",
            ),
            (
                "Statement",
                "The talks were held on 22 July in \x1b[31mSeoul\u202e.",
                (),
                "body “Seoul.” → “[31mSeoul.”",
            ),
        ],
        ids=[
            "replace",
            "spacing",
            "insert",
            "delete",
            "several",
            "title-attachment",
            "long",
            "hostile",
        ],
    )
    def test_short_summary(self, title: str, body: str, attachments: tuple, expected: str) -> None:
        after = dataclasses.replace(release(1, title, body), attachments=attachments)
        assert describe_changes(self.BEFORE, after) == expected

    def test_attachments_unknown_before_are_not_reported(self) -> None:
        before = dataclasses.replace(self.BEFORE, attachments=None)
        after = dataclasses.replace(
            release(1, "Statement", self.BEFORE.body), attachments=(Attachment("A.pdf", "u"),)
        )
        assert describe_changes(before, after) == ""


class TestWeeklySubject:
    def test_subject_names_the_days_covered_not_the_iso_week(self) -> None:
        digest = dataclasses.replace(
            digest_of(DigestItem(release(1)), DigestItem(release(2))),
            key="weekly:2026-W49",
            label="23–30 Nov 2026",
        )
        subject = subject_for(digest, THEME_NAMES, "MOFA digest")
        assert subject == "MOFA digest: 2 releases (23–30 Nov 2026)"


class TestGrouping:
    def test_release_in_several_themes_appears_once_under_strongest(self) -> None:
        """One entry, in the strongest theme's section, listing all its tags."""
        rel = release(1, "Cyber sanctions", themes=(("cyber", 0.6), ("sanctions", 0.9)))
        text = render_text(digest_of(DigestItem(rel)), theme_names=THEME_NAMES, unsubscribe=links())
        assert text.count("Cyber sanctions") == 1
        assert "== Sanctions (1) ==" in text and "== Cyber" not in text
        assert "Sanctions, Cyber" in text

    def test_followed_theme_is_preferred_for_the_section(self) -> None:
        """A cyber reader finds the item under Cyber even when sanctions scored higher."""
        rel = release(1, "Cyber sanctions", themes=(("cyber", 0.6), ("sanctions", 0.9)))
        digest = digest_of(DigestItem(rel), followed=("cyber",))
        text = render_text(digest, theme_names=THEME_NAMES, unsubscribe=links())
        assert "== Cyber (1) ==" in text

    def test_untagged_releases_come_last(self) -> None:
        """Releases without a theme get their own section after the themed ones."""
        digest = digest_of(
            DigestItem(release(1, "Untagged")),
            DigestItem(release(2, "Tagged", themes=(("cyber", 1),))),
        )
        text = render_text(digest, theme_names=THEME_NAMES, unsubscribe=links())
        assert text.index("== Cyber") < text.index("== Other releases")

    def test_unknown_theme_falls_back_to_its_id(self) -> None:
        """A theme without a configured name is shown by its id."""
        rel = release(1, "Polar research", themes=(("arctic", 0.9),))
        text = render_text(digest_of(DigestItem(rel)), theme_names=THEME_NAMES, unsubscribe=links())
        assert "== arctic (1) ==" in text

    def test_empty_digest_says_so(self) -> None:
        """With send_empty, an empty digest still reads as a sentence."""
        text = render_text(digest_of(), theme_names=THEME_NAMES, unsubscribe=links())
        assert "No new press releases matched" in text


def links(url: str | None = "https://example.org/u"):
    return unsubscribe_links(
        "MOFA Monitor <monitor@example.org>", "reader@example.org", url=url, secret=SECRET
    )


class TestHeaders:
    def test_safe_header_text_strips_and_caps(self) -> None:
        """CR/LF and controls go, whitespace collapses, length is capped with an ellipsis."""
        assert safe_header_text("a\r\nBcc: x\x00\x07 \u202eb\t c") == "a Bcc: x b c"
        assert safe_header_text("x" * 300, 10) == "x" * 9 + "…"
        assert safe_header_text("짧은 제목") == "짧은 제목"

    def test_subject_counts_themes_and_period(self) -> None:
        """MOFA digest: 3 releases — North Korea, Sanctions (2026-11-27)."""
        digest = digest_of(
            DigestItem(release(1, themes=(("north-korea", 0.9),))),
            DigestItem(release(2, themes=(("north-korea", 0.9),))),
            DigestItem(release(3, themes=(("sanctions", 0.9),))),
        )
        assert (
            subject_for(digest, THEME_NAMES, "MOFA digest")
            == "MOFA digest: 3 releases — North Korea, Sanctions (2026-11-27)"
        )

    def test_single_release_subject_uses_title_and_marks_update(self) -> None:
        """An immediate digest of one corrected release says so in the subject."""
        digest = digest_of(DigestItem(release(1, "Correction", themes=(("cyber", 1),)), True))
        subject = subject_for(digest, THEME_NAMES, "MOFA digest")
        assert subject == "MOFA digest: Updated: Correction — Cyber (2026-11-27)"

    def test_headers_of_an_html_digest(self) -> None:
        """All headers, one recipient, multipart/alternative with text first."""
        digest = digest_of(DigestItem(release(1, themes=(("cyber", 1),))))
        msg = parse(
            build_message(
                digest, MAIL, format="html", theme_names=THEME_NAMES, unsubscribe_secret=SECRET
            )
        )
        assert msg["From"] == "MOFA Monitor <monitor@example.org>"
        assert msg["To"].addresses[0].addr_spec == "reader@example.org"
        assert msg["To"].addresses[0].display_name == "독자 Reader"
        assert msg["Message-ID"] == "<abc.123@mofa-monitor>"
        assert msg["Date"].datetime == NOW
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        token = make_unsubscribe_token(SECRET, "reader@example.org")
        assert msg["List-Unsubscribe"] == (
            f"<https://example.org/u?token={token}>, "
            "<mailto:monitor@example.org?subject=unsubscribe%20reader%40example.org>"
        )
        assert msg.get_content_type() == "multipart/alternative"
        parts = [p.get_content_type() for p in msg.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        assert all(p.get_content_charset() == "utf-8" for p in msg.iter_parts())

    def test_text_format_and_no_unsubscribe_url(self) -> None:
        """format="text" gives text/plain only; without a URL, mailto only and no -Post header."""
        mail = validate(MailConfig, {"from": "monitor@example.org"})
        digest = digest_of(DigestItem(release(1)))
        msg = parse(
            build_message(digest, mail, format="text", theme_names={}, unsubscribe_secret=None)
        )
        assert msg.get_content_type() == "text/plain"
        assert msg["List-Unsubscribe"].startswith("<mailto:monitor@example.org?")
        assert msg["List-Unsubscribe-Post"] is None

    def test_naive_created_at_is_refused(self) -> None:
        """A Date header needs a zone; a naive time is a bug upstream."""
        digest = digest_of(DigestItem(release(1)))
        naive = Digest(**{**digest.__dict__, "created_at": NOW.replace(tzinfo=None)})
        with pytest.raises(ValueError, match="aware"):
            build_message(naive, MAIL, format="text", theme_names={}, unsubscribe_secret=None)


class TestHostileText:
    def message(self) -> tuple[EmailMessage, bytes]:
        rel = release(
            1,
            HOSTILE_TITLE,
            "<img src=x onerror=alert(1)> body\r\nBcc: y@evil.example",
            (("north-korea", 1.0),),
            url="javascript:alert(1)",
            attachments=(Attachment("<b>file</b>.pdf", "https://x.example/f"),),
        )
        msg = build_message(
            digest_of(DigestItem(rel)),
            MAIL,
            format="html",
            theme_names=THEME_NAMES,
            unsubscribe_secret=SECRET,
        )
        raw = msg.as_bytes()
        return parse(msg), raw

    def test_nothing_reaches_headers_raw(self) -> None:
        """No injected Bcc, no line break, subject capped, Korean survives RFC 2047."""
        msg, raw = self.message()
        assert msg["Bcc"] is None and msg["Reply-To"] is None
        head = raw.split(b"\n\n", 1)[0]
        names = set(re.findall(rb"^([A-Za-z-]+):", head, re.MULTILINE))
        assert names == {
            b"From",
            b"To",
            b"Subject",
            b"Date",
            b"Message-ID",
            b"List-Unsubscribe",
            b"List-Unsubscribe-Post",
            b"Auto-Submitted",
            b"X-MOFA-Digest",
            b"Content-Type",
            b"MIME-Version",
        }
        assert "=?utf-8?" in head.decode("ascii")  # encoded, and pure ASCII on the wire
        subject = str(msg["Subject"])
        assert len(subject) <= 200 and subject.endswith("… — North Korea (2026-11-27)")
        assert subject.startswith(
            "MOFA digest: 북한 <script>alert(1)</script> Bcc: x@evil.example 가가"
        )
        assert "\u202e" not in subject and "\x00" not in subject

    def test_html_is_escaped(self) -> None:
        """Scraped markup is shown as text, and a javascript: link is not a link."""
        msg, _raw = self.message()
        html = msg.get_body(("html",)).get_content()
        assert "<script>" not in html and "<img" not in html and "<b>file" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "javascript:" not in html

    def test_title_in_body_is_capped(self) -> None:
        """A 5,000-character title is cut to a readable length in both parts."""
        msg, _raw = self.message()
        text = msg.get_body(("plain",)).get_content()
        assert "가" * 400 not in text and "…" in text


class TestHtml:
    def test_css_is_inlined_and_nothing_external(self) -> None:
        """No <style>, <link>, <script> or remote images: mail clients strip or block them."""
        html = render_html(
            sample_digest(NOW, "Asia/Seoul"), theme_names=THEME_NAMES, unsubscribe=links()
        )
        assert "<style" not in html and "<link" not in html and "<script" not in html
        assert "<img" not in html
        assert 'style="' in html


class TestUnsubscribeToken:
    def test_round_trip(self) -> None:
        """The token carries the address and verifies with the same secret."""
        token = make_unsubscribe_token(SECRET, "Reader+x@example.org")
        assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token)
        assert verify_unsubscribe_token(SECRET, token) == "Reader+x@example.org"

    @pytest.mark.parametrize(
        "mangle",
        [
            lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
            lambda t: (
                make_unsubscribe_token(SECRET, "other@example.org").split(".")[0]
                + "."
                + t.split(".")[1]
            ),
            lambda t: t.replace(".", ""),
            lambda t: "!!!.???",
            lambda t: "",
        ],
        ids=["bad-signature", "swapped-address", "no-dot", "not-base64", "empty"],
    )
    def test_rejects_tampering(self, mangle) -> None:
        """Any change to the token makes it invalid."""
        token = make_unsubscribe_token(SECRET, "reader@example.org")
        assert verify_unsubscribe_token(SECRET, mangle(token)) is None

    def test_other_secret_rejects(self) -> None:
        """A token from another installation is not ours."""
        token = make_unsubscribe_token(b"elsewhere", "reader@example.org")
        assert verify_unsubscribe_token(SECRET, token) is None


class TestSample:
    def test_covers_every_case(self) -> None:
        """All 12 themes, an update, an attachment, hostile text."""
        digest = sample_digest(NOW, "Asia/Seoul")
        themes = {tag.theme for item in digest.items for tag in item.release.themes}
        assert themes == set(DEFAULT_THEME_IDS)
        assert any(item.updated for item in digest.items)
        assert any(item.release.attachments for item in digest.items)
        assert any("<script>" in item.release.title for item in digest.items)


def normalise(text: str) -> str:
    """Blank out what changes between runs: boundaries, the unsubscribe token and the random
    part of a sample Message-ID."""
    text = re.sub(r"={10,}[0-9]+==", "==BOUNDARY==", text)
    text = re.sub(r"\.[0-9a-f]{16}(?=@mofa-monitor\.invalid)", "", text)
    return re.sub(r"token=[A-Za-z0-9_.-]+", "token=TOKEN", text)


def headers_summary(msg: EmailMessage) -> str:
    lines = [f"{name}: {value}" for name, value in msg.items()]
    lines += ["", "parts:"] + [f"  {p.get_content_type()}" for p in msg.walk()]
    return "\n".join(lines) + "\n"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs; UPDATE_GOLDEN=1 to accept"


class TestGolden:
    @pytest.fixture
    def message(self) -> EmailMessage:
        digest = sample_digest(NOW, "Asia/Seoul")
        return parse(
            build_message(
                digest, MAIL, format="html", theme_names=THEME_NAMES, unsubscribe_secret=SECRET
            )
        )

    def test_text(self, message: EmailMessage) -> None:
        """The text part of the sample digest, as a reader sees it."""
        check_golden("sample.txt", normalise(message.get_body(("plain",)).get_content()))

    def test_html(self, message: EmailMessage) -> None:
        """The HTML part of the sample digest, CSS inlined."""
        check_golden("sample.html", normalise(message.get_body(("html",)).get_content()))

    def test_headers(self, message: EmailMessage) -> None:
        """Decoded headers and MIME structure of the sample digest."""
        check_golden("sample.headers", normalise(headers_summary(message)))
