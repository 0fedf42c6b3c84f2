"""A host-wide cap on concurrent argon2 work, shared by every server process on the machine.

gunicorn runs more sync workers than cores (the refresh path waits on PostgreSQL), but argon2 is
pure CPU and memory bandwidth: four 19 MiB verifies on two cores only evict each other's caches
(measured here: 4 processes verify 88 passwords/s, 2 processes 101/s). A flood of password attempts
would also hold every worker in argon2 while refreshes queue behind it.

So a verify (or hash) first takes one of ``count`` slots: an exclusive ``flock`` on one of
``count`` files in a private directory. The kernel drops a dead process's locks, so a crashed
worker never leaks a slot. When every slot is taken, one waiter polls the slots every 5 ms while
the others queue on a turnstile lock, so waiting costs almost no CPU. (Each poll wakes a process on
a core that is busy hashing; polling every millisecond instead cost about 1 ms more CPU per password
login under load, measured with `bench/run --scenarios password`. A verify takes ~20 ms, so a freed
slot waits 2.5 ms on average for the poller, while the worker that freed it finishes its request.)
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("authserver.hashslots")

POLL_SECONDS = 0.005  # see the module docstring


class HashSlots:
    """``count`` slots in ``directory``; :meth:`held` blocks until one is free."""

    def __init__(self, directory: Path, count: int) -> None:
        self.directory = directory
        self.count = count
        self._local = threading.local()  # one open file description per thread: flock is per description

    def _files(self) -> tuple[list[int], int]:
        files = getattr(self._local, "files", None)
        if files is None or files[0] != os.getpid():  # first use in this thread, or a forked child
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
            slots = [os.open(self.directory / f"slot-{i}", flags, 0o600) for i in range(self.count)]
            files = (os.getpid(), slots, os.open(self.directory / "turnstile", flags, 0o600))
            self._local.files = files
        return files[1], files[2]

    @staticmethod
    def _try_any(slots: list[int]) -> int | None:
        for fd in slots:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            return fd
        return None

    @contextmanager
    def held(self) -> Iterator[None]:
        slots, turnstile = self._files()
        fd = self._try_any(slots)
        if fd is None:
            fcntl.flock(turnstile, fcntl.LOCK_EX)  # the other waiters sleep in the kernel
            try:
                while (fd := self._try_any(slots)) is None:
                    time.sleep(POLL_SECONDS)
            finally:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def private_directory(path: Path) -> bool:
    """Create ``path`` (mode 0700) if missing; True if it is ours and nobody else can write to it.

    Anyone who could create files there could hold the slots and stall every login.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError as exc:
        log.warning("argon2 slots directory %s unusable (%s): no host-wide cap", path, type(exc).__name__)
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        log.warning("argon2 slots directory %s is not a private directory of this user: no host-wide cap", path)
        return False
    return True


def make_slots(directory: str, count: int) -> HashSlots | None:
    """The slots for this configuration, or ``None`` for no cap (``count`` 0 or an unusable directory)."""
    if count <= 0 or not private_directory(Path(directory)):
        return None
    return HashSlots(Path(directory), count)
