"""Charset decisions: a declared charset wins unless the bytes prove it wrong; no stored mojibake.

Unit cases go through :func:`monitor.fetch.payload.decode_body`; one end-to-end case serves the page
from 127.0.0.1 through the real Fetcher and board parser into the stored title.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sitekit import SiteServer

from monitor.errors import FetchError
from monitor.fetch.http import Fetcher, FetchSettings
from monitor.fetch.payload import decode_body
from monitor.parse import board as mofa

ENGLISH = (
    "<html><head><title>Press</title></head><body><p>Korea’s minister said the Republic of "
    "Korea’s position is firm.</p></body></html>"
)
KOREAN = "<html><body><p>한국 정부는 오늘 외교부 장관이 발표했다고 밝혔다.</p></body></html>"


class TestDeclaredCharsetWins:
    @pytest.mark.parametrize("label", ["windows-1252", "cp1252", "WINDOWS-1252"])
    def test_curly_apostrophes_under_a_windows_1252_label(self, label: str) -> None:
        """0x92 followed by a letter is also a CP949 pair ("뭩"); the label must win."""
        body = ENGLISH.encode("cp1252")
        text, codec = decode_body(body, f"text/html; charset={label}")
        assert "Korea’s" in text and codec == "cp1252"

    def test_meta_label_wins_too(self) -> None:
        body = ('<meta charset="windows-1252">' + ENGLISH).encode("cp1252")
        text, _ = decode_body(body, "text/html")
        assert "Korea’s minister" in text

    @pytest.mark.parametrize(
        ("sample", "label"),
        [
            ("Café in São Paulo — naïve “quotes”", "windows-1252"),
            ("Communiqué de presse, Zürich", "iso-8859-1"),
            ("Déclaration « Paix » à Séoul, 5 €", "iso-8859-15"),
        ],
    )
    def test_western_text_stays_western(self, sample: str, label: str) -> None:
        body = f"<p>{sample}</p>".encode(label)
        text, _ = decode_body(body, f"text/html; charset={label}")
        assert text == f"<p>{sample}</p>"

    @pytest.mark.parametrize("label", ["iso-8859-1", "latin1", "us-ascii"])
    def test_latin1_and_ascii_labels_mean_windows_1252_as_in_browsers(self, label: str) -> None:
        """0x92 under ISO-8859-1 is an invisible C1 control; browsers read windows-1252."""
        text, codec = decode_body(ENGLISH.encode("cp1252"), f"text/html; charset={label}")
        assert "Korea’s" in text and codec == "cp1252"

    def test_korean_under_a_latin_label_is_proven_wrong(self) -> None:
        """Hangul under a Latin label reads as "ÇÑ±¹" mojibake: the bytes prove the label wrong."""
        text, codec = decode_body(KOREAN.encode("cp949"), "text/html; charset=windows-1252")
        assert (text, codec) == (KOREAN, "cp949")

    def test_utf8_under_a_latin_label_is_proven_wrong(self) -> None:
        text, codec = decode_body(ENGLISH.encode(), "text/html; charset=windows-1252")
        assert (text, codec) == (ENGLISH, "utf-8")


class TestGuessesNeverStoreMojibake:
    def test_unlabelled_curly_quotes_are_not_korean(self) -> None:
        """No label at all: CP949 decodes the bytes, but reads worse than windows-1252."""
        text, codec = decode_body(ENGLISH.encode("cp1252"), "text/html")
        assert "Korea’s" in text and "뭩" not in text and codec == "cp1252"

    def test_unlabelled_korean_is_cp949(self) -> None:
        assert decode_body(KOREAN.encode("cp949"), "text/html") == (KOREAN, "cp949")

    def test_no_clean_reading_is_refused(self) -> None:
        """Bytes no candidate reads cleanly fail loudly instead of becoming stored mojibake."""
        garbage = b"<p>" + bytes(range(0x80, 0x100)) * 4 + b"</p>"
        with pytest.raises(FetchError, match="cannot decode"):
            decode_body(garbage, "text/html")


class TestAStrayByteInUtf8:
    """One broken byte in one item of a UTF-8 feed or listing: that item shows U+FFFD, as a
    browser shows it, and every other item reads as published (the whole page was refused)."""

    FEED = "<?xml version='1.0' encoding='UTF-8'?><rss><channel>{items}</channel></rss>"
    ITEM = "<item><title>{title}</title><link>{link}</link></item>"

    def feed(self, stray: bytes) -> bytes:
        items = "".join(
            self.ITEM.format(
                title=f"한미 외교장관 회담 결과 {seq}",
                link=f"https://www.mofa.go.kr/www/brd/m_4080/view.do?seq={seq}",
            )
            for seq in range(1, 8)
        )
        broken = self.ITEM.format(
            title="대변인 정례브리핑 @", link="https://www.mofa.go.kr/www/brd/m_4080/view.do?seq=9"
        ).encode()
        return (
            self.FEED.format(items=items)
            .encode()
            .replace(b"</channel>", broken.replace(b"@", stray) + b"</channel>")
        )

    @pytest.mark.parametrize("stray", [b"\xff", b"\xc3(", b"\xed\xa0\x80"])
    def test_the_other_items_survive(self, stray: bytes, caplog: pytest.LogCaptureFixture) -> None:
        from monitor.parse.feed import parse_feed

        text, codec = decode_body(self.feed(stray), "application/rss+xml", url="feed")
        assert codec == "utf-8" and "invalid in UTF-8" in caplog.text
        titles = {
            e.seq: e.title
            for e in parse_feed(text, "https://www.mofa.go.kr/www/brd/rss.do?brdId=235").entries
        }
        assert titles[3] == "한미 외교장관 회담 결과 3" and len(titles) == 8
        assert "\ufffd" in titles[9] and titles[9].startswith("대변인 정례브리핑")

    def test_korean_in_cp949_labelled_utf8_is_still_cp949(self) -> None:
        """Legacy bytes are mostly invalid UTF-8: no evidence of damaged UTF-8 there."""
        body = KOREAN.encode("cp949")
        assert decode_body(body, "text/html; charset=utf-8") == (KOREAN, "cp949")

    @pytest.mark.parametrize("label", [None, "text/html; charset=utf-8"])
    def test_cp949_that_is_also_two_byte_utf8_stays_cp949(self, label: str | None) -> None:
        """Hangul whose CP949 bytes are valid two-byte UTF-8 too (체크, 화환 …): a clean strict
        reading wins over damaged UTF-8. Found by an independent attack."""
        words = "체크 치킨 화환 처치 청탁 활황 호환 혼탁 표창 회화 환호 타탁 탄탄 " * 8
        page = f"<p>{words}대한민국 외교부</p>"
        assert decode_body(page.encode("cp949"), label) == (page, "cp949")

    def test_without_enough_clean_utf8_the_page_is_still_refused(self) -> None:
        """An English page (two curly quotes) with a broken byte: too little evidence."""
        body = ENGLISH.encode().replace(b"firm", b"fi\xffrm")
        with pytest.raises(FetchError, match="cannot decode"):
            decode_body(body, "text/html; charset=utf-8")


def test_served_windows_1252_page_stores_the_right_title(
    make_site: Callable[..., SiteServer],
) -> None:
    """End to end over HTTP: a listing labelled windows-1252 keeps "Korea’s" in the title."""
    site = make_site(mode="dynamic", cookie_gate=False)
    path = "/eng/brd/m_5676/list.do?page=1"
    page = (
        "<html><head><meta http-equiv='Content-Type' content='text/html; charset=windows-1252'>"
        "</head><body><table><tbody><tr><td>1</td><td><a href='#none' "
        "onclick=\"f_view('7');return false;\">Korea’s Statement on Trade</a></td>"
        "<td>2026-06-01</td></tr></tbody></table></body></html>"
    ).encode("cp1252")
    site.canned(path, page, content_type="text/html; charset=windows-1252")
    with Fetcher(FetchSettings("test-agent", request_delay=0)) as fetcher:
        result = fetcher.get(site.url(path))
    titles = [e.title for e in mofa.parse_listing(result.text or "", site.url(path)).entries]
    assert titles == ["Korea’s Statement on Trade"]
