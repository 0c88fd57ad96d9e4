"""HTML and RSS in the ministry's markup, rendered from release records for the local site.

The recorded pages in ``tests/data/site`` are fixed; tests of polling, catch-up and edits, and
the offline demo, need a board that changes between polls. These templates reproduce the
structure of the recorded pages (the parts parsers rely on: ``table tbody tr``,
``onclick="f_view('N')"``, ``.board_total``, ``.board_detail .bo_head h2``, the ``Date`` label,
``.bo_con`` paragraphs, ``.bo_file`` links) so a parser that reads the recorded pages reads
these too.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from email.utils import format_datetime

from monitor.parse.urls import BOARDS

BOARD_TITLES = {board: b.title for board, b in BOARDS.items()}
#: RSS ``brdId`` → board, as on the real site.
FEED_BOARDS = {b.brd_id: board for board, b in BOARDS.items() if b.brd_id is not None}
PAGE_SIZE = 10
FEED_SIZE = 30


@dataclass(frozen=True)
class Release:
    """One release as the test site publishes it; ``date`` is ``YYYY-MM-DD`` (KST)."""

    seq: int
    title: str
    date: str
    body: str
    board: str = "m_5676"
    attachments: tuple[str, ...] = field(default=())
    hits: int = 100


def board_title(board: str) -> str:
    return BOARD_TITLES.get(board, f"Board {board}")


_HEADER = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>{title} | Ministry of Foreign Affairs, Republic of Korea</title>
</head>
<body>
<div id="skipNav"><a href="#contents">본문 바로가기</a> <a href="#gnb">주메뉴 바로가기</a></div>
<header id="header"><h1><a href="/eng/index.do">Ministry of Foreign Affairs REPUBLIC OF KOREA</a></h1>
<nav id="gnb"><ul class="depth1">
<li><a href="/eng/wpge/m_5430/contents.do">Press</a><ul class="depth2"><li><a href="/eng/wpge/m_5430/contents.do">Press Releases</a></li><li><a href="/eng/wpge/m_5431/contents.do">Press Briefings</a></li><li><a href="/eng/wpge/m_5432/contents.do">Ministry News</a></li></ul></li>
<li><a href="/eng/wpge/m_5450/contents.do">Consular Services</a><ul class="depth2"><li><a href="/eng/wpge/m_5450/contents.do">Travel Advisories</a></li></ul></li>
</ul></nav></header>
<div id="contents">
  <div class="location"><span>Home</span> &gt; <span>Press</span> &gt; <strong>{board_title}</strong></div>
"""

_FOOTER = """<footer id="footer">Ministry of Foreign Affairs. All rights reserved.</footer>
</body>
</html>
"""

_SEARCH_FORM = """  <h3 class="c_tit">{board_title}</h3>
  <form name="searchForm" id="searchForm" action="./list.do" method="get">
    <input type="hidden" name="page" value="{page}">
    <input type="text" name="srchFr" value=""> ~ <input type="text" name="srchTo" value="">
    <select name="srchTp"><option value="0">Title</option><option value="1">Content</option></select>
    <input type="text" name="srchWord" value=""> <button type="submit">Search</button>
  </form>
"""

_TABLE_HEAD = """  <div class="board_total">Total <strong>{total}</strong></div>
  <div class="board_list">
  <table class="board_list">
    <caption>{board_title} list: number, title, file, date, hit</caption>
    <thead><tr><th scope="col">No.</th><th scope="col">Title</th><th scope="col">File</th><th scope="col">Date</th><th scope="col">Hit</th></tr></thead>
    <tbody>
"""

_ROW = """      <tr>
        <td class="num">{num}</td>
        <td class="left"><a href="#none" onclick="f_view('{seq}');return false;">{title}</a></td>
        <td class="file">{file}</td>
        <td class="date">{date}</td>
        <td class="hit">{hits}</td>
      </tr>
"""

_NO_POSTS_ROW = """      <tr><td colspan="5" class="no_data">No posts</td></tr>
"""
_FILE_ICON = '<img src="/images/common/ico_file.png" alt="첨부파일">'


def _head(title: str, board: str) -> str:
    return _HEADER.format(title=html.escape(title), board_title=html.escape(board_title(board)))


def render_listing(board: str, rows: Sequence[Release], *, page: int, total: int) -> str:
    """A listing page; ``rows`` are this page's releases, newest first (empty → "No posts")."""
    first_num = total - (page - 1) * PAGE_SIZE
    body = "".join(
        _ROW.format(
            num=first_num - i,
            seq=r.seq,
            title=html.escape(r.title, quote=False),
            file=_FILE_ICON if r.attachments else "",
            date=r.date,
            hits=r.hits,
        )
        for i, r in enumerate(rows)
    )
    pages = max(1, -(-total // PAGE_SIZE))
    title = board_title(board)
    return (
        _head(title, board)
        + _SEARCH_FORM.format(board_title=html.escape(title), page=page)
        + _TABLE_HEAD.format(total=total, board_title=html.escape(title))
        + (body or _NO_POSTS_ROW)
        + "    </tbody>\n  </table>\n  </div>\n"
        + _paginate(page, pages)
        + "</div>\n"
        + f"<script>function f_view(seq) {{ location.href = './view.do?seq=' + seq + '&page={page}'; }}</script>\n"
        + _FOOTER
    )


def render_empty_listing(board: str) -> str:
    """A 200 listing page with the site chrome but no table: what a changed site looks like."""
    title = board_title(board)
    return (
        _head(title, board)
        + f'  <h3 class="c_tit">{html.escape(title)}</h3>\n'
        + '  <div class="board_list"><p>Service temporarily unavailable.</p></div>\n</div>\n'
        + _FOOTER
    )


def _paginate(page: int, pages: int) -> str:
    on = ' class="on"'
    links = " ".join(
        f'<a href="./list.do?page={n}"{on if n == page else ""}>{n}</a>'
        for n in range(1, pages + 1)
    )
    if page < pages:
        links += f' <a href="./list.do?page={page + 1}" class="next">Next</a>'
    return f'  <div class="paginate">{links}</div>\n'


def render_article(release: Release, *, older: Release | None, newer: Release | None) -> str:
    """An article page; ``older``/``newer`` fill the Previous/Next links like the site does."""
    paragraphs = "".join(
        f"<p>{html.escape(p.strip())}</p>\n"
        for p in release.body.replace("\r\n", " ").split("\n")
        if p.strip()
    )
    return (
        _head(f"{release.title} | View | {board_title(release.board)}", release.board)
        + '  <div class="board_detail">\n    <div class="bo_head">\n'
        + f"      <h2>{html.escape(release.title, quote=False)}</h2>\n"
        + '      <ul class="bo_info">\n'
        + f'        <li><span class="tit">Date</span> {release.date}</li>\n'
        + f'        <li><span class="tit">Hit</span> {release.hits}</li>\n'
        + "      </ul>\n    </div>\n"
        + f'    <div class="bo_con">\n{paragraphs}    </div>\n'
        + _attachments(release)
        + "  </div>\n"
        + _navi(older, newer)
        + "</div>\n"
        + _FOOTER
    )


def _attachments(release: Release) -> str:
    if not release.attachments:
        return ""
    items = "".join(
        f'      <li><a href="./down.do?brd_id={release.board}&amp;seq={release.seq}'
        f'&amp;data_tp=A&amp;file_seq={i}">{html.escape(name)}</a></li>\n'
        for i, name in enumerate(release.attachments, start=1)
    )
    return f'  <div class="bo_file">\n    <strong>Attachments</strong>\n    <ul>\n{items}    </ul>\n  </div>\n'


def _navi(older: Release | None, newer: Release | None) -> str:
    parts = []
    for css, label, rel in (("prev", "Previous", older), ("next", "Next", newer)):
        if rel is not None:
            title = html.escape(rel.title, quote=False)
            parts.append(
                f'<dl class="{css}"><dt>{label}</dt>'
                f'<dd><a href="./view.do?seq={rel.seq}">{title}</a></dd></dl>'
            )
    return (
        '  <div class="board_navi">\n    '
        + "".join(parts)
        + '\n    <a href="./list.do" class="btn_list">List</a>\n  </div>\n'
    )


def render_feed(releases: Sequence[Release], *, base_url: str, board: str) -> str:
    """The board's RSS 2.0 feed, newest first; links point at ``base_url`` under ``/www/``."""
    title = f"영문대표홈페이지 &gt; Press &gt; {html.escape(board_title(board))}"
    items = "".join(_feed_item(r, base_url) for r in releases[:FEED_SIZE])
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">\n'
        "  <channel>\n"
        f"    <title>{title}</title>\n"
        f"    <link>{base_url}/www/brd/{board}/list.do</link>\n"
        f"    <description>RSS 주소목록  {title}</description>\n"
        f"{items}  </channel>\n</rss>\n"
    )


def _feed_item(release: Release, base_url: str) -> str:
    body = " ".join(release.body.replace("\r\n", " ").split("\n"))
    return (
        "    <item>\n"
        f"      <title>{html.escape(release.title, quote=False)}</title>\n"
        f"      <link>{base_url}/www/brd/{release.board}/view.do?seq={release.seq}</link>\n"
        f"      <content:encoded>{html.escape(body)}</content:encoded>\n"
        f"      <pubDate>{rss_date(release.date)}</pubDate>\n"
        "    </item>\n"
    )


def rss_date(day: str) -> str:
    """The feed's pubDate for a release dated ``day`` (KST): 08:00 GMT is 17:00 KST that day."""
    moment = datetime.combine(date.fromisoformat(day), time(8), tzinfo=UTC)
    return format_datetime(moment, usegmt=True)
