"""The small archive behind ``tests/test_archive_scale.py``'s golden listings.

Only the store's public API and the records of :mod:`monitor.models`, so the code of an earlier
schema builds the very same archive: that is how ``tests/data/releases_listing/`` was written
(``python -m tests.archive_fixture OUT_DIR`` run against the schema-5 code).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from monitor.models import Attachment, Classification, Evidence, Release, ThemeTag
from monitor.store.sqlite import Store

START = dt.datetime(2026, 11, 20, 8, 0, 0, 250000, tzinfo=dt.UTC)
BOARD_URL = "https://www.mofa.go.kr/eng/brd/{board}/view.do?seq={seq}"

#: The listings compared with the golden files: name → arguments after ``releases``.
LISTINGS = {
    "plain": [],
    "json": ["--json"],
    "theme_since": ["--theme", "north-korea", "--since", "2026-11-01"],
    "theme_since_json": ["--json", "--theme", "north-korea", "--since", "2026-11-01"],
    "since_limit": ["--since", "2026-10-01", "--limit", "4"],
    "theme": ["--theme", "sanctions"],
}


class StepClock:
    """A clock that moves only when told: equal stamps are part of the fixture (ties)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def step(self, seconds: float = 61.5) -> None:
        self.now += dt.timedelta(seconds=seconds)


def make_release(
    seq: int,
    title: str,
    date: dt.date | None,
    body: str,
    *,
    board: str = "m_5676",
    attachments: tuple[Attachment, ...] = (),
    image_only: bool = False,
) -> Release:
    return Release(
        id=f"{board}-{seq}",
        source="mofa-en",
        board=board,
        seq=seq,
        title=title,
        date=date,
        url=BOARD_URL.format(board=board, seq=seq),
        body=body,
        summary=body.split("\n")[0],
        attachments=attachments,
        image_only=image_only,
    )


def tags(*themes: tuple[str, float], countries: tuple[str, ...] = ()) -> Classification:
    return Classification(
        tuple(
            ThemeTag(theme, score, (Evidence(theme.replace("-", " "), "body", int(score)),))
            for theme, score in themes
        ),
        countries,
        "fixture-1",
    )


def build_archive(store: Store, clock: StepClock) -> None:
    """A small archive with every case the listing's order and formats meet: equal dates broken
    by first-seen time, equal dates and stamps broken by seq, no date, two boards, non-ASCII and
    control characters, attachments, an image-only release, and a corrected one (revision 2)."""
    store.ensure_source("mofa-en", "mofa-board", "https://www.mofa.go.kr/eng/brd/m_5676/list.do")
    nk = tags(("north-korea", 12.0), ("sanctions", 6.5), countries=("KP", "US"))
    cases: list[tuple[Release, Classification]] = [
        (
            make_release(
                100,
                "Minister Meets Special Representative for North Korea",
                dt.date(2026, 11, 3),
                "1. The minister met the representative.\n2. Both sides discussed denuclearisation.",
            ),
            nk,
        ),
        (
            make_release(
                101,
                "Sanctions Designations Announced",
                dt.date(2026, 11, 3),
                "1. The government designated individuals.",
                attachments=(Attachment("List of designees.pdf", "https://www.mofa.go.kr/a/1"),),
            ),
            tags(("sanctions", 9.0)),
        ),
        (
            make_release(
                7,
                "Outcome of Humanitarian Consultations",
                dt.date(2026, 10, 15),
                "1. Aid was pledged.",
            ),
            tags(("humanitarian-aid", 7.0), countries=("VE",)),
        ),
        (
            make_release(
                99,
                "Vice Minister\x1b[31m Attends Forum \u202eevil",
                dt.date(2026, 9, 1),
                "1. Remarks \x07 delivered.\n2. 한국어 문단.",
                attachments=(Attachment("첨부 파일.hwp", "https://www.mofa.go.kr/a/2"),),
            ),
            tags(("multilateral", 5.5)),
        ),
        (
            make_release(
                55, "Undated Notice", None, "1. A notice without a date.", image_only=True
            ),
            tags(),
        ),
    ]
    for release, classification in cases:
        store.insert_release(
            release,
            content_hash=f"h-{release.id}",
            baseline=False,
            poll_run_id=None,
            classification=classification,
        )
        clock.step()
    # Same date and the same first-seen stamp: seq decides (higher first), across two boards.
    for board, seq in (("m_5676", 300), ("m_5674", 301), ("m_5676", 299)):
        store.insert_release(
            make_release(
                seq,
                f"Press Briefing {seq}",
                dt.date(2026, 11, 12),
                f"1. Briefing {seq}.",
                board=board,
            ),
            content_hash=f"h-{board}-{seq}",
            baseline=True,
            poll_run_id=None,
            classification=nk if seq == 301 else tags(("north-korea", 5.0)),
        )
    clock.step()
    # A correction: revision 2 of seq 100, with a new title, body and attachment.
    row = store.stored_version("m_5676", 100)
    assert row is not None
    store.update_release(
        row.row_id,
        make_release(
            100,
            "Minister Meets Special Representative for North Korea (Corrected)",
            dt.date(2026, 11, 3),
            "1. The minister met the special representative.\n2. Both sides discussed denuclearisation.",
            attachments=(Attachment("Joint statement.pdf", "https://www.mofa.go.kr/a/3"),),
        ),
        content_hash="h-m_5676-100-r2",
        classification=nk,
    )
    clock.step()


def make_archive(folder: Path) -> Path:
    """``folder`` with a ``config.toml`` whose state holds :func:`build_archive`'s archive."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text('[service]\nstate_dir = "state"\n', encoding="utf-8")
    clock = StepClock(START)
    with Store.in_dir(folder / "state", clock=clock) as store:
        build_archive(store, clock)
    return folder


def main(out_dir: str) -> int:
    """Write each listing of :data:`LISTINGS` as the installed code prints it."""
    import contextlib
    import io
    import os
    import tempfile

    from monitor.cli import main as cli

    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_archive(Path(tmp))
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            for name, args in LISTINGS.items():
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    assert cli(["--config", "config.toml", "releases", *args]) == 0
                (target / f"{name}.txt").write_text(out.getvalue(), encoding="utf-8")
        finally:
            os.chdir(cwd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
