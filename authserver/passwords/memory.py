"""argon2's working memory goes back to the operating system after every hash.

Each argon2id hash or verify allocates its whole memory cost at once (19 MiB at the defaults) and frees it
at the end. glibc's malloc serves an allocation that large with ``mmap`` only until the first one is freed:
it then raises its mmap threshold (up to 32 MiB) and later hashes come from the heap of the thread's arena,
which keeps the pages after ``free``. With a few request threads per worker that is tens of MiB of resident
memory per worker held for nothing (measured: 57 MiB after two threads verified at once). Pinning the
threshold with ``mallopt(M_MMAP_THRESHOLD, 128 KiB)`` turns the dynamic adjustment off, so every hash's
memory is mapped and unmapped and resident memory stays flat (docs/performance.md, "Memory").

On a C library without ``mallopt`` (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

#: glibc's <malloc.h> ``M_MMAP_THRESHOLD``.
M_MMAP_THRESHOLD = -3
#: glibc's default threshold, fixed (not raised after a free).
THRESHOLD_BYTES = 128 * 1024


def release_hash_memory_after_use() -> bool:
    """Pin glibc's mmap threshold for this process; True if it took effect. Idempotent."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
