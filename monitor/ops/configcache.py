"""A validated config kept in the state folder, so that a process whose config file has not
changed since loads it without validating it again.

Validation needs pydantic, and importing pydantic and building its validators is the largest
part of what a ``run-once`` that finds nothing new spends (about 90 ms of CPU per process).
Validating the same bytes with the same code gives the same result, so the result is kept and
reused under exactly that condition:

- the file's bytes have the same SHA-256 (:attr:`~monitor.config.Config.fingerprint`);
- the file is the same one (its resolved path): relative paths in it are read from its folder;
- the code that validated it is the same (:func:`code_stamp`): the content of this package's
  sources and data tables, Python's version, and the versions of pydantic (with the
  pydantic-core it requires) and urllib3, the libraries the checks call;
- every time zone it names is still in the zone database here, the one input of validation
  outside the file and the code.

The stamp is read from the files on disk: a result is stored only if the stamp read before and
after validation agree, so code replaced while a process validates is never keyed as the new
code. (Code replaced in the milliseconds between a process importing it and first reading the
stamp could still be; the next change of the file or the code clears it.)

Anything else — a missing, unreadable, truncated or foreign cache file, any other key — means
the file is validated as usual (:func:`~monitor.config.load_config`); ``run-once`` and the
service, which hold the state lock, then store the result (the service always validates, at start
and on each reload); read-only commands write nothing in the state folder. The cache holds the config with its paths as written; they are
resolved on every load, so a moved symbolic link is followed as before.

The file is ``STATE_DIR/config-cache.pickle``: one JSON header line (format, key, SHA-256 of the
payload) then a pickle of the config. It is read only if it is a regular file of this process's
user that no one else may write (:func:`_trusted`), and then with an unpickler that builds
nothing but the config's own classes, ``datetime.timedelta``/``time`` and paths (the Python
documentation's "Restricting Globals"). No secret is in it: passwords only ever come from the
environment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import importlib.util
import io
import json
import logging
import os
import pathlib
import pickle
import sys
from pathlib import Path
from stat import S_ISREG
from typing import Any

from monitor import config as config_module
from monitor.config import (
    Config,
    check,
    check_zone,
    path_in_file,
    read_toml,
    resolve_paths,
)

log = logging.getLogger(__name__)

FILE_NAME = "config-cache.pickle"
FORMAT = 1
#: A larger file is not read (a config of 10,000 subscribers pickles to about 2 MB).
MAX_BYTES = 64 * 1024 * 1024
#: The files of the package that the code stamp reads.
STAMPED = (".py", ".toml")
#: The classes a cached config is made of, and nothing else (see :class:`_ConfigUnpickler`).
_ALLOWED = {
    ("monitor.config", name)
    for name in (
        "Config",
        "ServiceConfig",
        "SourceConfig",
        "MailConfig",
        "SmtpConfig",
        "SubscriberConfig",
        "ThemeConfig",
    )
} | {
    ("datetime", "timedelta"),
    ("datetime", "time"),
    ("pathlib", "Path"),
    ("pathlib", "PosixPath"),
    ("pathlib", "WindowsPath"),
}


def load(path: Path | str, *, keep: bool = False, fresh: bool = False) -> Config:
    """The validated config at ``path``, as :func:`~monitor.config.load_config` returns it:
    from the state folder's cache when the file, its place and the code are unchanged, else
    validated. ``keep``: store a freshly validated config in the cache, creating the state
    folder first if need be — for a process that holds the state lock (``run-once``, the
    service); other commands only read the cache, and write nothing in the state folder.
    ``fresh``: validate even if the cache has it (the service, at start and on reload). Raises
    ConfigError as ``load_config`` does; a cache that cannot be read or written is only ever
    a slower load."""
    path = Path(path)
    data, raw = read_toml(path)
    fingerprint = hashlib.sha256(data).hexdigest()
    state_dir = _state_dir(raw, path)
    key = _key(fingerprint, path)
    config = _read(state_dir / FILE_NAME, key) if state_dir and not fresh else None
    if config is None:
        config = check(path, raw)
        if keep and state_dir is not None:
            with contextlib.suppress(OSError):  # the state lock reports it, as before
                state_dir.mkdir(parents=True, exist_ok=True)
            # code replaced while this process validated (an upgrade) would key the old code's
            # result by the new code's stamp: only a stamp read the same before and after is used
            if state_dir.is_dir() and _stamp_unchanged(key["code"]):
                _write(state_dir / FILE_NAME, key, config)
    return resolve_paths(config, path, fingerprint)


def _state_dir(raw: dict[str, Any], path: Path) -> Path | None:
    """Where the file's ``[service] state_dir`` points (resolved as :func:`resolve_paths` does),
    or None when the value is not even a string (validation will say why)."""
    service = raw.get("service", {})
    named = service.get("state_dir", "state") if isinstance(service, dict) else None
    if not isinstance(named, str) or not named or "\0" in named:
        return None
    try:
        return path_in_file(Path(named), path)
    except OSError:
        return None


def _key(fingerprint: str, path: Path) -> dict[str, str]:
    return {"file": str(path.resolve()), "sha256": fingerprint, "code": code_stamp()}


@functools.cache
def code_stamp() -> str:
    """A digest of the code that decides what validation accepts and makes: Python's version,
    the content of each source and data table of this package (``.py``, ``.toml``; about
    650 kB, 3 ms), and the version files of pydantic (which names the pydantic-core it
    requires) and urllib3, whose checks it calls."""
    return _stamp(Path(config_module.__file__).parent)


def _stamp_unchanged(stamp: str) -> bool:
    return _stamp(Path(config_module.__file__).parent) == stamp


def _stamp(package: Path) -> str:
    digest = hashlib.sha256(sys.version.encode())
    for folder, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(STAMPED)):
            where = os.path.join(folder, name)
            try:
                content = hashlib.sha256(Path(where).read_bytes()).hexdigest()
            except OSError as exc:  # a dangling link (an editor's lock), a file being replaced
                content = f"unreadable: {exc.strerror}"
            digest.update(f"{os.path.relpath(where, package)}\0{content}\n".encode())
    for library, version_file in (("pydantic", "version.py"), ("urllib3", "_version.py")):
        spec = importlib.util.find_spec(library)
        places = spec.submodule_search_locations if spec else None
        try:
            digest.update(Path(next(iter(places or ())), version_file).read_bytes())
        except (OSError, StopIteration):
            digest.update(f"{library}: unknown\n".encode())
    return digest.hexdigest()


class _ConfigUnpickler(pickle.Unpickler):
    """Builds only the classes in :data:`_ALLOWED`; anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a config")
        return {"monitor.config": config_module, "datetime": dt, "pathlib": pathlib}[
            module
        ].__dict__[name]


def _read(file: Path, key: dict[str, str]) -> Config | None:
    """The cached config if ``file`` is trusted (:func:`_trusted`), complete and keyed ``key``,
    and every time zone it names is still known here; else None."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)  # no FIFO, no symlink
    try:
        fd = os.open(file, flags)
    except OSError:
        return None
    try:
        if not _trusted(os.fstat(fd)):  # before reading: a directory, a FIFO, someone else's
            log.debug("ignoring the config cache %s: not a private file of this user", file)
            return None
        with os.fdopen(os.dup(fd), "rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    line, _, payload = data.partition(b"\n")
    try:
        header = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if (
        len(data) > MAX_BYTES
        or not isinstance(header, dict)
        or header.get("format") != FORMAT
        or header.get("key") != key
        or header.get("payload_sha256") != hashlib.sha256(payload).hexdigest()
    ):
        return None
    try:
        config = _ConfigUnpickler(io.BytesIO(payload)).load()
    except Exception as exc:
        log.debug("ignoring the config cache %s: %s", file, exc)
        return None
    if type(config) is not Config or not _zones_known(config):
        return None
    return config


def _trusted(stat: os.stat_result) -> bool:
    """A regular file of this process's user that no one else may write (as OpenSSH's
    ``StrictModes`` treats its files): whoever could write such a file could as well edit the
    installed code, so a file planted by anyone else is never read."""
    owner = os.geteuid() if hasattr(os, "geteuid") else stat.st_uid
    return (
        S_ISREG(stat.st_mode)
        and stat.st_uid == owner
        and not stat.st_mode & 0o022
        and stat.st_size <= MAX_BYTES
    )


def _zones_known(config: Config) -> bool:
    """Whether every time zone the config names is still in the zone database here: the one
    input of validation outside the file and the code (``TZPATH``, the ``tzdata`` package)."""
    zones = {config.service.timezone} | {sub.timezone for sub in config.subscribers}
    try:
        for zone in zones:
            check_zone(zone)
    except ValueError:
        return False
    return True


def _write(file: Path, key: dict[str, str], config: Config) -> None:
    """Store ``config`` (paths as written) atomically; a failure is logged, never raised."""
    import tempfile  # here: a load from the cache writes nothing

    payload = pickle.dumps(dataclasses.replace(config), protocol=pickle.HIGHEST_PROTOCOL)
    header = {"format": FORMAT, "key": key, "payload_sha256": hashlib.sha256(payload).hexdigest()}
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=file.parent)
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(json.dumps(header).encode() + b"\n" + payload)
            os.replace(tmp, file)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        log.debug("cannot store the config cache in %s: %s", file, exc.strerror or exc)
