"""The last good config record (:mod:`monitor.ops.lastgood`) is written when the config it holds
changes, not by every run: a run on the same file, bytes and code leaves it as it was."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

from monitor.config import load_config
from monitor.ops import configcache, lastgood

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def stored(state: Path) -> dict[str, object]:
    return json.loads((state / lastgood.FILE_NAME).read_text(encoding="utf-8"))


def test_an_unchanged_config_is_not_written_again(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    path = tmp_path / "config.toml"
    path.write_text('[[subscribers]]\nemail = "a@example.org"\n', encoding="utf-8")
    config = load_config(path)
    lastgood.remember(config, T0)
    first = (tmp_path / "state" / lastgood.FILE_NAME).stat()
    assert stored(tmp_path / "state")["code"] == configcache.code_stamp()

    lastgood.remember(config, T0 + dt.timedelta(hours=1))
    again = (tmp_path / "state" / lastgood.FILE_NAME).stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert stored(tmp_path / "state")["saved_at"] == "2026-11-30T09:00:00+00:00"

    path.write_text('[[subscribers]]\nemail = "b@example.org"\n', encoding="utf-8")
    lastgood.remember(load_config(path), T0 + dt.timedelta(hours=2))
    record = stored(tmp_path / "state")
    assert record["saved_at"] == "2026-11-30T11:00:00+00:00"
    assert record["config"]["subscribers"][0]["email"] == "b@example.org"  # type: ignore[index]


def test_a_record_from_other_code_or_damaged_is_written_again(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    path = tmp_path / "config.toml"
    path.write_text('[[subscribers]]\nemail = "a@example.org"\n', encoding="utf-8")
    config = load_config(path)
    lastgood.remember(config, T0)
    file = tmp_path / "state" / lastgood.FILE_NAME
    record = stored(tmp_path / "state")
    file.write_text(json.dumps({**record, "code": "older code"}), encoding="utf-8")
    lastgood.remember(config, T0 + dt.timedelta(hours=1))
    assert stored(tmp_path / "state")["code"] == configcache.code_stamp()
    file.write_text(json.dumps({**record, "config": None}), encoding="utf-8")
    lastgood.remember(config, T0 + dt.timedelta(hours=2))
    assert stored(tmp_path / "state")["saved_at"] == "2026-11-30T11:00:00+00:00"
    recalled = lastgood.recall(tmp_path / "state", path)
    assert recalled is not None and dataclasses.replace(recalled[0], fingerprint="") == (
        dataclasses.replace(config, fingerprint="")
    )


def test_a_state_folder_reached_through_a_moved_link_is_a_new_record(tmp_path: Path) -> None:
    """The record names resolved paths: after ``state`` is pointed at a copy, a read-only
    command must answer from (and write to) the copy, so the record is written again there."""
    one, two = tmp_path / "state-1", tmp_path / "state-2"
    one.mkdir(), two.mkdir()
    (tmp_path / "state").symlink_to(one)
    path = tmp_path / "config.toml"
    path.write_text('[[subscribers]]\nemail = "a@example.org"\n', encoding="utf-8")
    lastgood.remember(load_config(path), T0)
    (two / lastgood.FILE_NAME).write_bytes((one / lastgood.FILE_NAME).read_bytes())
    (tmp_path / "state").unlink()
    (tmp_path / "state").symlink_to(two)
    lastgood.remember(load_config(path), T0 + dt.timedelta(hours=1))
    assert stored(two)["config"]["service"]["state_dir"] == str(two)  # type: ignore[index]
