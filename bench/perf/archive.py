"""Archives of 100 / 10,000 / 100,000 releases synthesised from the real corpus, cached on disk.

Titles and dates come from the board's real index (``bench/perf/data/titles.jsonl``, 10,768
releases); bodies are real press-release bodies (``tests/data/dev.jsonl`` and the demo corpus)
cut to the length the index gives for that release. Past 10,768 rows the index is reused with the
seq shifted by a million per lap, so every (board, seq) is unique. Every row goes in through
:meth:`Store.insert_release` with the product's classifier, so the file is what the product
itself would have written; only durability is relaxed while building (``synchronous=OFF``).

The result is kept in ``~/.cache/mofa-bench/`` under a name holding the schema (its version and a hash of its SQL), the
recipe version (:data:`RECIPE`), the size
and a hash of the inputs, and copied before use: a bench run never writes into the cache.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from bench.perf import _product

DATA = Path(__file__).resolve().parent / "data"
REPO = Path(__file__).resolve().parents[2]
BODY_FILES = (
    REPO / "tests" / "data" / "dev.jsonl",
    REPO / "monitor" / "data" / "demo_releases.jsonl",
)
CACHE = Path(os.environ.get("MOFA_BENCH_CACHE", Path.home() / ".cache" / "mofa-bench"))
#: Bumped when the way archives are built changes, so cached ones are rebuilt.
RECIPE = 2
URL = "https://www.mofa.go.kr/eng/brd/m_5676/view.do?seq={seq}"


def index_rows() -> list[dict[str, object]]:
    """The board's real index: seq, date, title, content_chars; oldest first."""
    with open(DATA / "titles.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def bodies() -> list[str]:
    """Real press-release bodies (distinct), in a fixed order."""
    seen: dict[str, None] = {}
    for path in BODY_FILES:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    body = json.loads(line).get("body") or ""
                    if body:
                        seen.setdefault(body, None)
    return list(seen)


def synth_body(pool: list[str], i: int, chars: int) -> str:
    """A body of about ``chars`` characters: real bodies, starting at a row-dependent one,
    joined whole paragraph by paragraph and cut at a paragraph end."""
    chars = max(200, min(int(chars), 12_000))
    parts: list[str] = []
    size, k = 0, i
    while size < chars:
        for para in pool[k % len(pool)].split("\n"):
            if para.strip():
                parts.append(para)
                size += len(para) + 1
                if size >= chars:
                    break
        k += 1
    return "\n".join(parts)


def _inputs_key() -> str:
    digest = hashlib.sha256((DATA / "titles.jsonl").read_bytes())
    for path in BODY_FILES:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@functools.cache
def schema_key() -> str:
    """``v<version>-<hash>``: the schema the product's migrations build today, named by its
    version and a hash of its SQL, so branches that number their migrations alike never share a
    cached archive built by the other's schema."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "probe.sqlite3"
        store = _product.Store(path)
        try:
            version = store.schema_version
        finally:
            store.close()
        with contextlib.closing(sqlite3.connect(path)) as conn:
            rows = conn.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
            ).fetchall()
    return f"v{version}-{hashlib.sha256(repr(rows).encode()).hexdigest()[:8]}"


def archive_path(size: int) -> Path:
    """Where the cached archive of ``size`` releases lives (built on demand by :func:`build`)."""
    return CACHE / f"archive-{schema_key()}-r{RECIPE}-{_inputs_key()}-{size}.sqlite3"


def build(size: int, *, log: bool = True) -> Path:
    """The cached archive of ``size`` releases, built now if missing."""
    target = archive_path(size)
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    rows, pool = index_rows(), bodies()
    if log:
        print(
            f"   building an archive of {size:,} releases (cached in {target.parent}) …", flush=True
        )
    tmp_dir = Path(tempfile.mkdtemp(dir=CACHE))
    try:
        db_path = tmp_dir / "archive.sqlite3"
        store = _product.Store(db_path)
        store.db.execute("PRAGMA synchronous=OFF")
        config = _product.load_config(_minimal_config(tmp_dir))
        app = _product.App(config)
        classifier = app.classifier
        classes: dict[int, object] = {}
        store.ensure_source(
            "mofa-en", "mofa-board", "https://www.mofa.go.kr/eng/brd/m_5676/list.do"
        )
        run_id = store.start_poll_run()
        listed: list[tuple[str, int]] = []
        for i in range(size):
            entry = rows[i % len(rows)]
            lap = i // len(rows)
            seq = int(entry["seq"]) + lap * 1_000_000  # type: ignore[call-overload]
            title = str(entry["title"])
            body = synth_body(pool, i, entry["content_chars"])  # type: ignore[arg-type]
            key = i % len(rows)
            if key not in classes:
                classes[key] = classifier.classify(title, body)
            date = dt.date.fromisoformat(str(entry["date"]))
            release = _product.make_release(seq, title, date, body, URL.format(seq=seq))
            _product.store_release(store, release, classes[key], poll_run_id=run_id, baseline=True)
            listed.append((release.board, seq))
        store.mark_listed(listed)  # every row was seen in a listing, as a poller's history has it
        store.finish_poll_run(run_id, size, 0)
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        app.close()
        store.close()
        os.replace(db_path, target)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return target


def _minimal_config(folder: Path) -> Path:
    path = folder / "config.toml"
    path.write_text('[service]\nstate_dir = "state"\n', encoding="utf-8")
    return path


def copy_to(size: int, state_dir: Path) -> Path:
    """A working copy of the archive of ``size`` releases as ``state_dir``'s database."""
    source = build(size)
    state_dir.mkdir(parents=True, exist_ok=True)
    target = state_dir / database_name()
    shutil.copyfile(source, target)
    return target


def database_name() -> str:
    """The file name the product gives its database inside the state folder."""
    with tempfile.TemporaryDirectory() as tmp:
        store = _product.Store.in_dir(Path(tmp))
        try:
            return Path(store.path).name
        finally:
            store.close()


def text_bytes(db: Path) -> tuple[int, int]:
    """(releases, bytes of title + body in UTF-8) of an archive."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?immutable=1", uri=True)) as conn:
        count, size = conn.execute(
            "SELECT COUNT(*), SUM(LENGTH(CAST(title AS BLOB)) + LENGTH(CAST(body AS BLOB))) "
            "FROM releases"
        ).fetchone()
    return int(count), int(size or 0)
