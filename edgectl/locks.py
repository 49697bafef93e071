"""Exclusive ownership of a store and of serial ports by one process.

A store is owned through a lock file beside it (``<db>.lock``), held with ``flock`` and
holding the owner's PID. A serial port is owned by ``flock`` on the open device (and
``TIOCEXCL``, which keeps other non-root users from even opening it). A second owner is
refused with ``Busy``, naming the holder's PID: from the lock file, or for a device from
``/proc/locks``. The kernel drops a lock when its holder dies, so a stale lock is impossible.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import termios
from pathlib import Path

from edgectl.store.db import StoreError, not_writable


class Busy(OSError):
    """Another process holds the lock; ``pid`` is that process when it can be told."""

    def __init__(self, what: str, pid: int | None) -> None:
        self.pid = pid
        holder = f"process {pid}" if pid else "another process"
        super().__init__(f"{what} is in use by {holder} (another edgectl?); stop it first")


def holder_pid(path: str | Path) -> int | None:
    """The PID holding a ``flock`` on the file at ``path``, from ``/proc/locks``."""
    try:
        st = os.stat(path)
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    want = f":{st.st_ino}"
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}"
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == f"{dev}{want}":
            return int(parts[4])
    return None


def lock_fd(fd: int, what: str, path: str | Path) -> None:
    """Take an exclusive ``flock`` on an open file; raise Busy naming the holder."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise Busy(what, holder_pid(path)) from None


def unlock_serial(fd: int) -> None:
    """Give a serial port up at once: an asyncio transport closes its fd only on a later
    loop turn, and whoever opens the port next (``scan`` after a read) must not meet us."""
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCNXCL)
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)


def lock_serial(fd: int, port: str) -> None:
    """Own an open serial port: flock, then TIOCEXCL (best effort: not every fd is a tty)."""
    lock_fd(fd, f"serial port {port}", port)
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCEXCL)


class StoreLock:
    """The lock file beside a store. ``acquire()`` or raise Busy; ``release()`` at exit."""

    def __init__(self, db_path: str | Path) -> None:
        self.path = Path(f"{db_path}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        db = Path(str(self.path).removesuffix(".lock"))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(not_writable(db, exc)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            pid = int(text) if text.isdigit() else holder_pid(self.path)
            raise Busy(f"store {db}", pid) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays (unlinking races)
            self._fd = None
