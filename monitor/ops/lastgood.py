"""The last configuration that loaded cleanly, kept in the state folder for read-only commands.

A typo in ``config.toml`` must not blind the operator: the service keeps running on its last
good config (see :mod:`monitor.schedule.service`), so ``status``, ``releases``, ``explain``,
``preview``, ``subscribers``, and ``unsubscribe``/``resubscribe`` (an operator honouring a
request must not wait for the file to be fixed) should still answer about that state. Each process that holds the state lock with a valid config
(``run`` at start and after every reload it applies, ``run-once``) writes it to
``STATE_DIR/last-good-config.json`` (when it differs from the one stored there); a read-only command whose config file is invalid answers
with, in this order:

1. that stored config, if the broken file still says where ``state_dir`` is (read from its own
   line when the file is not TOML at all; else the default ``state`` beside the file) and one
   is stored there;
2. otherwise the built-in defaults with that ``state_dir`` (custom themes and subscribers unknown);

and says so in one line on stderr (``status`` also in its output). A missing config file is not
"broken": it keeps its own error, which tells a new user how to start.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.config import DEFAULT_THEME_IDS, Config, ServiceConfig, path_in_file, validate
from monitor.errors import ConfigError
from monitor.ops import configcache

log = logging.getLogger(__name__)

FILE_NAME = "last-good-config.json"
FORMAT = 1


@dataclass(frozen=True)
class ReadConfig:
    """The config a read-only command uses; ``problem`` is None when the file itself was valid."""

    config: Config
    problem: str | None = None


def remember(config: Config, now: dt.datetime) -> None:
    """Store ``config`` as the state folder's last good one (atomically; never raises).

    ``now`` (aware) is the save time recorded in the file. Paths are stored resolved, durations
    in seconds and times as ``HH:MM``, so the file loads again through the same validation. No
    secret is in it: passwords only ever come from the environment (``password_env`` names the
    variable). A record of the same file, bytes, code (:func:`configcache.code_stamp`) and
    resolved paths is kept as it is, with its first save time: a run that changed nothing
    writes nothing.
    """
    key = {
        "format": FORMAT,
        "config_file": str(Path(config.path).resolve()),
        "fingerprint": config.fingerprint,
        "code": configcache.code_stamp(),
        # resolved through the links of the moment: a state folder's link moved since is a
        # new record (else a read-only command would answer from the old folder)
        "paths": [str(p) for p in (config.state_dir, config.maildir, config.mail.smtp.ca_file)],
    }
    target = config.state_dir / FILE_NAME
    if _stored_key(target) == key:
        return
    record = {
        **key,
        "saved_at": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "config": _plain(dump(config)),
    }
    import tempfile  # here: most runs write nothing

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=config.state_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(record, file, ensure_ascii=False, indent=1)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        log.warning("cannot store the last good config in %s: %s", target, exc.strerror or exc)


def _stored_key(target: Path) -> dict[str, object] | None:
    try:
        record = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        return None
    return {k: record.get(k) for k in ("format", "config_file", "fingerprint", "code", "paths")}


def recall(state_dir: Path, path: Path) -> tuple[Config, str] | None:
    """The config stored in ``state_dir`` and when it was stored, or None (absent, unreadable)."""
    try:
        record = json.loads((state_dir / FILE_NAME).read_text(encoding="utf-8"))
        if record.get("format") != FORMAT:
            return None
        data = record["config"]
        themes = {t["id"] for t in data.get("themes", ())} | set(DEFAULT_THEME_IDS)
        config = validate(Config, data, theme_ids=themes)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # ValidationError too
        return None
    return dataclasses.replace(config, path=path), str(record.get("saved_at") or "?")


def load_for_reading(path: Path) -> ReadConfig:
    """``load_config(path)``, or for an invalid file the best stand-in (see the module doc).

    Raises ConfigError as :func:`~monitor.config.load_config` does when the file is missing or
    unreadable, and when no state folder exists to answer from.
    """
    try:
        return ReadConfig(configcache.load(path))
    except ConfigError as exc:
        if not Path(path).is_file():
            raise
        error = exc
    state_dir = state_dir_of(Path(path))
    if not state_dir.is_dir():
        raise error
    count = len(error.problems)
    invalid = (
        f"{path} is invalid ({count} problem{'s' if count != 1 else ''}; "
        "`mofa-monitor check-config` lists them)"
    )
    remembered = recall(state_dir, Path(path))
    if remembered is not None:
        config, saved_at = remembered
        return ReadConfig(config, f"{invalid}: answering with the last good config ({saved_at})")
    config = Config(path=Path(path), service=ServiceConfig(state_dir=state_dir))
    return ReadConfig(config, f"{invalid}: answering with the defaults for {state_dir}")


def state_dir_of(path: Path) -> Path:
    """``[service] state_dir`` as the (possibly invalid) file names it, else the default."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, ValueError):
        text = ""
    try:
        named = tomllib.loads(text)["service"]["state_dir"]
    except (ValueError, KeyError, TypeError):
        named = _state_dir_line(text)
    chosen = Path(named) if isinstance(named, str) and named.strip() else Path("state")
    return path_in_file(chosen, path)


def _state_dir_line(text: str) -> object:
    """``state_dir`` read from its own line of the ``[service]`` table when the file as a whole
    is not TOML (a syntax error elsewhere must not hide where the state is); None if absent."""
    table = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            table = stripped.split("#", 1)[0].strip()
        elif table == "[service]" and stripped.startswith("state_dir"):
            try:
                return tomllib.loads(stripped).get("state_dir")
            except ValueError:
                return None
    return None


def dump(config: Config) -> dict[str, Any]:
    """``config`` as the file's tables (``from``, not ``from_``), without ``path`` and
    ``fingerprint``, which are not written in a file."""
    tables = dataclasses.asdict(config)
    del tables["path"], tables["fingerprint"]
    tables["mail"]["from"] = tables["mail"].pop("from_")
    return tables


def _plain(value: Any) -> Any:
    """A model dump as values the config validators read back (see :func:`remember`)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.timedelta):
        return f"{value.total_seconds():.6f}".rstrip("0").rstrip(".") + "s"
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, Path):
        return str(value)
    return value
