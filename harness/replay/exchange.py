"""One replayed exchange as the replay user sees it, and the hooks that may change it.

A captured request (:class:`ReplayRequest`, prepared once per worker before t0) is sent to each
target as an :class:`Outgoing` request and comes back as an :class:`Answer`. Between the two,
:class:`RequestHooks` is where per-session state plugs in without touching the sender:

- :meth:`RequestHooks.awaits`: should this request wait for earlier replies of its session
  from the same target (session order), and how long after them (the captured think time)?
- :meth:`RequestHooks.outgoing`: the request to send to one target (rewrite headers, path or
  body: a cookie jar, links, staging identities; a login first through ``send``). The default
  sends the capture as it is.
- :meth:`RequestHooks.answered`: read the answer (``Set-Cookie``, a token in the body) before
  the requests that await it may go.

:class:`ReplyBoard` is the mechanism behind ``awaits``: a reply slot per awaited request and
target, posted in schedule order, so a slow target delays only the requests that wait for its
own replies (an open workload across sessions); :mod:`harness.replay.timeline` releases each
waiting request when its replies and think time are over. Pure Python: no gevent here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.replay.timeline import Slot

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
    """a ``geventhttpclient.header.Headers``, or a list of ``(name, value)`` pairs (repeated
    names and their order are kept either way)"""
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


@dataclass(frozen=True)
class Await:
    """What a request waits for on replay: the replies of earlier requests (capture ``idx``)
    from the same target, then ``think_ns`` more (session order)."""

    idxs: tuple[int, ...]
    think_ns: int


Send = Callable[[Outgoing, str], Answer]
"""``send(outgoing, name)``: send one more exchange to the same target (a staging login, say);
it fires Locust's ``request`` event under ``name`` but writes no row."""


class RequestHooks:
    """Per-request hooks of a worker's replay; this base class replays the capture as it is.

    One instance per worker, called from the sending greenlets. Subclass and return it from
    :func:`hooks_for`. With :attr:`ordered`, the dispatcher posts a reply slot for every request
    :meth:`awaited` says a later one may wait for, in schedule order, and each request waits
    for the slots :meth:`awaits` names (only on the same target), so sessions never wait for
    each other: the workload stays open across sessions.
    """

    #: consult :meth:`awaits` / :meth:`awaited`; False: the strict schedule, no waiting
    ordered: bool = False

    def awaits(self, request: ReplayRequest) -> Await | None:
        """``None``: send at the scheduled time; else the replies to wait for first (bounded by
        the request timeout) and the think time after the last of them."""
        del request
        return None

    def awaited(self, request: ReplayRequest) -> bool:
        """Whether a later request may wait for this one's reply."""
        del request
        return False

    def outgoing(self, target: int, request: ReplayRequest, send: Send) -> Outgoing:
        """The request to send to target number ``target`` (index into the spec's targets);
        ``send`` sends an extra exchange to that target first when one is needed."""
        del send
        return Outgoing(request.method, request.path, request.headers[target], request.body)

    def answered(
        self, target: int, request: ReplayRequest, outgoing: Outgoing, answer: Answer
    ) -> None:
        """Called with every answer (failures too) before the requests awaiting it go."""
        del target, request, outgoing, answer

    def summary(self) -> dict[str, Any]:
        """What the hooks counted, for the worker's summary line (target -> counts)."""
        return {}


def hooks_for(spec: ShardSpec) -> RequestHooks:
    """The hooks a worker uses for ``spec``: session state (:mod:`harness.replay.session_hooks`:
    links, cookies, staging identities, session order unless ``spec.ordering`` is
    ``schedule``)."""
    from harness.replay.session_hooks import session_hooks

    return session_hooks(spec)


class ReplyBoard:
    """The latest reply slot of every awaited request, per target, posted in schedule order.

    Posting in schedule order means a request finds the slot of the occurrence it follows,
    also when a looped capture repeats it. The slots are filled and their waiters released by
    :class:`~harness.replay.timeline.SessionTimeline`.
    """

    def __init__(self) -> None:
        self._latest: dict[tuple[int, int], Slot] = {}

    def post(self, target: int, idx: int) -> Slot:
        """A new slot for request ``idx`` on ``target``; later posts of ``idx`` replace it."""
        slot = Slot()
        self._latest[(target, idx)] = slot
        return slot

    def slots(self, target: int, idxs: tuple[int, ...]) -> list[Slot]:
        """The current slots of ``idxs`` on ``target`` (a request never posted is skipped)."""
        found = (self._latest.get((target, idx)) for idx in idxs)
        return [slot for slot in found if slot is not None]

    def __len__(self) -> int:
        return len(self._latest)
