"""Session order on one timeline: when each request that awaits earlier replies may leave.

In session order (:mod:`harness.replay.ordering`) a request that awaits replies of its session
leaves at ``max(scheduled, last awaited reply + think)``, or, when a reply has not come within
the request timeout, at that deadline (it gives up, as a user would). The worker's dispatcher
(:mod:`harness.replay.dispatch`) hands each such request to :class:`SessionTimeline` when its
scheduled time comes; the timeline releases it when it may leave, and the dispatcher starts its
send then. No greenlet exists for a request before it may leave.

Why one timeline and not a greenlet per request that sleeps until its time: at 2,000 req/s,
with each session's schedule moved by a few hundred ms, that made hundreds of greenlets each
sleeping on its own timer, waking late behind one another, and surviving the young
generations of the garbage collector, whose collections then paused the worker for
milliseconds at a time (measured in benchmarks/README.md, session order).

Honest clocks: a reply counts from its last byte (``Answer.end_ns``), not from when the sender
finished reading it, so the time spent on it before the next request may go is send lag, not
session wait. The wait of a released request is ``go - scheduled``; its send lag is counted
from ``go`` by the sender.

Pure: no gevent. ``release(payload, go_ns, wait_ns)`` starts a send, ``wake()`` tells the
dispatcher that an earlier time than the one it sleeps to is now due (both callbacks given by
the dispatcher).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

#: the dispatcher wakes at most once per this many ns: a request due sooner than that after its
#: last wake leaves with the others due by then (at most 0.25 ms late, counted in its lag); a
#: request due later than that leaves on time. A wake per request (a timer, two switches, a turn
#: of the event loop) was a visible part of the CPU per request at thousands of requests per
#: second (benchmarks/README.md, "Fewer wakes")
WAKE_EVERY_NS = 250_000


def next_wake(due_ns: int, woke_ns: int, every_ns: int = WAKE_EVERY_NS) -> int:
    """When the dispatcher wakes for a request due at ``due_ns``, having last woken at
    ``woke_ns``: at its due time, or ``every_ns`` after the last wake, whichever is later."""
    return max(due_ns, woke_ns + every_ns)


class Slot:
    """The reply of one request on one target, for the requests that await it."""

    __slots__ = ("end_ns", "waiters")

    def __init__(self) -> None:
        self.end_ns: int | None = None
        """monotonic ns of the reply's last byte (or of the failure); None while in flight"""
        self.waiters: list[Waiter] | None = None


class Waiter:
    """A request on one target that waits for replies before it may leave."""

    __slots__ = ("give_up_ns", "last_end_ns", "payload", "remaining", "scheduled_ns", "think_ns")

    def __init__(self, scheduled_ns: int, think_ns: int, give_up_ns: int, payload: object) -> None:
        self.scheduled_ns = scheduled_ns
        self.think_ns = think_ns
        self.give_up_ns = give_up_ns
        self.payload = payload
        self.last_end_ns: int | None = None
        self.remaining = 0
        """replies still awaited; -1 once released (or given up)"""

    def go_ns(self) -> int:
        """When it may leave, from the replies that came so far."""
        if self.last_end_ns is None:
            return self.scheduled_ns
        return max(self.scheduled_ns, self.last_end_ns + self.think_ns)


Release = Callable[[Any, int, int], None]
"""``release(payload, go_ns, wait_ns)``: start the send of a request that may leave now."""


class SessionTimeline:
    """The requests of one worker that wait for replies, and when each may leave.

    Times are monotonic ns. The dispatcher calls :meth:`arrive` at a request's scheduled time,
    :meth:`replied` when an awaited reply came (from the sender that got it), sleeps until
    :meth:`next_at` (or until ``wake``) and then calls :meth:`release_due`.
    """

    def __init__(self, release: Release, wake: Callable[[], None]) -> None:
        self._release = release
        self._wake = wake
        self._heap: list[tuple[int, int, Waiter]] = []  # (go ns, order, waiter): may leave then
        self._give_ups: deque[Waiter] = deque()  # waiters with replies in flight, by deadline
        self._order = 0
        self.waiting = 0
        """requests handed over and not released yet"""

    def arrive(
        self,
        scheduled_ns: int,
        think_ns: int,
        slots: Iterable[Slot],
        *,
        timeout_ns: int,
        now_ns: int,
        payload: object,
    ) -> None:
        """A request whose scheduled time came awaits ``slots`` (the same target's), then
        ``think_ns``; it leaves at once when they are in and the think time is over."""
        waiter = Waiter(scheduled_ns, think_ns, max(now_ns, scheduled_ns) + timeout_ns, payload)
        self.waiting += 1
        for slot in slots:
            if slot.end_ns is None:
                waiter.remaining += 1
                if slot.waiters is None:
                    slot.waiters = []
                slot.waiters.append(waiter)
            elif waiter.last_end_ns is None or slot.end_ns > waiter.last_end_ns:
                waiter.last_end_ns = slot.end_ns
        if waiter.remaining:
            self._give_ups.append(waiter)
        else:
            self._ready(waiter, now_ns)

    def replied(self, slot: Slot, end_ns: int, now_ns: int) -> None:
        """The reply of ``slot`` came at ``end_ns`` (its last byte, or the failure)."""
        slot.end_ns = end_ns
        waiters, slot.waiters = slot.waiters, None
        for waiter in waiters or ():
            if waiter.remaining <= 0:  # gave up on it already
                continue
            if waiter.last_end_ns is None or end_ns > waiter.last_end_ns:
                waiter.last_end_ns = end_ns
            waiter.remaining -= 1
            if waiter.remaining == 0:
                self._ready(waiter, now_ns)

    def next_at(self) -> int | None:
        """The earliest time something is due (a release or a give-up); None: nothing is."""
        self._drop_stale()
        at = self._heap[0][0] if self._heap else None
        if self._give_ups:
            give_up = self._give_ups[0].give_up_ns
            at = give_up if at is None else min(at, give_up)
        return at

    def release_due(self, now_ns: int) -> None:
        """Release every request that may leave at ``now_ns``; give up on replies that did
        not come within the timeout (those requests go at their deadline)."""
        heap = self._heap
        while heap and heap[0][0] <= now_ns:
            go, _, waiter = heapq.heappop(heap)
            self._go(waiter, go)
        self._drop_stale()
        while self._give_ups and self._give_ups[0].give_up_ns <= now_ns:
            waiter = self._give_ups.popleft()
            if waiter.remaining > 0:
                waiter.remaining = 0
                go = max(waiter.go_ns(), waiter.give_up_ns)
                if go <= now_ns:
                    self._go(waiter, go)
                else:
                    self._push(go, waiter)
            self._drop_stale()

    def _drop_stale(self) -> None:
        give_ups = self._give_ups
        while give_ups and give_ups[0].remaining <= 0:
            give_ups.popleft()

    def _ready(self, waiter: Waiter, now_ns: int) -> None:
        go = waiter.go_ns()
        if go <= now_ns:
            self._go(waiter, go)
        else:
            self._push(go, waiter)

    def _push(self, go_ns: int, waiter: Waiter) -> None:
        self._order += 1
        heapq.heappush(self._heap, (go_ns, self._order, waiter))
        if self._heap[0][2] is waiter:  # earlier than what the dispatcher sleeps to
            self._wake()

    def _go(self, waiter: Waiter, go_ns: int) -> None:
        waiter.remaining = -1
        self.waiting -= 1
        self._release(waiter.payload, go_ns, max(0, go_ns - waiter.scheduled_ns))
