"""One sweep per directory: a lock file holding the owner's pid, with stale-owner detection.

The lock is ``<sweep>/.sweep.lock``. Its owner holds an exclusive ``flock`` on it for its
whole life and writes its pid, host and process start time into it. The kernel drops the
``flock`` when the owner dies, even by SIGKILL, so a dead sweep never blocks the next one;
the recorded pid (checked with ``kill(pid, 0)`` and the start time, which guards against pid
reuse) is a second check for file systems without working ``flock`` and names the owner in
the refusal message.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from explore.runs import now

LOCK_NAME = ".sweep.lock"


class SweepLocked(RuntimeError):
    """Another live sweep is writing into this directory."""


def _process_start(pid: int) -> str | None:
    # Field 22 of /proc/<pid>/stat (start time in clock ticks since boot): with the pid it
    # identifies a process even after the pid is reused. Absent off Linux.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def pid_alive(pid: int, start: str | None = None) -> bool:
    """Whether process ``pid`` (started at ``start``, if known) is running on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by someone else
    if _is_zombie(pid):
        return False  # killed, not yet reaped by its parent
    if start is not None:
        current = _process_start(pid)
        if current is not None and current != start:
            return False  # the pid was reused by another process
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return False


class SweepLock:
    """Exclusive ownership of a sweep directory (a context manager).

    ``acquire`` raises :class:`SweepLocked` naming the owner when a live sweep holds the
    directory; a lock left by a dead sweep is taken over silently.
    """

    def __init__(self, sweep_dir: str | Path) -> None:
        self.path = Path(sweep_dir) / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> SweepLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def owner(self) -> dict[str, Any] | None:
        """What the lock file says about its owner (None when absent or unreadable)."""
        try:
            data = json.loads(self.path.read_text() or "null")
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _refuse(self, owner: dict[str, Any] | None) -> SweepLocked:
        who = "another sweep"
        if owner:
            who = f"another sweep (pid {owner.get('pid')} on {owner.get('host')}, started {owner.get('started')})"
        return SweepLocked(
            f"{self.path.parent} is in use by {who}. Two sweeps writing one directory would "
            f"corrupt its runs: wait for it to finish, or give this one another --out/--dir. "
            f"If you are sure no sweep is running there, delete {self.path}."
        )

    def acquire(self) -> None:
        """Take the lock or raise :class:`SweepLocked`."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise self._refuse(self.owner()) from None
                if err.errno != errno.ENOLCK:
                    raise
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # no flock here: pid only
            # The previous owner may have unlinked the file between our open and flock: then we
            # locked an orphan inode. Retry on the file that is at the path now.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        owner = self.owner()
        host = socket.gethostname()
        # flock says the owner is gone; the pid must agree where we can check it (on a file
        # system whose flock is a no-op, this is the only check).
        if (
            owner
            and owner.get("pid") != os.getpid()
            and owner.get("host") == host
            and pid_alive(int(owner.get("pid", 0)), owner.get("start"))
        ):
            os.close(fd)
            raise self._refuse(owner)
        record = {
            "pid": os.getpid(),
            "host": host,
            "start": _process_start(os.getpid()),
            "started": now(),
            "argv": sys.argv,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Give the directory back (removes the lock file)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)  # closing drops the flock
        self._fd = None
