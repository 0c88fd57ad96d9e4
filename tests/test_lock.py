"""StateLock: one process per state folder, a clear message naming the holder, no stale locks."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from monitor.errors import LockedError
from monitor.ops.lock import LEGACY_LOCK_NAMES, LOCK_NAME, StateLock


class TestStateLock:
    def test_second_holder_is_refused_with_the_pid(self, tmp_path: Path) -> None:
        """A second lock on the same folder fails at once and names the PID in the file."""
        with StateLock(tmp_path), pytest.raises(LockedError, match=rf"PID {os.getpid()}\b"):
            StateLock(tmp_path).acquire()

    def test_pid_is_written_and_cleared(self, tmp_path: Path) -> None:
        """The lock file holds our PID while locked and is emptied (not deleted) on release."""
        lock = StateLock(tmp_path)
        with lock:
            assert lock.held
            assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
        assert not lock.held
        assert (tmp_path / LOCK_NAME).read_text() == ""

    def test_the_lock_file_keeps_its_documented_name(self, tmp_path: Path) -> None:
        """README and docs/RELIABILITY.md name it; a build of 30 Nov 2026 renamed it by mistake."""
        with StateLock(tmp_path):
            assert sorted(p.name for p in tmp_path.iterdir()) == ["mofa-monitor.lock"]

    def test_a_process_of_the_build_with_the_other_name_excludes_this_one(
        self, tmp_path: Path
    ) -> None:
        """That build locks ``mofa-monitor.ops.lock``: while it runs, this one must not."""
        legacy = tmp_path / LEGACY_LOCK_NAMES[0]
        fd = os.open(legacy, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, b"4242\n", 0)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with pytest.raises(LockedError, match=r"PID 4242, an older build"):
                StateLock(tmp_path).acquire()
            assert StateLock(tmp_path).held is False
            fcntl.flock(fd, fcntl.LOCK_UN)
            with StateLock(tmp_path) as lock:  # stopped: this one runs, and holds both
                assert lock.held
                with pytest.raises(BlockingIOError):
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released with it
        finally:
            os.close(fd)

    def test_released_lock_can_be_taken_again(self, tmp_path: Path) -> None:
        """Release really unlocks: the next owner gets it."""
        with StateLock(tmp_path):
            pass
        with StateLock(tmp_path) as again:
            assert again.held

    def test_creates_the_state_folder(self, tmp_path: Path) -> None:
        """A fresh state_dir need not exist yet."""
        with StateLock(tmp_path / "new" / "state"):
            assert (tmp_path / "new" / "state" / LOCK_NAME).exists()

    def test_other_folders_are_independent(self, tmp_path: Path) -> None:
        """Two services with two state folders run side by side."""
        with StateLock(tmp_path / "a"), StateLock(tmp_path / "b"):
            pass

    def test_sigkilled_holder_leaves_no_stale_lock(self, tmp_path: Path) -> None:
        """The kernel drops an flock with its process, even on SIGKILL, whatever the file says."""
        script = textwrap.dedent(
            f"""
            import sys, time
            from monitor.ops.lock import StateLock
            lock = StateLock({str(tmp_path)!r}); lock.acquire()
            print("locked", flush=True); time.sleep(60)
            """
        )
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "locked"
            with pytest.raises(LockedError, match=rf"PID {child.pid}\b"):
                StateLock(tmp_path).acquire()
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
        finally:
            child.kill()
            child.wait()
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(child.pid)  # stale text...
        with StateLock(tmp_path):  # ...but no stale lock
            pass


class TestCommandsHoldTheLock:
    @pytest.mark.parametrize("command", [["run-once"], ["reclassify"], ["run"]])
    def test_second_instance_exits_1_naming_the_pid(
        self, tmp_path: Path, command: list[str]
    ) -> None:
        """While the state is locked, commands that write it exit 1 and say who holds it."""
        config = tmp_path / "config.toml"
        config.write_text(
            '[service]\nstate_dir = "state"\n\n[[sources]]\nid = "x"\n'
            'url = "http://127.0.0.1:9/eng/brd/m_5676/list.do"\n'
        )
        with StateLock(tmp_path / "state"):
            done = subprocess.run(
                [sys.executable, "-m", "monitor", "--config", str(config), *command],
                capture_output=True,
                text=True,
                timeout=30,
            )
        assert done.returncode == 1, done.stderr
        assert f"PID {os.getpid()}" in done.stderr
        assert "in use by another mofa-monitor process" in done.stderr
