"""Session links learned at import: which later requests send what an earlier response delivered.

Per session, :class:`LinkLearner` keeps an index of the values that the responses of *kept* rows
delivered (:mod:`harness.capture.linksources`), leaving out what the session's own requests sent
before (the server echoing the client's data is no delivery). A response's values become
usable when it ended (request time + captured latency): a request sent while the answer was
still on its way cannot have used it. Each later request of the session offers its values by place
(:mod:`harness.capture.linktargets`); a value found in the index is a link, subject to the
guards of :mod:`harness.capture.linkvalues` and the ``links:`` rules of the capture config.
The nearest earlier source wins, except that an item of a list (``$.notes[3].slug``) does not
replace a source outside one (the ``$.note.slug`` of the answer that created it); a value that
more than one source delivered is counted as ambiguous.

The learner sees real values, before redaction. After redaction, :meth:`LinkLearner.confirm`
stores each link's value as the stored request holds it (the pseudonym of the raw value, the
raw value where nothing was replaced, or what stands between the same neighbours where a mask
replaced it) and drops, with a count, a link whose value is no longer at its place.

Memory is bounded: at most ``max_values`` values indexed and as many sent per session, and at
most ``max_held`` values (indexed, waiting for their response to end, or sent) and
``max_sessions`` sessions in all; past that, the least recently active sessions are dropped
(counted: ``sessions_evicted``), so memory does not grow with the capture.

Usage (what :mod:`harness.capture.ingest` does per kept request, in capture order)::

    raw = learner.match(session, ts, "GET /articles/{id}", lambda: request_places(p, h, b))
    learner.offer(idx, session, ts, end_ts, "POST /articles", delivered)
    ... redact the request ...
    exchange.links = learner.confirm(raw, stored_path, stored_headers, stored_body)
"""

from __future__ import annotations

import json
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pydantic import BaseModel, Field

from harness.capture.config import LinksConfig
from harness.capture.linkrules import Rule
from harness.capture.linksources import Delivered
from harness.capture.linkspec import Locator, parse_target
from harness.capture.linktargets import Place, place_values
from harness.capture.linkvalues import is_csrf_name, is_token_name, worth_linking

DEFAULT_MAX_SESSIONS = 20_000
DEFAULT_MAX_VALUES = 1024
DEFAULT_MAX_HELD = 200_000

DROP_NOT_STORED = "value not at its place after redaction"
DROP_EXCLUDED = "excluded by a links rule"
DROP_RESORTED = "source after target once re-sorted"

_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


_new = tuple.__new__


class LinkReport(BaseModel):
    """What link learning found (capture metadata ``links``); counts only, never a value."""

    enabled: bool = False
    links: int = Field(0, description="links stored")
    requests: int = Field(0, description="requests with at least one link")
    by_kind: dict[str, int] = Field(default_factory=dict)
    ambiguous: int = Field(0, description="links whose value more than one source delivered")
    aligned: int = Field(0, description="values found by their neighbours after redaction")
    added_by_rule: int = Field(0, description="links from an `add` rule of the config")
    dropped: dict[str, int] = Field(default_factory=dict, description="reason -> links")
    responses_read: int = Field(0, description="responses whose values were indexed")
    responses_unread: dict[str, int] = Field(default_factory=dict, description="reason -> count")
    sessions_evicted: int = Field(0, description="idle sessions dropped to bound memory")


class _Entry(NamedTuple):
    """A value in a session's index: who delivered it, and how."""

    src_idx: int
    src: str
    kind: str
    id_like: bool
    src_route: str  # "METHOD route" of the source exchange
    alternatives: int = 0  # other sources that delivered the same value
    rule: Rule | None = None  # the add rule that made it, if any


@dataclass(frozen=True, slots=True)
class RawLink:
    """A link before redaction: its value is the real one (never stored as such)."""

    src_idx: int
    src: str
    dst: str
    value: str
    encoding: str
    kind: str
    index: int
    prefix: str
    suffix: str
    ambiguous: bool
    by_rule: bool


class _Session:
    __slots__ = ("index", "pending", "sent")

    def __init__(self) -> None:
        self.index: dict[str, _Entry] = {}
        # (usable from ts, entries of one response), oldest first
        self.pending: list[tuple[int, list[tuple[str, _Entry]]]] = []
        # values the session's requests sent (newest last): a response that returns one of
        # them echoes the client's own data, it does not deliver it
        self.sent: dict[str, None] = {}

    def size(self) -> int:
        """Values this session holds (indexed, pending, sent)."""
        return len(self.index) + len(self.sent) + sum(len(e) for _, e in self.pending)


class LinkLearner:
    """Learns the links of one import (see the module docstring)."""

    def __init__(
        self,
        config: LinksConfig | None = None,
        *,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        max_values: int = DEFAULT_MAX_VALUES,
        max_held: int = DEFAULT_MAX_HELD,
    ) -> None:
        self.config = config or LinksConfig()
        # the report's counts (a pydantic model is slow to update in this loop)
        self._n: Counter[str] = Counter()
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._max_sessions = max_sessions
        self._max_values = max_values
        self._max_held = max_held
        self._held = 0  # values held by all sessions (index, pending and sent)
        self._kinds: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()
        self._unread: Counter[str] = Counter()
        self._add = [Rule.of(r) for r in self.config.add]
        self._exclude = [Rule.of(r) for r in self.config.exclude]
        self._targets: dict[str, Locator] = {}
        #: set once a response was seen: until then requests are not read at all
        self.responses_seen = False

    @property
    def held(self) -> int:
        """Values all sessions hold now (indexed, pending, sent)."""
        return self._held

    @property
    def active(self) -> bool:
        """Whether requests need reading (a response was seen: values may come back)."""
        return self.responses_seen

    def match(
        self, session: str, ts: int, route: str, places: Callable[[], list[Place]]
    ) -> list[RawLink]:
        """The links of a request of ``session`` sent at ``ts`` (``route``: ``METHOD route``).

        ``places`` is called once a response was seen in the capture: the request's values
        are also remembered as sent by the session (see :meth:`offer`).
        """
        state = self._sessions.get(session)
        if state is None:
            if not self.responses_seen:
                return []  # nothing to learn from yet (a capture without responses, so far)
            state = self._state(session)
        else:
            self._sessions.move_to_end(session)  # the most recently active: dropped last
            if state.pending and state.pending[0][0] <= ts:
                self._release(state, ts)
        found: dict[tuple[str, str], RawLink] = {}
        index = state.index
        sent = state.sent
        before = len(sent)
        for place in places():
            value = place.value
            sent[value] = None
            if not index:
                continue
            entry = index.get(value)
            if entry is None or (place.dst, value) in found:
                continue
            link = self._link(entry, place, route)
            if link is not None:
                found[(place.dst, value)] = link
        while len(sent) > self._max_values:
            del sent[next(iter(sent))]
        self._hold(len(sent) - before)
        return list(found.values())

    def _hold(self, delta: int) -> None:
        """Count values taken (or let go); drop idle sessions while too many are held."""
        self._held += delta
        sessions = self._sessions
        while self._held > self._max_held and len(sessions) > 1:
            _, gone = sessions.popitem(last=False)
            self._held -= gone.size()
            self._n["sessions_evicted"] += 1

    def _state(self, session: str) -> _Session:
        """The session's state, made (and the least recently active dropped) when new."""
        state = self._sessions.get(session)
        if state is None:
            state = self._sessions[session] = _Session()
            if len(self._sessions) > self._max_sessions:
                _, gone = self._sessions.popitem(last=False)
                self._held -= gone.size()
                self._n["sessions_evicted"] += 1
        else:
            self._sessions.move_to_end(session)
        return state

    def _link(self, entry: _Entry, place: Place, route: str) -> RawLink | None:
        rule = entry.rule
        if rule is not None:
            if not rule.admits(place.dst, route):
                return None
        elif not worth_linking(place.value, entry.id_like and place.id_place):
            return None
        kind = (rule.rule.kind if rule is not None else None) or _kind(entry, place)
        for ex in self._exclude:
            if ex.excludes(entry.src, entry.src_route, place.dst, route, kind):
                self._dropped[DROP_EXCLUDED] += 1
                return None
        return RawLink(
            entry.src_idx, entry.src, place.dst, place.value, place.encoding, kind,
            place.position, place.prefix, place.suffix, entry.alternatives > 0, rule is not None,
        )  # fmt: skip

    def offer(  # noqa: PLR0917 - one call per response, in the import's inner loop
        self,
        idx: int,
        session: str,
        ts: int,
        end_ts: int,
        route: str,
        delivered: list[Delivered],
        extra: list[tuple[Rule, str]] | None = None,
    ) -> None:
        """Index what the response of kept row ``idx`` delivered, usable from ``end_ts`` on.

        A value an earlier request of the session sent is not indexed: the server echoed the
        client's own data (a username, a note's text), it did not deliver it. ``extra`` are
        values the config's ``add`` rules took from the response (see :meth:`rules_for`),
        indexed whatever the guards say.
        """
        if not delivered and not extra:
            return
        state = self._state(session)
        sent = state.sent
        by_value: dict[str, _Entry] = {}
        for d in delivered:
            value = d[0]
            if value in sent:
                continue  # the session sent it first: the client's own data, echoed
            first = by_value.get(value)
            if first is None:
                # _Entry(idx, src, kind, id_like, route, 0, None), made faster
                by_value[value] = _new(_Entry, (idx, d[1], d[2], d[3], route, 0, None))
            else:  # the first place in the response wins; the others make it ambiguous
                by_value[d.value] = _Entry(
                    idx, first.src, first.kind, first.id_like or d.id_like, route,
                    first.alternatives + 1,
                )  # fmt: skip
        entries = list(by_value.items())
        for rule, value in extra or ():
            kind = rule.rule.kind or "value"
            entries.append(
                (value, _Entry(idx, rule.rule.src or "body", kind, True, route, 0, rule))
            )
        if entries:
            state.pending.append((max(end_ts, ts), entries))
            self._hold(len(entries))
        self._n["responses_read"] += 1

    def rules_for(self, route: str) -> list[Rule]:
        """The ``add`` rules whose ``from`` matches a source exchange's ``METHOD route``."""
        return [rule for rule in self._add if rule.from_.matches(route)]

    def unread(self, reason: str) -> None:
        """Count a response whose body could not be read."""
        self._unread[reason] += 1

    def _release(self, state: _Session, ts: int) -> None:
        index = state.index
        pending = state.pending
        before = len(index)
        while pending and pending[0][0] <= ts:
            _, entries = pending.pop(0)
            before += len(entries)  # leaving pending: counted in index from here
            for value, new in entries:
                old = index.pop(value, None)
                if old is not None and (old.src_idx, old.src) != (new.src_idx, new.src):
                    # the nearer source wins, unless it is an item of a list (notes[3].slug)
                    # and the older one is not: the value was made there (the create answer)
                    keep = old if _in_list(new.src) and not _in_list(old.src) else new
                    new = _Entry(  # noqa: PLW2901 - the winner, with one more alternative
                        keep.src_idx, keep.src, keep.kind, keep.id_like, keep.src_route,
                        old.alternatives + 1, keep.rule,
                    )  # fmt: skip
                index[value] = new
            while len(index) > self._max_values:
                del index[next(iter(index))]
        self._hold(len(index) - before)

    def confirm(
        self,
        raw: list[RawLink],
        path: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        pseudonym: Callable[[str], str] | None = None,
    ) -> list[dict[str, object]] | None:
        """The stored links of a request from its ``raw`` links and its stored (redacted) form
        (``headers``: its header lines as ``(name, value)``)."""
        if not raw:
            return None
        out: list[dict[str, object]] = []
        values: dict[str, list[str]] = {}
        for link in raw:
            loc = self._targets.get(link.dst)
            if loc is None:
                loc = self._targets[link.dst] = parse_target(link.dst)
            held = values.get(link.dst)
            if held is None:
                held = values[link.dst] = place_values(loc, path, headers, body)
            stored = self._stored(link, loc, held, pseudonym)
            if stored is None:
                self._dropped[DROP_NOT_STORED] += 1
                continue
            self._kinds[link.kind] += 1
            self._n["ambiguous"] += link.ambiguous
            self._n["added_by_rule"] += link.by_rule
            if link.encoding == "json":  # a JSON string's value is stored with its escapes
                stored = json.dumps(stored, ensure_ascii=False)[1:-1]
            out.append(
                {
                    "src_idx": link.src_idx, "src": link.src, "dst": link.dst, "value": stored,
                    "encoding": link.encoding, "kind": link.kind,
                }
            )  # fmt: skip
        if out:
            self._n["requests"] += 1
            self._n["links"] += len(out)
        return out or None

    def _stored(
        self,
        link: RawLink,
        loc: Locator,
        held: list[str],
        pseudonym: Callable[[str], str] | None,
    ) -> str | None:
        at = held[link.index] if link.index < len(held) else None

        def there(value: str) -> bool:
            if loc.place == "path":  # a whole segment (or its stem): at its own segment only
                return at == link.prefix + value + link.suffix
            return any(value in text for text in held)

        # the raw value still there (nothing replaced it), else its pseudonym
        if there(link.value):
            return link.value
        if pseudonym is not None:
            fake = pseudonym(link.value)
            if fake != link.value and there(fake):
                return fake
        # redaction replaced it (a mask, an unknown pseudonym): what stands between the same
        # neighbours at the same place is what the stored request holds there
        if (
            at is not None
            and len(at) > len(link.prefix) + len(link.suffix)
            and at.startswith(link.prefix)
            and at.endswith(link.suffix)
        ):
            self._n["aligned"] += 1
            return at[len(link.prefix) : len(at) - len(link.suffix)]
        return None

    def finish(self) -> LinkReport:
        """The report, with every count so far."""
        return LinkReport(
            enabled=self.config.enabled,
            **self._n,
            by_kind=dict(self._kinds.most_common()),
            dropped=dict(self._dropped.most_common()),
            responses_unread=dict(self._unread.most_common()),
        )

    def drop(self, reason: str, n: int = 1) -> None:
        """Count ``n`` stored links removed later (e.g. by the writer's re-sort)."""
        self._dropped[reason] += n


def _in_list(src: str) -> bool:
    """Whether a source locator points into a list (a JSON index)."""
    return src.startswith("json:") and "[" in src.partition("~")[0]


def _dst_name(dst: str) -> str:
    if dst.startswith("json:"):
        return dst.rsplit(".", 1)[-1].rstrip("]")
    return dst.partition(":")[2]


def _kind(entry: _Entry, place: Place) -> str:
    """The kind of a learned link (see :data:`harness.capture.schema.LINK_KINDS`)."""
    name = _dst_name(place.dst)
    if entry.src.startswith("cookie:") and place.dst.startswith("cookie:"):
        return "cookie"  # a cookie sent back as a cookie: the replay's cookie jar
    if entry.kind == "csrf" or is_csrf_name(name):
        return "csrf"
    header = place.dst.startswith("header:")
    if entry.kind == "token" or (
        header and (name.lower() in _CREDENTIAL_HEADERS or is_token_name(name))
    ):
        return "token"
    if entry.kind == "cookie":
        return "cookie"
    if entry.id_like and place.id_place:
        return "id"
    return "value"
