"""Numbers from the command line of any length: one clear line, never an internal error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "config.toml"
    path.write_text('[service]\nstate_dir = "state"\n', encoding="utf-8")
    return path


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=config.parent,
    )


@pytest.mark.parametrize(
    "release_id",
    [
        "m_5676-" + "9" * 5000,  # past Python's integer-conversion limit
        "m_5676-99999999999999999999999",  # past SQLite's int64
        "9223372036854775808",  # 2**63, bare seq
        "m_5676-\u0663\u0662\u0663\u0663\u0661\u0669",  # Arabic-Indic digits are no id
    ],
    ids=["5000_digits", "23_digits", "2_pow_63", "arabic_indic"],
)
def test_explain_an_impossible_id_is_no_stored_release(config: Path, release_id: str) -> None:
    result = run(config, "explain", release_id)
    assert result.returncode == 1, result.stderr
    assert "no stored release" in result.stderr and "internal error" not in result.stderr


@pytest.mark.parametrize("limit", ["99999999999999999999999", "9" * 5000, "0", "１２"])
def test_releases_limit_out_of_range_is_a_usage_error(config: Path, limit: str) -> None:
    result = run(config, "releases", "--limit", limit)
    assert result.returncode == 2, result.stderr
    assert "internal error" not in result.stderr and "_positive" not in result.stderr
    assert "--limit" in result.stderr and len(result.stderr) < 1000


def test_releases_limit_in_range_works(config: Path) -> None:
    result = run(config, "releases", "--limit", "1000000000")
    assert result.returncode == 0, result.stderr
