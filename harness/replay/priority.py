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
