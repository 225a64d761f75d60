"""The CPU priority of a replay worker: ahead of the rest of a busy machine, when allowed.

A replay worker needs little CPU (a tenth of a core at a few hundred requests a second) but
needs it on time: each request leaves when its due time comes. On a loaded machine (a shared CI
runner, two cores for the load generator, the targets, their database and everything else) a
worker that waits for a core sends late, and the run may be called invalid for it. So each
worker asks the OS for a higher priority (``nice`` :data:`NICE`) first thing; with the
privilege for it (root, or ``CAP_SYS_NICE``) a busy machine then delays the targets (the same for
baseline and candidate) rather than the schedule. Without it nothing changes, and the worker's
summary says so (``priority_raised``).

Measured on the 2-core machine of benchmarks/README.md with ``stress-ng --cpu 2`` beside it,
75 requests/s to three targets: send lag p99 22-180 ms (one run 889 ms) at the default
priority, 4-115 ms at nice -10.
"""

from __future__ import annotations

import os

#: the niceness a worker asks for (lower is sooner; the default is 0)
NICE = -10

#: how much nicer than the worker's sending thread its part-file writer runs
WRITER_NICER = 10


def raise_priority() -> bool:
    """Lower this process's niceness to :data:`NICE` when it is higher; True when it is now
    at most :data:`NICE` (already, or raised), False when the OS refused."""
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        if current > NICE:
            os.setpriority(os.PRIO_PROCESS, 0, NICE)
    except OSError:  # no privilege for it: the worker runs at the priority it was given
        return False
    return True


def lower_this_thread(by: int = WRITER_NICER) -> bool:
    """Make the calling OS thread ``by`` nicer than it is (Linux niceness is per thread; no
    privilege is needed to lower a priority). The worker's part-file writer calls this: on a
    core it shares with the sending loop, encoding 50,000 rows (a quarter of a second of CPU)
    at the same priority took every other time slice from the loop, and requests went out up to
    40 ms late; nicer, it runs in the loop's idle time. False when the OS refused."""
    try:
        from gevent.monkey import get_original

        tid = get_original("threading", "get_native_id")()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + by))
    except (OSError, AttributeError):
        return False
    return True
