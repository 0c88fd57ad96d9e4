"""A sample digest that exercises every rendering case, for ``send-test`` and for eyeballing.

Like urlwatch's ``--test-reporter``: one mail that shows every theme, an "Updated" release, an
attachment and a release with hostile text, so an operator sees at once whether the transport,
the mail client and the escaping all work.
"""

from __future__ import annotations

import datetime as dt

from monitor.digest import Digest, DigestItem
from monitor.digestview import describe_changes
from monitor.models import Attachment, Evidence, Release, ThemeTag, release_id
from monitor.store import SeenRevision

BASE = "https://www.mofa.go.kr/eng/brd/m_5676/view.do?seq="

_HOSTILE_TITLE = (
    "유엔 안보리 대북 결의 채택 관련 외교부 대변인 논평 <script>alert(1)</script>"
    "\r\nBcc: x@evil.example \u202eevil\u202c"
)


def _tag(theme: str, score: float, *terms: tuple[str, str, int]) -> ThemeTag:
    return ThemeTag(theme, score, tuple(Evidence(t, where, n) for t, where, n in terms))


def _release(seq: int, day: dt.date, title: str, summary: str, *tags: ThemeTag, **kw) -> Release:
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
            "Foreign Ministry Spokesperson's Statement on North Korea's ICBM Launch",
            "The Government strongly condemns North Korea's launch of an intercontinental "
            "ballistic missile this morning, a clear violation of UN Security Council "
            "resolutions, and will respond firmly together with the international community.",
            _tag("north-korea", 0.96, ("North Korea", "title", 1), ("ICBM", "title", 1)),
            _tag("security-defense", 0.55, ("deterrence", "body", 2)),
            countries=("KP",),
        ),
        _release(
            321398,
            day,
            "Korea Designates Individuals Involved in North Korea's Illicit Cyber Activities",
            "The Government designated four individuals and two entities for laundering "
            "crypto-assets stolen by North Korean hackers to finance weapons programmes. "
            "(Corrected: the number of entities was two, not three.)",
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
            "Statement on the UN Human Rights Council Resolution on North Korean Human Rights",
            "Korea co-sponsored the resolution adopted by consensus, which calls for "
            "accountability and for the immediate release of abductees and detainees.",
            _tag("human-rights", 0.9, ("human rights", "title", 1), ("abductees", "body", 1)),
            _tag("multilateral", 0.45, ("Human Rights Council", "title", 1)),
        ),
        _release(
            321392,
            yesterday,
            "Korea Provides USD 2 Million in Humanitarian Assistance for Civilians in Gaza",
            "The assistance, delivered through the World Food Programme and UNICEF, will "
            "supply food, medical supplies and clean water to civilians affected by the conflict.",
            _tag("humanitarian-aid", 0.93, ("humanitarian assistance", "title", 1)),
            _tag("conflict-crisis", 0.62, ("conflict", "body", 1), ("Gaza", "title", 1)),
            attachments=(
                Attachment(
                    "Press release (PDF, 120 KB).pdf",
                    "https://www.mofa.go.kr/eng/brd/m_5676/down.do?seq=321392&file=1",
                ),
            ),
        ),
        _release(
            321390,
            yesterday,
            "Travel Advisory Raised to Level 3 for Border Regions Following Armed Clashes",
            "Korean nationals in the affected regions are urged to leave, and those planning "
            "travel to cancel or postpone it. The embassy runs a 24-hour consular hotline.",
            _tag("consular-safety", 0.95, ("travel advisory", "title", 1)),
            _tag("conflict-crisis", 0.4, ("armed clashes", "title", 1)),
        ),
        _release(
            321388,
            yesterday,
            "First Korea–EU Economic Security Dialogue Held in Brussels",
            "The two sides discussed supply chain resilience for critical minerals and "
            "semiconductors, export controls on emerging technologies and energy markets.",
            _tag("economy-trade", 0.87, ("economic security", "title", 1)),
            _tag("technology", 0.35, ("semiconductors", "body", 1)),
        ),
        _release(
            321385,
            yesterday,
            "Seoul Hosts Ministerial Meeting on Responsible AI in the Military Domain",
            "Ministers endorsed a blueprint for action on the governance of military uses of "
            "artificial intelligence, including human control over the use of force.",
            _tag("technology", 0.9, ("AI", "title", 1), ("artificial intelligence", "body", 1)),
            _tag("security-defense", 0.7, ("Military Domain", "title", 1)),
        ),
        _release(
            321381,
            yesterday,
            "Korea Announces USD 300 Million Green Climate Fund Pledge at COP31",
            "The pledge supports developing countries' adaptation to climate change and the "
            "green transition, and doubles Korea's previous contribution.",
            _tag("climate-environment", 0.94, ("climate", "title", 1), ("COP31", "title", 1)),
            _tag("multilateral", 0.3, ("COP31", "title", 1)),
        ),
        _release(
            321379,
            yesterday,
            _HOSTILE_TITLE,
            "유엔 안전보장이사회는 새로운 대북 제재 결의를 채택하였다. "
            "<img src=x onerror=alert(1)> \u0007 Reply-To: x@evil.example",
            _tag("multilateral", 0.8, ("안보리", "title", 1), ("<b>UNSC</b>", "body", 1)),
        ),
    ]


#: What the reader of the corrected release (321398) had been sent first.
_FIRST_VERSION = SeenRevision(
    1,
    "Korea Designates Individuals Involved in North Korea's Illicit Cyber Activities",
    "The Government designated four individuals and three entities for laundering "
    "crypto-assets stolen by North Korean hackers to finance weapons programmes.",
    (),
)


def build_sample_digest(now: dt.datetime) -> Digest:
    """The sample digest as of ``now`` (aware): a daily digest for ``test@example.org``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    day = now.date()
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
        message_id=f"sample.{now:%Y%m%d%H%M%S}@mofa-monitor.invalid",
        created_at=now,
    )
