"""A sample digest that exercises every rendering case, for ``send-test`` and for eyeballing.

Like urlwatch's ``--test-reporter``: one mail that shows every theme, an "Updated" release, an
attachment and a release with hostile text, so an operator sees at once whether the transport,
the mail client and the escaping all work.

It must never pass for news: every title starts with "SAMPLE", the stories are about made-up
places (Freedonia, Sylvania), every link points to ``example.invalid`` (RFC 2606: it never
resolves), and the body opens with :data:`TEST_NOTICE`. ``send-test`` adds "[TEST]" to the
Subject.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from monitor.models import (
    Attachment,
    Digest,
    DigestItem,
    Evidence,
    Release,
    SeenRevision,
    ThemeTag,
    release_id,
)
from monitor.render.view import describe_changes

BASE = "https://example.invalid/mofa-monitor/sample/view.do?seq="
TEST_NOTICE = (
    "TEST MESSAGE from mofa-monitor send-test. The releases below are made-up samples, not "
    "news from the ministry; their links lead nowhere."
)

_HOSTILE_TITLE = (
    "SAMPLE 유엔 안보리 결의 관련 외교부 대변인 논평 (표본) <script>alert(1)</script>"
    "\r\nBcc: x@evil.example \u202eevil\u202c =?utf-8?q?=0D=0AReply-To:_x@evil.example?="
)


def _tag(theme: str, score: float, *terms: tuple[str, str, int]) -> ThemeTag:
    return ThemeTag(theme, score, tuple(Evidence(t, where, n) for t, where, n in terms))


def _release(
    seq: int, day: dt.date, title: str, summary: str, *tags: ThemeTag, **kw: Any
) -> Release:
    return Release(
        id=release_id("m_5676", seq),
        source="mofa-en",
        board="m_5676",
        seq=seq,
        title=title,
        date=day,
        url=f"{BASE}{seq}",
        body=summary,
        summary=summary,
        themes=tags,
        **kw,
    )


def _releases(day: dt.date) -> list[Release]:
    yesterday = day - dt.timedelta(days=1)
    return [
        _release(
            321401,
            day,
            "SAMPLE: Statement on a Fictional Missile Test by Freedonia (not real news)",
            "Sample text: this made-up statement shows how a North Korea item looks in a digest. "
            "Freedonia and its test do not exist.",
            _tag("north-korea", 0.96, ("North Korea", "title", 1), ("ICBM", "title", 1)),
            _tag("security-defense", 0.55, ("deterrence", "body", 2)),
            countries=("KP",),
        ),
        _release(
            321398,
            day,
            "SAMPLE: Made-up Sanctions Designations Against Fictional Hackers",
            "Sample text for a corrected release, shown as Updated. The designations, the "
            "hackers and the crypto-assets are invented for this test.",
            _tag("sanctions", 0.92, ("designat", "title", 1), ("sanctions", "body", 3)),
            _tag("cyber", 0.88, ("crypto-assets", "body", 2), ("hackers", "body", 1)),
            _tag("north-korea", 0.5, ("North Korea", "title", 1)),
            countries=("KP",),
            revision=2,
            updated_at=dt.datetime.combine(day, dt.time(9, 30), dt.UTC),
        ),
        _release(
            321395,
            yesterday,
            "SAMPLE: Imaginary Human Rights Resolution on Sylvania",
            "Sample text: an invented resolution, to show the human rights theme.",
            _tag("human-rights", 0.9, ("human rights", "title", 1), ("abductees", "body", 1)),
            _tag("multilateral", 0.45, ("Human Rights Council", "title", 1)),
        ),
        _release(
            321392,
            yesterday,
            "SAMPLE: Example Humanitarian Assistance to Freedonia (with an attachment)",
            "Sample text: made-up assistance, to show a release with an attached file.",
            _tag("humanitarian-aid", 0.93, ("humanitarian assistance", "title", 1)),
            _tag("conflict-crisis", 0.62, ("conflict", "body", 1), ("Freedonia", "title", 1)),
            attachments=(
                Attachment(
                    "Sample attachment (not a real file).pdf",
                    "https://example.invalid/mofa-monitor/sample/down.do?seq=321392&file=1",
                ),
            ),
        ),
        _release(
            321390,
            yesterday,
            "SAMPLE: Fictional Travel Advisory for Sylvania's Border Regions",
            "Sample text: an invented advisory about armed clashes, to show consular safety.",
            _tag("consular-safety", 0.95, ("travel advisory", "title", 1)),
            _tag("conflict-crisis", 0.4, ("armed clashes", "title", 1)),
        ),
        _release(
            321388,
            yesterday,
            "SAMPLE: Made-up Economic Security Dialogue on Semiconductors",
            "Sample text: an invented dialogue, to show the economy and trade theme.",
            _tag("economy-trade", 0.87, ("economic security", "title", 1)),
            _tag("technology", 0.35, ("semiconductors", "body", 1)),
        ),
        _release(
            321385,
            yesterday,
            "SAMPLE: Imaginary Meeting on AI in the Military Domain",
            "Sample text: an invented meeting on artificial intelligence, to show technology.",
            _tag("technology", 0.9, ("AI", "title", 1), ("artificial intelligence", "body", 1)),
            _tag("security-defense", 0.7, ("Military Domain", "title", 1)),
        ),
        _release(
            321381,
            yesterday,
            "SAMPLE: Fictional Climate Pledge at an Example Conference",
            "Sample text: an invented pledge, to show the climate theme.",
            _tag("climate-environment", 0.94, ("climate", "title", 1), ("climate", "body", 1)),
            _tag("multilateral", 0.3, ("climate", "body", 1)),
        ),
        _release(
            321379,
            yesterday,
            _HOSTILE_TITLE,
            "표본 본문입니다 (sample text, not news). "
            "<img src=x onerror=alert(1)> \u0007 Reply-To: x@evil.example",
            _tag("multilateral", 0.8, ("안보리", "title", 1), ("<b>UNSC</b>", "body", 1)),
        ),
    ]


#: What the reader of the corrected release (321398) had been sent first.
_FIRST_VERSION = SeenRevision(
    1,
    "SAMPLE: Made-up Designations Against Fictional Hackers",
    "Sample text for the first version of a corrected release. The designations, the hackers "
    "and the crypto-assets are invented for this test.",
    (),
)


def build_sample_digest(now: dt.datetime, timezone: str = "UTC") -> Digest:
    """The sample digest as of ``now`` (aware): a daily digest for ``test@example.org``, with
    its dates in ``timezone`` (the reader's zone) and :data:`TEST_NOTICE` on top."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    day = now.astimezone(ZoneInfo(timezone)).date()
    # The one corrected release (revision 2) shows as "Updated"; the others are new.
    items = tuple(
        DigestItem(release, True, describe_changes(_FIRST_VERSION, release))
        if release.revision > 1
        else DigestItem(release)
        for release in _releases(day)
    )
    return Digest(
        subscriber_email="test@example.org",
        subscriber_name="Test Reader",
        key=f"daily:{day.isoformat()}",
        label=f"{day.day} {day:%b %Y}",
        items=items,
        # Unique per call: two tests in one second (or to two addresses) are two messages, and the
        # Maildir file name derives from the Message-ID. 64 random bits; the header stays one line.
        message_id=f"sample.{now:%Y%m%d%H%M%S}.{uuid.uuid4().hex[:16]}@mofa-monitor.invalid",
        created_at=now,
        timezone=timezone,
        notice=TEST_NOTICE,
    )
