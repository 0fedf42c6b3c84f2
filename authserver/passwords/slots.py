"""A host-wide cap on concurrent argon2 work, shared by every server process on the machine.

gunicorn runs more sync workers than cores (the refresh path waits on PostgreSQL), but argon2 is
pure CPU and memory bandwidth: four 19 MiB verifies on two cores only evict each other's caches
(measured here: 4 processes verify 88 passwords/s, 2 processes 101/s). A flood of password attempts
would also hold every worker in argon2 while refreshes queue behind it.

So a verify (or hash) first takes one of ``count`` slots: an exclusive ``flock`` on one of
``count`` files in a private directory. The kernel drops a dead process's locks, so a crashed
worker never leaks a slot. When every slot is taken, one waiter watches for a free slot while the
others queue on a turnstile lock, so waiting costs almost no CPU. The watcher sleeps on a doorbell,
a FIFO in the same directory that every release rings with one byte, so a freed slot is taken at
once rather than at the next poll: with polling every 5 ms, a core sat idle for 2.5 ms on average
after a release while the releasing worker waited on PostgreSQL (the machine was 94-95% busy under
`bench/run --scenarios password`). A holder killed before it rings is noticed by the watcher's
timeout, ``FALLBACK_POLL_SECONDS``. Polling faster was no answer: each poll wakes a process on a
core busy hashing (1 ms polls cost about 1 ms more CPU per login than 5 ms polls).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import stat
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("authserver.passwords.slots")

FALLBACK_POLL_SECONDS = 0.05  # only for a holder that died without ringing; see the module docstring


class HashSlots:
    """``count`` slots in ``directory``; :meth:`held` blocks until one is free."""

    def __init__(self, directory: Path, count: int) -> None:
        self.directory = directory
        self.count = count
        self._local = threading.local()  # one open file description per thread: flock is per description

    def _files(self) -> tuple[list[int], int, int | None]:
        files = getattr(self._local, "files", None)
        if files is None or files[0] != os.getpid():  # first use in this thread, or a forked child
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
            slots = [os.open(self.directory / f"slot-{i}", flags, 0o600) for i in range(self.count)]
            files = (
                os.getpid(),
                slots,
                os.open(self.directory / "turnstile", flags, 0o600),
                _open_doorbell(self.directory / "doorbell"),
            )
            self._local.files = files
            opened = [*slots, files[2], *([files[3]] if files[3] is not None else [])]
            # Closed when this thread's thread-local values are dropped (the thread ended). Not tied to the
            # thread object: for a thread Python did not start (granian's), that object is never collected.
            self._local.anchor = anchor = _ThreadAnchor()
            weakref.finalize(anchor, _close_all, opened)
        return files[1], files[2], files[3]

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
        slots, turnstile, bell = self._files()
        fd = self._try_any(slots)
        if fd is None:
            fcntl.flock(turnstile, fcntl.LOCK_EX)  # the other waiters sleep in the kernel
            try:
                while (fd := self._try_any(slots)) is None:
                    _wait_for_ring(bell)
            finally:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            if bell is not None:
                with contextlib.suppress(BlockingIOError):  # full: rung often enough already
                    os.write(bell, b"\0")


class _ThreadAnchor:
    """An object only one thread's thread-local state refers to: it dies when that thread ends."""

    __slots__ = ("__weakref__",)


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _open_doorbell(path: Path) -> int | None:
    """The FIFO every release writes a byte to (opened read-write: never blocks, never EOF); ``None``
    where FIFOs cannot be made (the watcher then polls every FALLBACK_POLL_SECONDS)."""
    try:
        os.mkfifo(path, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        log.warning("argon2 slots: no doorbell FIFO at %s (%s): waiting by polling", path, type(exc).__name__)
        return None
    try:
        if not stat.S_ISFIFO(os.lstat(path).st_mode):
            log.warning("argon2 slots: %s is not a FIFO: waiting by polling", path)
            return None
        return os.open(path, os.O_RDWR | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        log.warning("argon2 slots: cannot open the doorbell %s (%s): waiting by polling", path, type(exc).__name__)
        return None


def _wait_for_ring(bell: int | None) -> None:
    """Sleep until a release rings (or the fallback timeout), then empty the bell."""
    if bell is None:
        time.sleep(FALLBACK_POLL_SECONDS)
        return
    poller = select.poll()  # not select.select(): a worker's descriptors may be numbered past 1024
    poller.register(bell, select.POLLIN)
    if poller.poll(FALLBACK_POLL_SECONDS * 1000):
        with contextlib.suppress(BlockingIOError):
            while os.read(bell, 4096):  # rings from releases nobody waited for wake us once, harmlessly
                pass


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
