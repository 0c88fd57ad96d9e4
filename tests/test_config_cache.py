"""The validated config kept in the state folder (:mod:`monitor.ops.configcache`): used only for
the same bytes, at the same place, checked by the same code; anything else is validated again,
and a cache file that is damaged or planted is never trusted."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import zoneinfo
from pathlib import Path

import pytest

from monitor import config as config_module
from monitor.config import Config, load_config
from monitor.errors import ConfigError
from monitor.ops import configcache

FULL = """\
[service]
state_dir = "state"
request_delay = "2s"
timezone = "Europe/Paris"
listen = "127.0.0.1:0"
admin_email = "ops@example.org"

[[sources]]
id = "mofa-en"
url = "https://www.mofa.go.kr/eng/brd/m_5676/list.do"
every = "20m"
jitter = "1m"

[mail]
from = "Desk <desk@example.org>"
transport = "smtp"
maildir = "mail"
unsubscribe_url = "https://example.org/unsub"

[mail.smtp]
host = "smtp.example.org"
port = 587
security = "starttls"
username = "desk"
password_env = "SMTP_PASSWORD"
ca_file = "ca.pem"

[[themes]]
id = "arctic"
name = "Arctic"
patterns = ["arctic", "polar silk road"]

[[subscribers]]
email = "A@example.org"
themes = ["arctic", "north-korea"]
keywords = ["uranium"]
countries = ["kp", "JP"]
frequency = "weekly"
weekday = "Fri"
send_at = "7:30"

[[subscribers]]
email = "b@example.org"
format = "text"
"""


class Counted:
    """``configcache.check`` with a count of the files it had to validate."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = configcache.check

        def check(path: Path, raw: dict[str, object]) -> Config:
            self.calls += 1
            return real(path, raw)

        monkeypatch.setattr(configcache, "check", check)


def setup(tmp_path: Path, text: str = FULL) -> Path:
    (tmp_path / "state").mkdir(exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def cache_file(path: Path) -> Path:
    return path.parent / "state" / configcache.FILE_NAME


def test_the_second_load_is_the_cached_one_and_equals_a_validated_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = setup(tmp_path)
    counted = Counted(monkeypatch)
    first = configcache.load(path, keep=True)
    assert counted.calls == 1 and cache_file(path).is_file()
    second = configcache.load(path, keep=True)
    assert counted.calls == 1  # read from the cache
    assert second == first == load_config(path)
    assert second.subscribers[0].countries == ["KP", "JP"]  # as validation converted them
    assert second.mail.smtp.ca_file == (tmp_path / "ca.pem").resolve()
    assert second.subscriber("a@example.org") is second.subscribers[0]


def test_any_change_to_the_file_is_validated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = setup(tmp_path)
    counted = Counted(monkeypatch)
    configcache.load(path, keep=True)
    path.write_text(FULL.replace('frequency = "weekly"', 'frequency = "weakly"'), "utf-8")
    with pytest.raises(ConfigError) as error:
        configcache.load(path, keep=True)
    assert "subscribers.1.frequency: must be one of immediate, daily, weekly" in str(
        error.value.problems
    )
    path.write_text(FULL.replace("port = 587", "port = 2525"), "utf-8")
    assert configcache.load(path, keep=True).mail.smtp.port == 2525
    assert counted.calls == 3


def test_another_code_stamp_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = setup(tmp_path)
    configcache.load(path, keep=True)
    counted = Counted(monkeypatch)
    monkeypatch.setattr(configcache, "code_stamp", lambda: "another version of the checks")
    configcache.load(path, keep=True)
    assert counted.calls == 1


def test_the_code_stamp_follows_the_packages_files(tmp_path: Path) -> None:
    """A copy of the package with one file changed (an upgrade, an edit) stamps differently."""
    package = Path(config_module.__file__).parent
    assert configcache._stamp(package) == configcache.code_stamp()
    copy = tmp_path / "monitor"
    shutil.copytree(package, copy)
    before = configcache._stamp(copy)
    assert configcache._stamp(copy) == before
    data = copy / "data" / "countries.toml"
    data.write_text(data.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert configcache._stamp(copy) != before


def test_the_same_bytes_elsewhere_are_read_from_their_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_state = tmp_path / "shared-state"
    text = FULL.replace('state_dir = "state"', f'state_dir = "{shared_state}"')
    shared_state.mkdir()
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    (one / "config.toml").write_text(text, "utf-8")
    (two / "config.toml").write_text(text, "utf-8")
    counted = Counted(monkeypatch)
    assert configcache.load(one / "config.toml", keep=True).mail.maildir == (one / "mail").resolve()
    assert configcache.load(two / "config.toml", keep=True).mail.maildir == (two / "mail").resolve()
    assert counted.calls == 2


def test_paths_are_resolved_on_every_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache keeps paths as written: a symbolic link moved since is followed."""
    path = setup(tmp_path)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    (tmp_path / "mail").symlink_to(tmp_path / "a")
    assert configcache.load(path, keep=True).mail.maildir == (tmp_path / "a").resolve()
    (tmp_path / "mail").unlink()
    (tmp_path / "mail").symlink_to(tmp_path / "b")
    counted = Counted(monkeypatch)
    assert configcache.load(path, keep=True).mail.maildir == (tmp_path / "b").resolve()
    assert counted.calls == 0


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # torn
        lambda b: b"",  # empty
        lambda b: b"not json\n" + b.split(b"\n", 1)[1],
        lambda b: b.replace(b'"format": 1', b'"format": 99'),
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # a flipped bit in the payload
    ],
    ids=["torn", "empty", "header", "format", "bit"],
)
def test_a_damaged_cache_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: object
) -> None:
    path = setup(tmp_path)
    expected = configcache.load(path, keep=True)
    file = cache_file(path)
    file.write_bytes(damage(file.read_bytes()))  # type: ignore[operator]
    counted = Counted(monkeypatch)
    assert configcache.load(path, keep=True) == expected
    assert counted.calls == 1
    assert configcache._read(file, configcache._key(expected.fingerprint, path)) is not None


class Planted:
    """Pickles to a call of ``os.system``: what a planted cache file would try."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_a_planted_pickle_runs_no_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file with the right key and checksum, but a payload that would run a command."""
    path = setup(tmp_path)
    expected = configcache.load(path, keep=True)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Planted(marker))
    key = configcache._key(expected.fingerprint, path)
    header = {"format": 1, "key": key, "payload_sha256": hashlib.sha256(payload).hexdigest()}
    cache_file(path).write_bytes(json.dumps(header).encode() + b"\n" + payload)
    counted = Counted(monkeypatch)
    assert configcache.load(path, keep=True) == expected
    assert not marker.exists() and counted.calls == 1
    pickle.loads(payload)  # the same bytes, unrestricted, do run it: the test can fail
    assert marker.exists()


def test_check_config_never_answers_from_the_cache(tmp_path: Path) -> None:
    """A cache that says something else than the file (forged, with the right key) is used by
    ``run-once``'s loader but not by ``check-config``, which always validates the file."""
    path = setup(tmp_path)
    plant(path, Config(path=path, subscribers=[]))
    assert configcache.load(path).subscribers == []  # the forged cache is what a hit returns
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(path), "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "2 subscriber(s)" in done.stdout


def test_a_read_only_command_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the state lock's holder (``run-once``) keeps the cache: ``status``, ``releases`` …
    read it and leave the state folder as it was, or absent."""
    path = tmp_path / "config.toml"
    path.write_text(FULL, "utf-8")
    counted = Counted(monkeypatch)
    configcache.load(path)
    assert not (tmp_path / "state").exists()
    (tmp_path / "state").mkdir()
    configcache.load(path)
    assert list((tmp_path / "state").iterdir()) == [] and counted.calls == 2
    configcache.load(path, keep=True)
    configcache.load(path)
    assert counted.calls == 3  # the read-only load found what run-once kept


def test_a_state_dir_that_is_no_string_is_validated(tmp_path: Path) -> None:
    path = setup(tmp_path, FULL.replace('state_dir = "state"', "state_dir = 3"))
    with pytest.raises(ConfigError) as error:
        configcache.load(path, keep=True)
    assert "service.state_dir" in str(error.value.problems)


def test_run_once_creates_the_state_and_keeps_the_cache_on_its_first_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run-once`` creates the state folder anyway: its first load already keeps the cache."""
    path = tmp_path / "config.toml"
    path.write_text(FULL, "utf-8")
    counted = Counted(monkeypatch)
    configcache.load(path, keep=True)
    assert (tmp_path / "state" / configcache.FILE_NAME).is_file()
    configcache.load(path, keep=True)
    assert counted.calls == 1


# --- a cache file someone else could have written is never read --------------------------------


def plant(path: Path, config: Config) -> Path:
    """A cache for ``path`` holding ``config``, with the right key and checksum."""
    real = configcache.load(path, keep=True)
    key = configcache._key(real.fingerprint, path)
    configcache._write(cache_file(path), key, config)
    return cache_file(path)


def test_a_cache_others_may_write_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = setup(tmp_path)
    file = plant(path, Config(path=path, subscribers=[]))
    assert configcache.load(path, keep=True).subscribers == []  # private: a hit (the test can fail)
    file.chmod(0o620)  # group-writable
    counted = Counted(monkeypatch)
    assert len(configcache.load(path, keep=True).subscribers) == 2
    assert counted.calls == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_a_cache_owned_by_another_user_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = setup(tmp_path)
    file = plant(path, Config(path=path, subscribers=[]))
    os.chown(file, 65534, -1)
    counted = Counted(monkeypatch)
    assert len(configcache.load(path, keep=True).subscribers) == 2
    assert counted.calls == 1


@pytest.mark.parametrize("kind", ["fifo", "symlink", "deep-header", "huge", "directory"])
def test_odd_files_in_the_caches_place_are_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Never a hang (a FIFO), a read through a link, a crash or an unbounded read."""
    path = setup(tmp_path)
    expected = configcache.load(path, keep=True)
    file = cache_file(path)
    file.unlink()
    if kind == "fifo":
        os.mkfifo(file, 0o600)
    elif kind == "symlink":
        good = tmp_path / "elsewhere"
        plant(path, Config(path=path, subscribers=[]))
        file.rename(good)
        file.symlink_to(good)
    elif kind == "directory":
        file.mkdir()
    elif kind == "deep-header":
        file.write_bytes(b"[" * 200_000 + b"\n")
        file.chmod(0o600)
    else:
        with open(file, "wb") as stream:
            stream.truncate(configcache.MAX_BYTES + 1)
        file.chmod(0o600)
    counted = Counted(monkeypatch)
    assert configcache.load(path, keep=True) == expected
    assert counted.calls == 1


def test_a_dangling_link_in_the_package_does_not_break_the_stamp(tmp_path: Path) -> None:
    """An editor's lock (``.#config.py`` → nowhere) or a file removed mid-upgrade."""
    copy = tmp_path / "monitor"
    shutil.copytree(Path(config_module.__file__).parent, copy)
    before = configcache._stamp(copy)
    (copy / ".#config.py").symlink_to(tmp_path / "nowhere.py")
    assert configcache._stamp(copy) != before


def test_an_edit_that_keeps_size_and_time_changes_the_stamp(tmp_path: Path) -> None:
    copy = tmp_path / "monitor"
    shutil.copytree(Path(config_module.__file__).parent, copy)
    data = copy / "data" / "countries.toml"
    before, stat = configcache._stamp(copy), data.stat()
    text = data.read_text(encoding="utf-8")
    data.write_text(text.replace("AD", "XD", 1), encoding="utf-8")
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert data.stat().st_size == stat.st_size and data.stat().st_mtime_ns == stat.st_mtime_ns
    assert configcache._stamp(copy) != before


def test_a_zone_gone_from_the_database_is_validated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation reads the zone database (``TZPATH``, ``tzdata``), which is no part of the key:
    the zones a cached config names are looked up again, and one now unknown is reported."""
    zones = tmp_path / "zones"
    (zones / "My").mkdir(parents=True)
    shutil.copy(Path(zoneinfo.TZPATH[0]) / "UTC", zones / "My" / "Zone")
    path = setup(tmp_path, FULL.replace('timezone = "Europe/Paris"', 'timezone = "My/Zone"'))
    try:
        zoneinfo.reset_tzpath(to=[str(zones)])
        assert configcache.load(path, keep=True).service.timezone == "My/Zone"
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()
    with pytest.raises(ConfigError) as error:
        configcache.load(path, keep=True)
    assert "service.timezone: unknown time zone 'My/Zone'" in str(error.value.problems)


def test_code_replaced_while_validating_is_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upgrade landing while a process validates: what the old code made must not be kept
    under the new code's stamp, so nothing is kept."""
    path = setup(tmp_path)
    monkeypatch.setattr(configcache, "_stamp", lambda package: "the code now on disk")
    configcache.load(path, keep=True)
    assert not cache_file(path).exists()
    monkeypatch.undo()
    configcache.load(path, keep=True)
    assert cache_file(path).exists()


def test_a_zone_name_that_is_a_folder_of_the_database_is_a_named_problem(tmp_path: Path) -> None:
    path = setup(tmp_path, FULL.replace('timezone = "Europe/Paris"', 'timezone = "America"'))
    with pytest.raises(ConfigError) as error:
        configcache.load(path, keep=True)
    assert f"{path}: service.timezone: unknown time zone 'America'" in error.value.problems[0]


def test_the_service_validates_fresh_and_keeps_the_result(tmp_path: Path) -> None:
    """``run`` validates at start and on reload whatever the cache says, and stores what it
    validated, so ``status`` and the next ``run-once`` find it."""
    path = setup(tmp_path)
    real = configcache.load(path, keep=True)
    plant(path, Config(path=real.path, subscribers=[]))
    assert configcache.load(path).subscribers == []  # the forged cache is what a hit returns
    assert configcache.load(path, keep=True, fresh=True) == real
    assert configcache.load(path) == real  # the service replaced the forged cache
