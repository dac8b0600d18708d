"""The C library's allocator told to keep what a one-shot command frees, for its next
arrays.

glibc's malloc gives every block of 32 MB or more (and, in a thread's arena, of 64 MB or
more) pages of its own from the kernel and hands them back when the block is freed. A
command that reads a large file makes and drops many such arrays (a column of ten million
rows is 40 to 80 MB): each one's pages are faulted in and zeroed by the kernel afresh. At
1M contacts / 10M activities in Parquet that was 5 to 8 s of system time in `leadscore
score`. Kept in the heap, a freed array's pages serve the next one. While such a command
reads its files, numpy's arrays also go without huge pages (`small_pages`).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_KEEP = 2**31 - 1
"""Free memory at the top of the heap left there up to this much (the most `mallopt`
takes, 2 GB)."""


_kept = False
"""Whether `keep_freed_memory` set this process's allocator."""


def keep_freed_memory() -> bool:
    """In this process, every block from glibc's main heap (no block mapped on its own, one
    arena for every thread, so that a block a thread frees serves the others) and freed
    memory not handed back to the kernel. For a command that ends when its work is done,
    not for a server. Whether glibc took the settings (elsewhere nothing is changed)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):  # musl has none
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, ValueError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    settings = ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _KEEP))
    global _kept
    _kept = all(mallopt(option, value) == 1 for option, value in settings)
    return _kept


@contextmanager
def small_pages() -> Iterator[None]:
    """In a process whose memory `keep_freed_memory` set, numpy's arrays made meanwhile
    get no transparent huge pages; elsewhere (or where numpy cannot be told) nothing
    changes.

    numpy asks the kernel for huge pages (`madvise`) for each array of 4 MB or more.
    While `leadscore score` reads its files, threads make and drop many such arrays at
    once in a heap that keeps what is freed, and at 1M contacts / 10M activities the
    kernel's work on them took 0.5 to 0.7 s of system time more than with small pages
    (four pairs of runs: 7.79 s on average, 7.54 s without huge pages while reading).
    The engine after keeps numpy's default (its arrays gained from huge pages), as the
    files bench's baseline does."""
    import numpy as np

    multiarray = getattr(getattr(np, "_core", None), "multiarray", None)
    if multiarray is None:  # (numpy before 2.0 names its core `core`)
        multiarray = getattr(getattr(np, "core", None), "multiarray", None)
    toggle = getattr(multiarray, "_set_madvise_hugepage", None)
    if not _kept or toggle is None:
        yield
        return
    before = bool(toggle(False))
    try:
        yield
    finally:
        toggle(before)
