"""The sending greenlets of a worker, reused from one request to the next.

The dispatcher hands every request and target to a sender greenlet at its due time and never
waits for it (open workload). Creating a greenlet per request costs about 10 us of CPU (its
stack, the Greenlet bookkeeping, a link callback when it ends), a tenth of what a replayed request
costs in all; a sender that finished its request parks itself and takes the next one instead,
for about 1 us. There are as many senders as requests were ever in flight at once: a sender is
only created when none is idle, so a request never waits for one.

Only for worker processes (gevent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
from gevent import getcurrent
from gevent.hub import get_hub

Job = tuple[Callable[..., object], tuple[Any, ...]]


class Senders:
    """Runs ``fn(*args)`` jobs at once, each on an idle sender greenlet or a new one.

    A job that raises is the job's own business: it ends its sender (the hub prints the error),
    as with ``gevent.spawn``; :meth:`join` and :meth:`kill` still account for it.
    """

    def __init__(self) -> None:
        self._hub = get_hub()
        self._idle: list[Any] = []
        self._all: set[Any] = set()
        self._busy = 0
        self._quiet = gevent.event.Event()
        self._quiet.set()

    def __len__(self) -> int:
        """Jobs running now."""
        return self._busy

    def spawn(self, fn: Callable[..., object], *args: Any) -> None:
        """Start ``fn(*args)`` on the next turn of the event loop."""
        self._busy += 1
        self._quiet.clear()
        if self._idle:
            self._hub.loop.run_callback(self._idle.pop().switch, (fn, args))
        else:
            self._all.add(gevent.spawn_raw(self._serve, (fn, args)))

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no job runs (at most ``timeout`` s); whether none runs."""
        return bool(self._quiet.wait(timeout))

    def kill(self, block: bool = True, timeout: float | None = None) -> None:
        """End every sender, busy or idle (the busy ones get ``GreenletExit``)."""
        senders, self._idle = list(self._all), []
        if senders:
            gevent.killall(senders, block=block, timeout=timeout)
        self._all.difference_update(s for s in senders if s.dead)
        self._busy = 0
        self._quiet.set()

    def _serve(self, job: Job) -> None:
        me = getcurrent()
        try:
            while True:
                fn, args = job
                try:
                    fn(*args)
                finally:
                    self._busy -= 1
                    if self._busy <= 0:
                        self._quiet.set()
                self._idle.append(me)
                job = self._hub.switch()
                while type(job) is not tuple:  # only spawn() wakes a parked sender
                    job = self._hub.switch()
        finally:
            self._all.discard(me)
