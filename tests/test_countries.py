"""Country tagging: ISO codes of the foreign countries a release names, in order of mention."""

from __future__ import annotations

import pytest

from monitor.classify.countries import find_countries


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Support for the Ukrainian people", ("UA",)),
        ("Talks with the U.S. and the United States of America and Americans", ("US",)),
        ("DPRK, North Korea, North Korean troops, Pyongyang", ("KP",)),
        ("Civilians in Gaza and Palestinian refugees", ("PS",)),
        ("Israel and the Russian side", ("IL", "RU")),
        ("The PRC and Chinese and Japanese officials", ("CN", "JP")),
        ("The EU and the European Union", ()),
        ("Türkiye, formerly Turkey", ("TR",)),
        ("Georgia, Jordan and Chad", ("GE", "JO", "TD")),
        ("우크라이나와 미국, 일본의 외교장관; 북한의 도발", ("UA", "US", "JP", "KP")),
    ],
    ids=["demonym", "us-forms", "dprk-forms", "palestine", "israel-russia", "china-japan",
         "eu-skipped", "turkiye", "short-names", "korean"],
)  # fmt: skip
def test_names(text: str, expected: tuple[str, ...]) -> None:
    """Names, short forms, demonyms and capitals map to one code each."""
    assert find_countries(text) == expected


class TestKoreaExcluded:
    def test_korea_itself_is_not_a_country_here(self) -> None:
        """Korea, ROK, Republic of Korea and Korean are the publisher, not a named country."""
        assert find_countries("The Republic of Korea (ROK) and Korean nationals in Korea") == ()

    def test_north_korea_not_swallowed(self) -> None:
        """'North Korea' is KP even right after a Korea mention; the peninsula is not KP."""
        assert find_countries("Korea-North Korea talks") == ("KP",)
        assert find_countries("peace on the Korean Peninsula, South Korean firms") == ()
        assert find_countries("대한민국과 한국, 남북 관계") == ()


class TestLongestMatch:
    def test_guinea_family(self) -> None:
        """The longest name wins: no stray GN inside longer names."""
        text = "Papua New Guinea, Equatorial Guinea, Guinea-Bissau and Guinea"
        assert find_countries(text) == ("PG", "GQ", "GW", "GN")

    def test_niger_nigeria(self) -> None:
        """Whole words only: Nigeria is not Niger."""
        assert find_countries("Nigeria and Niger") == ("NG", "NE")

    def test_skip_phrases(self) -> None:
        """Regions and money do not name countries."""
        text = "Latin American partners, the Director-General for North American Affairs, US$10 million"
        assert find_countries(text) == ()

    def test_korean_india_not_humanitarian(self) -> None:
        """인도적 (humanitarian) is not 인도 (India); 인도네시아 is Indonesia."""
        assert find_countries("인도적 지원과 인도네시아, 인도") == ("ID", "IN")


def test_ordered_by_first_mention() -> None:
    """Codes come in the order the countries are first named."""
    assert find_countries("Egypt, Qatar, then Egypt and Israel again") == ("EG", "QA", "IL")


def test_invisible_characters_and_line_breaks() -> None:
    """NBSP, zero-width spaces and stray line breaks do not split names."""
    assert find_countries("South\u00a0Africa and Saudi\r\nArabia\u200b") == ("ZA", "SA")
