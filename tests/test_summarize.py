"""The lead-paragraph summary: markers and boilerplate gone, short, cut at sentence ends."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.classify.summarize import clean_paragraphs, summarize

LONG = " ".join(f"word{i}" for i in range(80))


def test_numbering_and_boilerplate_removed() -> None:
    """Paragraph markers and translation notes never reach the summary."""
    body = "* unofficial translation\n1. The Government welcomes the agreement reached today by both parties after long talks held in Doha this week.\n/END/"
    assert summarize(body) == (
        "The Government welcomes the agreement reached today by both parties after long talks "
        "held in Doha this week."
    )


def test_every_marker_kind() -> None:
    """°, ◦, o, -, •, ㅇ, ※, *, 2) and (1) are all stripped from paragraph starts."""
    body = "\n".join(
        f"{m} text {i}"
        for i, m in enumerate(["°", "◦", "o", "-", "•", "ㅇ", "※", "*", "2)", "(1)"])
    )
    assert all(p.startswith("text") for p in clean_paragraphs(body))
    assert clean_paragraphs("[Unofficial translation]\nEnd.\n---\n") == []


def test_at_most_sixty_words_cut_at_sentence() -> None:
    """A long lead keeps whole sentences only."""
    first = "The minister met the ambassador on Monday and discussed the cooperation agenda. "
    body = "1. " + first * 6
    result = summarize(body)
    assert len(result.split()) <= 60 and result.endswith("agenda.")


def test_overlong_first_sentence_cut_at_word() -> None:
    """A first sentence longer than the limit is cut at a word with an ellipsis."""
    result = summarize(LONG + ".")
    assert result == " ".join(LONG.split()[:60]) + "…"


def test_abbreviations_do_not_end_sentences() -> None:
    """'U.S.' and 'D.C.' are not sentence ends."""
    body = "Officials visited Washington, D.C. and met U.S. officials. " + LONG
    assert summarize(body) == "Officials visited Washington, D.C. and met U.S. officials."


def test_korean_sentence_endings() -> None:
    """다. / 요. / 음. followed by a space end sentences."""
    body = "1. 정부는 북한의 탄도미사일 발사를 강력히 규탄한다. 이는 안보리 결의 위반이다. 추가 내용이 있음."
    assert summarize(body, max_words=6) == "정부는 북한의 탄도미사일 발사를 강력히 규탄한다."


def test_short_lead_takes_next_paragraph() -> None:
    """A heading-like lead is followed by the next paragraph."""
    body = (
        "Closing Remarks by the Minister\nThe summit ended today with a joint declaration.\nMore."
    )
    assert summarize(body) == (
        "Closing Remarks by the Minister The summit ended today with a joint declaration."
    )


def test_empty_and_image_only() -> None:
    """No text, no summary."""
    assert summarize("") == "" and summarize(" \n\u00a0\n") == "" and summarize("/END/") == ""


def test_stray_crlf_inside_sentences() -> None:
    """Hard line breaks inside a sentence are spaces."""
    assert summarize("1. Following the\r\nannouncement, aid\r\nwill be sent.") == (
        "Following the announcement, aid will be sent."
    )


def _words(text: str) -> list[str]:
    return unicodedata.normalize("NFKC", text).split()


@settings(max_examples=200, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=80))
def test_summary_is_short_extract(body: str, max_words: int) -> None:
    """Output has at most max_words+1 words and its words come, in order, from the body."""
    result = summarize(body, max_words)
    words = result.removesuffix("…").split()
    assert len(words) <= max_words + 1
    source = " ".join(" ".join(clean_paragraphs(body)).split())
    assert " ".join(words).rstrip(",;:") in source or source.startswith(" ".join(words[:-1]))
