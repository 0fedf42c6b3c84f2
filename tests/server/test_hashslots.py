"""The host-wide cap on concurrent argon2 work: slots shared by threads and processes, released on death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from authserver.passwords.hasher import Passwords
from authserver.passwords.slots import HashSlots
from authserver.passwords.slots import make_slots
from authserver.passwords.slots import private_directory

HOLD_IN_CHILD = """
import sys, time
from pathlib import Path
from authserver.passwords.slots import HashSlots
with HashSlots(Path(sys.argv[1]), 1).held():
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_in_child(directory: Path, seconds: float) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_IN_CHILD, str(directory), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def timed_acquire(slots: HashSlots) -> float:
    started = time.monotonic()
    with slots.held():
        return time.monotonic() - started


def wait_behind_child(directory: Path, seconds: float) -> float:
    """Seconds our acquisition of the only slot waited while a child process held it for ``seconds``."""
    child = hold_in_child(directory, seconds)
    try:
        return timed_acquire(HashSlots(directory, 1))
    finally:
        child.wait(10)


@pytest.fixture
def slot_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "slots"
    assert private_directory(directory)
    return directory


def test_no_more_holders_at_once_than_slots_across_threads(slot_dir):
    slots = HashSlots(slot_dir, 2)
    active, peak, lock = 0, 0, threading.Lock()

    def work() -> None:
        nonlocal active, peak
        for _ in range(5):
            with slots.held():
                with lock:
                    active += 1
                    peak = max(peak, active)
                time.sleep(0.005)
                with lock:
                    active -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2


def test_a_slot_held_by_another_process_makes_us_wait_until_it_is_released(slot_dir):
    assert 0.3 < wait_behind_child(slot_dir, 0.5) < 5


def test_a_killed_holder_frees_its_slot(slot_dir):
    child = hold_in_child(slot_dir, 60)
    threading.Timer(0.3, os.kill, (child.pid, signal.SIGKILL)).start()
    waited = timed_acquire(HashSlots(slot_dir, 1))
    child.wait(10)
    assert 0.2 < waited < 5


def test_another_users_or_writable_directory_turns_the_cap_off(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert make_slots(str(shared), 2) is None
    assert make_slots(str(tmp_path / "private"), 0) is None  # 0 = no cap
    created = make_slots(str(tmp_path / "private"), 2)
    assert created is not None and (tmp_path / "private").stat().st_mode & 0o777 == 0o700


def test_password_verify_waits_for_a_slot(slot_dir):
    passwords = Passwords(1, 1024, 1, HashSlots(slot_dir, 1))
    encoded = passwords.hash("a password")
    child = hold_in_child(slot_dir, 0.5)
    try:
        started = time.monotonic()
        assert passwords.verify(encoded, "a password")
        waited = time.monotonic() - started
    finally:
        child.wait(10)
    assert waited > 0.3


def test_a_release_wakes_the_waiter_at_once_not_at_the_next_poll(slot_dir, monkeypatch):
    """The doorbell: with the fallback poll made 10 s long, only the release's ring can wake the waiter."""
    monkeypatch.setattr("authserver.passwords.slots.FALLBACK_POLL_SECONDS", 10.0)
    slots = HashSlots(slot_dir, 1)
    holding, released_at = threading.Event(), []

    def hold() -> None:
        with slots.held():
            holding.set()
            time.sleep(0.3)
            released_at.append(time.monotonic())

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(5)
    with slots.held():
        acquired_at = time.monotonic()
    holder.join()
    assert acquired_at - released_at[0] < 2.0


def test_without_a_fifo_waiters_still_get_the_slot_by_polling(slot_dir, monkeypatch):
    (slot_dir / "doorbell").write_text("")  # a regular file where the FIFO should be
    monkeypatch.setattr("authserver.passwords.slots.FALLBACK_POLL_SECONDS", 0.01)
    assert 0.1 < wait_behind_child(slot_dir, 0.3) < 5


def test_waiting_works_when_descriptors_are_numbered_past_1024(slot_dir):
    """A busy worker may have many files open: the wait must not use select() (FD_SETSIZE 1024)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1300:
        if hard != resource.RLIM_INFINITY and hard < 1300:
            pytest.skip(f"cannot open 1,100 spare descriptors (RLIMIT_NOFILE hard limit {hard})")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1300, hard))
    spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert spare[-1] > 1024
        assert 0.1 < wait_behind_child(slot_dir, 0.3) < 5
    finally:
        for fd in spare:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _open_descriptors() -> set[int]:
    return {int(fd) for fd in os.listdir("/proc/self/fd")}


def test_a_foreign_threads_slot_descriptors_are_closed_when_the_thread_ends(slot_dir):
    """granian runs requests on threads it makes itself (dummy threads to Python, never collected): their
    slot files must still be closed when they end, or each new thread leaks count + 2 descriptors."""
    import _thread

    slots = HashSlots(slot_dir, 2)
    before = _open_descriptors()
    finished = threading.Lock()
    finished.acquire()

    def work() -> None:
        try:
            with slots.held():
                pass
        finally:
            finished.release()

    _thread.start_new_thread(work, ())
    assert finished.acquire(timeout=10)
    deadline = time.monotonic() + 5
    while _open_descriptors() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _open_descriptors() - before
