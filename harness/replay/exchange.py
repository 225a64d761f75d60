"""One replayed exchange as the replay user sees it, and the hooks that may change it.

A captured request (:class:`ReplayRequest`, prepared once per worker before t0) is sent to each
target as an :class:`Outgoing` request and comes back as an :class:`Answer`. Between the two,
:class:`RequestHooks` is where per-session state plugs in without touching the sender:

- :meth:`RequestHooks.turn`: should this request wait for its session's previous answer from
  the same target (session order), and how long after it (the captured think time)?
- :meth:`RequestHooks.outgoing`: the request to send to one target (rewrite headers, path or
  body: a cookie jar, links, staging identities). The default sends the capture as it is.
- :meth:`RequestHooks.answered`: read the answer (``Set-Cookie``, a token in the body) before
  the session's next request may go.

:class:`SessionTurns` is the mechanism behind ``turn``: tickets issued in schedule order, one
chain per (session, target), so a slow target delays only that session's next request on that
target (an open workload across sessions). Pure Python: no gevent here; the sender passes its
own event type in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from harness.replay.spec import ShardSpec


@dataclass(frozen=True)
class ReplayRequest:
    """A captured request, ready to send: what every target gets unless a hook changes it."""

    idx: int
    route: str | None
    method: str
    path: str
    body: bytes
    headers: list[Any]
    """one header multimap (``geventhttpclient.header.Headers``) per target: Host rewritten,
    hop-by-hop headers dropped, the target's injected headers applied"""
    session: str | None
    orig_status: int | None
    orig_location_route: str | None
    links: list[dict[str, Any]] = field(default_factory=list)
    """the capture's session links of this request (``harness.capture.schema.LINK_TYPE``)"""
    orig_latency_ns: int | None = None


@dataclass
class Outgoing:
    """What goes on the wire to one target; ``link`` is the row's ``link`` column."""

    method: str
    path: str
    headers: Any
    """a ``geventhttpclient.header.Headers`` (repeated names and their order are kept)"""
    body: bytes
    link: str = "none"


@dataclass
class Answer:
    """What one target answered (or how the exchange failed), with the sender's clocks.

    Times are monotonic ns: ``sent_ns`` when the request got its connection (after any wait for
    a pooled one), ``end_ns`` at the last byte or the failure. ``queue_ns`` is the wait for a
    pooled connection, ``connect_ns`` the time spent opening one (0 when one was reused).
    """

    status: int
    error: str
    """``none``, ``timeout``, ``refused``, ``reset`` or ``other`` (``rundir.ERROR_KINDS``)"""
    headers: list[tuple[str, str]]
    body: bytes
    sent_ns: int
    end_ns: int
    queue_ns: int
    connect_ns: int
    exception: BaseException | None = None
    location_route: str | None = None


class RequestHooks:
    """Per-request hooks of a worker's replay; this base class replays the capture as it is.

    One instance per worker, called from the sending greenlets (never concurrently for the same
    session and target when :attr:`ordered`). Subclass and return it from :func:`hooks_for`.
    """

    #: issue session turns (``turn`` is consulted); False: the strict schedule, no waiting
    ordered: bool = False

    def turn(self, request: ReplayRequest) -> int | None:
        """``None``: send at the scheduled time. An int: wait for the previous answer of the
        same session from the same target (bounded by the timeout), then this many ns more."""
        del request
        return None

    def outgoing(self, target: int, request: ReplayRequest) -> Outgoing:
        """The request to send to target number ``target`` (index into the spec's targets)."""
        return Outgoing(request.method, request.path, request.headers[target], request.body)

    def answered(
        self, target: int, request: ReplayRequest, outgoing: Outgoing, answer: Answer
    ) -> None:
        """Called with every answer (failures too) before the session's next turn starts."""
        del target, request, outgoing, answer


def hooks_for(spec: ShardSpec) -> RequestHooks:
    """The hooks a worker uses for ``spec`` (today: the capture as it is, on the schedule)."""
    del spec
    return RequestHooks()


class _Event(Protocol):
    def set(self) -> None: ...

    def wait(self, timeout: float | None = None) -> object: ...


@dataclass
class Turn:
    """One request's place in its session's chain on one target."""

    previous: _Event | None
    mine: _Event
    previous_end_ns: list[int]
    """the monotonic end of the previous answer, filled when it arrives (shared cell)"""
    end_cell: list[int]

    def wait(self, timeout_s: float) -> int | None:
        """Wait (at most ``timeout_s``) for the previous answer; its end time, or ``None`` when
        there was none or it did not come in time."""
        if self.previous is None:
            return None
        self.previous.wait(timeout_s)
        return self.previous_end_ns[0] if self.previous_end_ns else None

    def done(self, end_ns: int) -> None:
        """This request is answered (or failed): the session's next request may go."""
        self.end_cell.append(end_ns)
        self.mine.set()


class SessionTurns:
    """Tickets in schedule order: each (session, target) is a chain of events.

    ``new_event`` makes the event type of the sender (``gevent.event.Event`` in a worker).
    Chains are forgotten when their last request is done, so memory follows the sessions in
    flight, not the whole capture.
    """

    def __init__(self, new_event: Callable[[], _Event]) -> None:
        self._new_event = new_event
        self._last: dict[tuple[str, int], tuple[_Event, list[int]]] = {}

    def ticket(self, session: str | None, target: int) -> Turn:
        """The next turn of ``session`` on ``target`` (a request without session: no chain)."""
        mine = self._new_event()
        cell: list[int] = []
        if session is None:
            return Turn(None, mine, [], cell)
        key = (session, target)
        previous = self._last.get(key)
        self._last[key] = (mine, cell)
        if previous is None:
            return Turn(None, mine, [], cell)
        return Turn(previous[0], mine, previous[1], cell)

    def forget(self, session: str | None, target: int, turn: Turn) -> None:
        """Drop the chain of ``session`` on ``target`` when ``turn`` is still its last."""
        if session is None:
            return
        key = (session, target)
        last = self._last.get(key)
        if last is not None and last[0] is turn.mine:
            del self._last[key]

    def __len__(self) -> int:
        return len(self._last)
