"""Listing rows whose seq cannot be read are reported, not dropped silently (parse stage)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.localsite import SiteServer
from monitor.parse.board import parse_listing
from monitor.schedule.app import App

URL = "https://www.mofa.go.kr/eng/brd/m_5676/list.do"


def row(seq: str, title: str) -> str:
    return (
        f"<tr><td>1</td><td class='left'><a href=\"javascript:void(0);\" "
        f"onclick=\"f_view('{seq}');\">{title}</a></td><td>2026-11-30</td></tr>"
    )


def href_row(seq: str, title: str) -> str:
    return (
        f"<tr><td>1</td><td><a href='/eng/brd/m_5676/view.do?seq={seq}'>{title}</a></td>"
        "<td>2026-11-30</td></tr>"
    )


def listing(*rows: str) -> str:
    return (
        "<html><body><div class='total'>Total 5</div><table><thead><tr><th>No</th>"
        f"<th>Title</th><th>Date</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "</body></html>"
    )


@pytest.mark.parametrize(
    "bad",
    [
        row("9" * 5000, "Huge seq"),
        row("12a", "Letters seq"),
        row("-5", "Negative seq"),
        row("１２３", "Fullwidth seq"),
        href_row("１２３", "Fullwidth href seq"),
        href_row("x", "No digits"),
    ],
    ids=["5000_digits", "letters", "negative", "fullwidth", "fullwidth_href", "no_digits"],
)
def test_an_unreadable_seq_costs_its_row_and_is_listed(bad: str) -> None:
    parsed = parse_listing(listing(row("900001", "Good one"), bad, row("900002", "Good two")), URL)
    assert [e.seq for e in parsed.entries] == [900001, 900002]
    assert len(parsed.problems) == 1
    assert "row 2 skipped" in parsed.problems[0] and "plain-number seq" in parsed.problems[0]


def test_rows_without_article_links_are_not_problems() -> None:
    parsed = parse_listing(listing("<tr><td colspan=3>No posts</td></tr>", row("1", "A")), URL)
    assert parsed.problems == ()


def test_a_board_ending_before_max_pages_gives_no_continue_warning(
    make_site: Callable[..., SiteServer], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = make_site(mode="dynamic")
    site.publish(500001, "First Release", "2026-06-01", "1. Text.")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[service]\nstate_dir = "state"\nrequest_delay = "0s"\ntimeout = "2s"\n'
        f'max_pages = 3\n[[sources]]\nid = "src"\nurl = "{site.list_url()}"\n',
        encoding="utf-8",
    )
    with App(load_config(config)) as app:
        app.tick(send=False)
        site.publish(500002, "Second Release", "2026-06-02", "1. Text.")
        # Page 1 holds only news (no known row to stop at); page 2 is past the board's end.
        site.canned(
            "/eng/brd/m_5676/list.do?page=1", listing(row("500002", "Second Release")).encode()
        )
        with caplog.at_level(logging.WARNING):
            outcome = app.poller.poll_all().outcomes[0]
    assert outcome.error is None and outcome.new == ["m_5676-500002"]
    assert not [r for r in caplog.records if "may continue past page" in r.getMessage()]
