"""What does deciding a page's charset cost, compared with a bare ``bytes.decode``?

UTF-8 pages (what the site serves) take the fast path; pages in a legacy charset are read under
each candidate codec and scored for mojibake (charset-normalizer's mess ratio) — the cost this
measures, on recorded article texts re-encoded as CP949 and windows-1252, in the same run as
the bare decode so the machine's speed cancels out.
Usage: ``python -m bench.decode_speed [--repeat N]``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from bench.parse_speed import median_seconds
from monitor.fetch.payload import decode_body

SITE = Path(__file__).resolve().parents[1] / "tests" / "data" / "site" / "eng" / "brd" / "m_5676"
KOREAN = "<p>대한민국 외교부는 오늘 한반도 평화와 번영을 위한 협력을 강화하기로 했다.</p>\n"


def main(argv: list[str] | None = None) -> int:
    """Print medians and ratios per page kind."""
    parser = argparse.ArgumentParser(prog="python -m bench.decode_speed")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    logging.getLogger("monitor").setLevel(logging.ERROR)  # "labelled X but is Y", per call
    english = "".join(p.read_text("utf-8") for p in sorted(SITE.glob("view_seq*.html")))
    cases = {
        "UTF-8, labelled": (english.encode(), "text/html; charset=utf-8", "utf-8"),
        "windows-1252, labelled": (
            english.encode("cp1252", "replace"),
            "text/html; charset=windows-1252",
            "cp1252",
        ),
        "windows-1252, unlabelled": (english.encode("cp1252", "replace"), "text/html", "cp1252"),
        "CP949, labelled latin-1 (wrong)": (
            (KOREAN * 3000).encode("cp949"),
            "text/html; charset=iso-8859-1",
            "cp949",
        ),
    }
    print(f"{'page':34} {'size':>9} {'bare':>9} {'decided':>9} {'ratio':>6}")
    for name, (body, ctype, codec) in cases.items():
        bare = median_seconds(lambda b=body, c=codec: b.decode(c), args.repeat)
        ours = median_seconds(lambda b=body, t=ctype: decode_body(b, t), args.repeat)
        print(
            f"{name:34} {len(body) / 1000:>7.0f}kB {bare * 1000:>7.2f}ms "
            f"{ours * 1000:>7.2f}ms {ours / bare:>6.0f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
