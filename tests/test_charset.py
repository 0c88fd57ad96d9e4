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
