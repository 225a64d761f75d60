"""keep_freed_memory: large buffers come from the heap (reused), not from mappings of their own
(returned to the kernel when freed and faulted in again page by page)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.capture.allocator import keep_freed_memory

GLIBC = ((getattr(os, "confstr", None) and os.confstr("CS_GNU_LIBC_VERSION")) or "").startswith(
    "glibc 2.3"  # mallinfo2 (the check below) is 2.33 and later
)

# how many chunks glibc has mapped on their own, before and while a 12 MiB buffer lives
PROBE = """
import ctypes, sys
from harness.capture.allocator import keep_freed_memory

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
before = mallinfo2().hblks
buffer = b"x" * (12 << 20)
print(before, mallinfo2().hblks)
"""


def _mapped(mode: str) -> tuple[int, int]:
    run = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
    )
    before, during = run.stdout.split()
    return int(before), int(during)


@pytest.mark.skipif(not GLIBC, reason="glibc 2.33+ only: elsewhere keep_freed_memory does nothing")
def test_a_large_buffer_comes_from_the_heap_once_tuned() -> None:
    before, during = _mapped("default")
    assert during == before + 1  # glibc's default: a mapping of its own, unmapped when freed
    before, during = _mapped("tuned")
    assert during == before


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_it_is_set_once_and_says_so() -> None:
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True
