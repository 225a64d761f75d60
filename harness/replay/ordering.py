"""Session order: which earlier replies a request waits for on replay, and its think time.

Pure. In the capture, a request of a session that left after some of its session's responses
had arrived depended on them (a browser follows a redirect, an API client sends the token the
login returned). On replay it waits for the same replies **from the same target**, then leaves
after the captured think time:

    ready = max(due, latest of the awaited replies' arrival + think / speed)

so it never leaves before its scheduled time, and a slow target delays only that session's
next request, as it delays a real user. Requests that overlapped in the capture (a browser's
parallel fetches) do not wait for each other, and sessions never wait for other sessions: the
workload stays open across sessions. ``--ordering schedule`` keeps the strict schedule instead.

A request awaits (:func:`session_order`):

- the **latest response of its session that had arrived when it left** in the capture (the
  earlier request whose ``offset + orig_latency`` is the greatest one not after its offset;
  requests without a captured response are not awaited), and
- the **sources of its links**, which delivered values it sends.

Its think time is its offset minus the arrival of the last of those responses (captured time).

>>> rows = [OrderRow(0, 0, "s", 0, 100), OrderRow(1, 1, "s", 50, 10), OrderRow(2, 2, "s", 300, 5)]
>>> session_order(rows)[2]
Order(awaits=(0,), think_ns=200)
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: value of ``--ordering``: wait for the session's replies (default), or the strict schedule
ORDERINGS: tuple[str, ...] = ("session", "schedule")


@dataclass(frozen=True)
class OrderRow:
    """What ordering needs of one capture row (``pos``: its position in the capture table)."""

    pos: int
    idx: int
    session: str | None
    offset_ns: int
    latency_ns: int | None
    link_sources: tuple[int, ...] = field(default=())
    """``idx`` of the exchanges its links read from"""


@dataclass(frozen=True)
class Order:
    """A request's wait: capture positions of the replies it awaits, and the captured think."""

    awaits: tuple[int, ...]
    think_ns: int


NO_WAIT = Order((), 0)


def session_order(rows: Iterable[OrderRow]) -> dict[int, Order]:
    """``pos`` -> :class:`Order` for every row that awaits something (others: no wait)."""
    by_session: dict[str, list[OrderRow]] = {}
    pos_of: dict[int, OrderRow] = {}
    for row in rows:
        pos_of[row.idx] = row
        if row.session is not None:
            by_session.setdefault(row.session, []).append(row)
    orders: dict[int, Order] = {}
    for session_rows in by_session.values():
        session_rows.sort(key=lambda r: (r.offset_ns, r.idx))
        ended: list[tuple[int, int]] = []  # heap of (arrival ns, pos) not yet arrived
        latest: tuple[int, int] | None = None  # (arrival ns, pos) of the last arrived reply
        for row in session_rows:
            while ended and ended[0][0] <= row.offset_ns:
                arrived = heapq.heappop(ended)
                if latest is None or arrived[0] >= latest[0]:
                    latest = arrived
            awaits: dict[int, int] = {}
            if latest is not None:
                awaits[latest[1]] = latest[0]
            for src_idx in row.link_sources:
                src = pos_of.get(src_idx)
                if src is not None and src.offset_ns <= row.offset_ns and src.pos != row.pos:
                    awaits.setdefault(src.pos, src.offset_ns + (src.latency_ns or 0))
            if awaits:
                last = max(awaits.values())
                orders[row.pos] = Order(tuple(sorted(awaits)), max(0, row.offset_ns - last))
            if row.latency_ns is not None:
                heapq.heappush(ended, (row.offset_ns + row.latency_ns, row.pos))
    return orders


def ready_ns(
    due_ns: int, order: Order, arrivals: Sequence[int | None], speed: float, timeout_ns: int
) -> int:
    """When a request may leave: ``arrivals`` are the awaited replies' arrival times (same clock
    as ``due_ns``; None for a reply that never came, which counts as ``due + timeout``)."""
    if not order.awaits:
        return due_ns
    last = max(a if a is not None else due_ns + timeout_ns for a in arrivals)
    return max(due_ns, last + int(order.think_ns / speed))
