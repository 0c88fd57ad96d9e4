"""One process per state folder: an ``flock`` on a file in ``state_dir``.

Two processes writing the same database and Maildir would not corrupt anything (SQLite locks,
leases, deterministic file names), but they would poll the ministry twice as often and race on
every plan — so ``run``, ``run-once``, ``backfill`` and ``reclassify`` hold this lock. ``flock``
is released by the kernel when the process dies, even on SIGKILL, so a stale lock file never
blocks a restart; the PID written into it only serves the error message.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
from pathlib import Path
from types import TracebackType

from monitor.errors import LockedError, MonitorError

log = logging.getLogger(__name__)

LOCK_NAME = "mofa-monitor.lock"
#: The lock file's name in builds of 30 November 2026 (a rename caught it by mistake). Taken as
#: well when it exists, so that a process of such a build and one of this never run together.
LEGACY_LOCK_NAMES = ("mofa-monitor.ops.lock",)


class StateLock:
    """``with StateLock(state_dir):`` — raises LockedError naming the PID that holds it."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self._fd: int | None = None
        self._legacy: list[int] = []

    def acquire(self) -> None:
        """Take the lock without waiting and write our PID into the file (and take the lock
        of :data:`LEGACY_LOCK_NAMES` that exist, which a process of an older build may hold)."""
        self._acquire()
        try:
            for name in LEGACY_LOCK_NAMES:
                self._take_legacy(self.path.parent / name)
        except BaseException:
            self.release()
            raise

    def _take_legacy(self, path: Path) -> None:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return  # no build that used this name ever ran on this state
        except OSError as exc:
            raise StateDirError(f"cannot take the lock {path}: {exc.strerror or exc}") from exc
        _lock_or_close(fd, path, ", an older build")
        self._legacy.append(fd)

    def _acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateDirError(
                f"cannot take the lock {self.path}: {exc.strerror or exc} "
                f"({_unusable_reason(self.path, exc)})"
            ) from exc
        _lock_or_close(fd, self.path)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        log.debug("locked %s (PID %d)", self.path, os.getpid())

    def release(self) -> None:
        """Empty the PID and unlock; the file stays (deleting it would race a new owner)."""
        while self._legacy:
            fd = self._legacy.pop()
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock right now."""
        return self._fd is not None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _lock_or_close(fd: int, path: Path, holder_is: str = "") -> None:
    """``flock`` ``fd`` (the lock file ``path``) without waiting; if another process holds it,
    close ``fd`` and raise LockedError naming that process's PID (``holder_is`` follows it)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        raise LockedError(
            f"{path.parent} is in use by another mofa-monitor process "
            f"({'PID ' + holder if holder else 'PID unknown'}{holder_is}); stop it first, "
            "or point this one at another state_dir"
        ) from None
    except BaseException:
        os.close(fd)
        raise


class StateDirError(MonitorError):
    """The state folder (or the lock file in it) cannot be created or written."""


def _unusable_reason(path: Path, exc: OSError) -> str:
    """What the operator should look at, in words: a folder in the way, a file, permissions."""
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return "a folder is in the way of the lock file; remove it"
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return "state_dir or one of its parents is a file, not a folder"
    if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        return "state_dir must be writable by this user"
    return "check [service] state_dir"


def _read_pid(fd: int) -> str | None:
    """The PID the holder wrote, if it looks like one (it may be mid-write)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return text if text.isdigit() else None
