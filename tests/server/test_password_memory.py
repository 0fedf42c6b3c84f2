"""argon2's working memory does not stay resident after a hash (authserver/passwords/memory.py).

Each test runs in a fresh interpreter: glibc's malloc state is per process, and pytest's own process has
already been through many hashes.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from authserver.testing.servers import ROOT

# Two threads verify at once, three times, with the production memory cost (19 MiB each); the child prints
# how much its resident set grew, in MiB.
CHILD = """
import sys, threading
from authserver.passwords.hasher import Passwords
from authserver.passwords.memory import release_hash_memory_after_use

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

if sys.argv[1] == "pinned":
    assert release_hash_memory_after_use()
if sys.argv[1] == "app":  # the server's own set-up pins it: create_app, then the app's hasher
    import os, tempfile
    from authserver import create_app
    from authserver.passwords.hasher import current_passwords
    tmp = tempfile.mkdtemp()
    os.environ["AUTHSERVER_ENV"] = "development"
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/db.sqlite", "KEYS_DIR": f"{tmp}/keys",
                      "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 19456})
    with app.app_context():
        passwords = current_passwords()
else:
    passwords = Passwords(time_cost=1, memory_kib=19456, parallelism=1)
stored = passwords.hash("correct horse battery")
before = rss_mib()
for _ in range(3):
    threads = [threading.Thread(target=passwords.verify, args=(stored, "correct horse battery")) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
print(round(rss_mib() - before, 1))
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc and /proc")


def _growth(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def test_concurrent_hashes_leave_no_resident_memory_behind() -> None:
    assert _growth("pinned") < 8


def test_without_the_pinned_threshold_the_hash_memory_stays_resident() -> None:
    """The control: what the pinning prevents is real on this C library (about 19 MiB per thread)."""
    assert _growth("default") > 30


def test_the_server_app_returns_hash_memory_after_use() -> None:
    assert _growth("app") < 8
