"""glibc's malloc told to keep the memory an import frees and takes again, chunk after chunk.

An import allocates and frees buffers of a few MB thousands of times (a chunk's joined request
heads and payloads, blocks of the input file). glibc's defaults give such a buffer a mapping of
its own (``M_MMAP_THRESHOLD`` starts at 128 KiB and only creeps up as mapped chunks are freed)
and return freed heap tops beyond twice that to the kernel, so the next buffer is faulted in
again page by page: on the ingest benchmark 110,000-120,000 minor page faults and 0.4-0.5 s of
system time per 250,000 requests (20,000-27,000 faults and 0.1-0.3 s with the setting below).
:func:`keep_freed_memory` fixes the two thresholds where glibc's own adjustment would end up at
most (``M_MMAP_THRESHOLD`` 32 MiB, ``M_TRIM_THRESHOLD`` 64 MiB): buffers below 32 MiB are reused
from the heap, at most 64 MiB of freed memory stays mapped, and peak memory does not change
(the buffers are the same).

It changes the process, not only the import: the harness is a command-line tool, one process
per command. On other C libraries (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import os

#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Allocations at least this large get their own mapping (returned to the kernel when freed).
MMAP_THRESHOLD = 32 << 20
#: Freed memory at the top of the heap beyond this is returned to the kernel.
TRIM_THRESHOLD = 64 << 20

_done = False


def keep_freed_memory() -> bool:
    """Set the thresholds once per process (glibc only); whether they are set."""
    global _done
    if _done:
        return True
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""  # "glibc 2.36"; absent elsewhere
    except (AttributeError, ValueError, OSError):
        libc = ""
    if not libc.startswith("glibc"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; the mmap threshold first: setting either one fixes both
    # (glibc stops adjusting them itself)
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _done
