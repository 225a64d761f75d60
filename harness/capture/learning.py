"""What the import learns from each exchange: its session, its response's values, its links.

One :class:`ImportLearning` per import ties the session tracker
(:mod:`harness.capture.clients`), the session joiner (:mod:`harness.capture.joins`) and the
link learner (:mod:`harness.capture.links`) to the pipeline, for both paths:
:mod:`harness.capture.ingest` (one :class:`Exchange` at a time) and
:mod:`harness.capture.batch` (GoReplay rows a chunk at a time). Per request, in capture order:

1. :meth:`~ImportLearning.session` decides its session (before filters: sampling needs it),
   joining it by value to an earlier exchange's session when no credential decides, and
   notes the values it sent that may join later requests;
2. :meth:`~ImportLearning.delivered` reads what its response delivered (also before filters:
   a filtered login still tells whose token a later request carries), and the route of the
   response's ``Location``;
3. for a kept request, :meth:`~ImportLearning.learn` finds its links and indexes its response;
4. after redaction, :meth:`~ImportLearning.confirm` stores the links as the request is stored.

Nothing of the response survives this: only the capture's ``orig_*`` columns and the links.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import numpy as np

from harness.capture.clients import (
    Credential,
    SessionReport,
    SessionTracker,
    gor_connection,
    header_key,
    is_credential_header,
)
from harness.capture.config import CaptureConfig
from harness.capture.headerlines import HeaderLines
from harness.capture.joins import SessionJoiner, request_join_values
from harness.capture.links import LinkLearner, LinkReport, RawLink
from harness.capture.linksources import BodyCache, Delivered, delivered_values, source_value
from harness.capture.linkspec import parse_source
from harness.capture.linktargets import Place, request_places
from harness.capture.record import Exchange
from harness.capture.response import Response, parse_response
from harness.capture.routes import RouteTemplater
from harness.capture.sessions import SessionKeyer

#: Kinds of delivered values that may be a later request's credential.
_CREDENTIAL_KINDS = frozenset({"token", "cookie", "csrf"})
#: Request body bytes compared with response values (the echo check) at most.
_ECHO_BODY = 1 << 16


class ChunkRows(Protocol):
    """The columns of a chunk of GoReplay rows the batch path parsed (before redaction)."""

    @property
    def ts(self) -> Sequence[int]: ...
    @property
    def method(self) -> Sequence[str]: ...
    @property
    def path(self) -> Sequence[str]: ...
    @property
    def head(self) -> Sequence[bytes]: ...
    @property
    def body(self) -> Sequence[bytes]: ...
    @property
    def rid(self) -> Sequence[bytes]: ...
    @property
    def route(self) -> Sequence[str]: ...
    @property
    def latency(self) -> Sequence[int | None]: ...
    @property
    def response(self) -> Sequence[bytes | None]: ...
    @property
    def source(self) -> Sequence[str]: ...


@dataclass
class ChunkLearned:
    """What :meth:`ImportLearning.chunk` found: per row, and raw links by row."""

    sessions: list[str]
    links: dict[int, list[RawLink]]
    locations: list[str | None]


def _chunk_credentials(
    lines: HeaderLines, line: Callable[[str, str], tuple[Credential, ...]]
) -> dict[int, list[Credential]]:
    """Credentials of each row of a chunk (strongest first), from its split header lines."""
    if not len(lines):
        return {}
    # decided once per distinct line (a client repeats its Cookie line request after request),
    # then the lines that carry some are picked
    distinct = lines.distinct
    found_of: list[tuple[Credential, ...]] = []
    for name, value in zip(distinct.names.to_pylist(), distinct.values.to_pylist(), strict=True):
        key = header_key(name)
        found_of.append(line(key, value) if is_credential_header(key) else ())
    wanted = np.array([bool(f) for f in found_of], dtype=bool)
    if not wanted.any():
        return {}
    indices = lines.indices.to_numpy(zero_copy_only=False)
    where = np.flatnonzero(wanted[indices])
    row_of = np.searchsorted(lines.offsets.to_numpy(), where, side="right") - 1
    out: dict[int, list[Credential]] = {}
    several: list[int] = []  # rows with credentials from more than one line: sort them
    for row, kind in zip(row_of.tolist(), indices[where].tolist(), strict=True):
        found = found_of[kind]
        have = out.get(row)
        if have is None:
            out[row] = list(found)  # one line's credentials come sorted
        else:
            have.extend(found)
            several.append(row)
    for row in several:
        out[row].sort(key=_priority)
    return out


def _priority(credential: Credential) -> int:
    return credential[0]


class ImportLearning:
    """Sessions and links of one import (see the module docstring)."""

    def __init__(
        self,
        config: CaptureConfig,
        keyer: SessionKeyer,
        templater: RouteTemplater,
        pseudonym: Callable[[str], str] | None = None,
        clean_path: Callable[[str], str] | None = None,
    ) -> None:
        self.tracker = SessionTracker(keyer)
        self.learner = LinkLearner(config.links) if config.links.enabled else None
        self._templater = templater
        self._pseudonym = pseudonym
        # a Location path with its secret segments as the placeholder (redaction's path rules)
        self._clean_path = clean_path
        self._sources = {rule.src: parse_source(rule.src) for rule in config.links.add}
        self._bodies = BodyCache()
        join = config.session.join and not self.tracker.configured
        self.joiner = SessionJoiner(config.session.join_window_s) if join else None
        # the places of the last request read: session() and learn() of one request share them
        self._last: tuple[str, str, bytes, list[Place]] | None = None
        self._last_join: list[tuple[str, str]] | None = None  # its join values, once asked

    @property
    def by_credential(self) -> bool:
        """Whether sessions are found by credential (no session key configured)."""
        return not self.tracker.configured

    def session(self, exchange: Exchange) -> str:
        """The session of ``exchange`` (joined by value when no credential decides)."""
        joiner = self.joiner
        if joiner is None:
            return self.tracker.session(exchange)
        ts, path, head, body = exchange.ts_ns, exchange.path, exchange.head, exchange.body
        asked = False

        def join() -> str | None:
            nonlocal asked
            asked = True
            return joiner.join(ts, self.join_values(path, head, body))

        session = self.tracker.session(exchange, join)
        self._sent(session, ts, path, head, body, asked)
        return session

    def _sent(  # noqa: PLR0917 - one call per request, in the import's inner loop
        self, session: str, ts: int, path: str, head: str, body: bytes, parsed: bool
    ) -> None:
        """Note the join values a request of ``session`` sent, where its places are read anyway:
        it asked to join, or links are learned (a response was seen)."""
        if self.joiner is None:
            return
        if parsed or (self.learner is not None and self.learner.active):
            values = self.join_values(path, head, body)
            if values:
                self.joiner.sent(session, ts, values)

    def _places(self, path: str, head: str, body: bytes) -> list[Place]:
        """:func:`request_places` of a request, computed once for its session and its links."""
        last = self._last
        if last is not None and last[0] == path and last[1] == head and last[2] == body:
            return last[3]
        places = request_places(path, head, body)
        self._last = (path, head, body, places)
        self._last_join = None
        return places

    def join_values(self, path: str, head: str, body: bytes) -> list[tuple[str, str]]:
        """The ``(value, place)`` of a request that may join a session (see joins.py)."""
        places = self._places(path, head, body)
        values = self._last_join
        if values is None:
            values = self._last_join = request_join_values(places)
        return values

    def delivered(  # noqa: PLR0917 - one call per response, in the import's inner loop
        self,
        session: str,
        response: Response,
        path: str,
        head: str,
        body: bytes,
        end: int = 0,
    ) -> list[Delivered] | None:
        """What ``response`` delivered to the request ``path`` + ``head`` + ``body``.

        ``end``: when the response ended (ns; its values may join later requests from then).
        ``None`` when nothing needs it (no learner, a configured session key).
        """
        if self.learner is None and self.tracker.configured:
            return None
        echo = "\n".join((path, head, body[:_ECHO_BODY].decode("latin-1")))
        values = delivered_values(response, echo, self._bodies)
        if response.unread is not None and self.learner is not None:
            self.learner.unread(response.unread)
        if not self.tracker.configured:
            self.tracker.delivered(
                session, [d.value for d in values if d.kind in _CREDENTIAL_KINDS]
            )
        if self.joiner is not None and values:
            self.joiner.delivered(session, end, values)
        return values

    def location_route(self, response: Response, path: str) -> str | None:
        """The route template of the response's ``Location`` (resolved against ``path``)."""
        location = response.header("location")
        if not location:
            return None
        try:
            target = urlsplit(urljoin(path, location.strip())).path or "/"
        except ValueError:
            return None
        if self._clean_path is not None:
            target = self._clean_path(target)  # no secret in the route, as in the route column
        return self._templater.route(target)

    def learn(  # noqa: PLR0917 - one call per request, in the import's inner loop
        self,
        idx: int,
        session: str,
        ts: int,
        route: str,
        path: str,
        head: str,
        body: bytes,
        response: Response | None,
        latency: int | None,
        delivered: list[Delivered] | None,
    ) -> list[RawLink]:
        """The links of kept row ``idx`` (``route``: ``METHOD route``); indexes its response."""
        learner = self.learner
        if learner is None:
            return []
        if response is not None:
            learner.responses_seen = True
        raw = learner.match(session, ts, route, lambda: self._places(path, head, body))
        if response is not None:
            extra = []
            for rule in learner.rules_for(route):
                value = source_value(self._sources[rule.rule.src or ""], response)
                if value:
                    extra.append((rule, value))
            if delivered or extra:
                end = ts + (latency or 0)
                learner.offer(idx, session, ts, end, route, delivered or [], extra)
        return raw

    def chunk(self, rows: ChunkRows, lines: HeaderLines, base_idx: int) -> ChunkLearned:
        """Sessions, raw links and ``Location`` routes of a chunk of GoReplay rows, in order.

        The batch path's version of :meth:`session`, :meth:`delivered` and :meth:`learn` (it has
        no filters: every row is kept). Credentials come from ``lines``, the chunk's header
        lines split in Arrow before redaction; the rest from the rows' raw text.
        """
        n = len(rows.ts)
        tracker = self.tracker
        creds = _chunk_credentials(lines, tracker.line)
        sessions: list[str] = []
        links: dict[int, list[RawLink]] = {}
        locations: list[str | None] = [None] * n
        by_credentials, by_connection = tracker.by_credentials, tracker.by_connection
        # one join callable for the chunk, pointed at each row in turn
        joiner = self.joiner
        join = None if joiner is None else _RowJoin(joiner, self.join_values, rows)
        learner = self.learner
        for i in range(n):
            row_creds = creds.get(i)
            if join is not None:
                join.i, join.asked = i, False
            session = None if row_creds is None else by_credentials(row_creds, join)
            if session is None and join is not None:
                session = tracker.by_join(join)
            if session is None:
                rid = rows.rid[i]
                conn = gor_connection(rid.decode("latin-1")) if rid else rows.source[i]
                session = by_connection("r\0" + conn)
            sessions.append(session)
            learner_active = learner is not None and learner.active
            head = None  # the row's header text, decoded once for all that read it
            if join is not None and (join.asked or learner_active):
                head = join.head if join.asked else rows.head[i].decode("latin-1")
                self._sent(session, rows.ts[i], rows.path[i], head, rows.body[i], True)
            payload = rows.response[i]
            response = parse_response(payload) if payload is not None else None
            if response is None and not learner_active:
                continue  # nothing to learn from or for this row
            path = rows.path[i]
            if head is None:
                head = rows.head[i].decode("latin-1")
            body = rows.body[i]
            delivered = None
            if response is not None:
                locations[i] = self.location_route(response, path)
                end = rows.ts[i] + (rows.latency[i] or 0)
                delivered = self.delivered(session, response, path, head, body, end)
            route = f"{rows.method[i]} {rows.route[i]}"
            raw = self.learn(
                base_idx + i, session, rows.ts[i], route, path, head, body, response,
                rows.latency[i], delivered,
            )  # fmt: skip
            if raw:
                links[i] = raw
        return ChunkLearned(sessions, links, locations)

    def confirm(
        self, raw: list[RawLink], path: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> list[dict[str, object]] | None:
        """The links to store with a request, from its stored (redacted) form."""
        if not raw or self.learner is None:
            return None
        return self.learner.confirm(raw, path, headers, body, self._pseudonym)

    def finish(self) -> tuple[SessionReport, LinkReport]:
        """The reports for the capture metadata."""
        links = self.learner.finish() if self.learner is not None else LinkReport(enabled=False)
        sessions = self.tracker.finish()
        if self.joiner is not None:
            sessions.joins = self.joiner.finish()
        return sessions, links


class _RowJoin:
    """The ``join`` callable of row ``i`` of a chunk (``asked``: whether it was called)."""

    __slots__ = ("asked", "head", "i", "joiner", "rows", "values")

    def __init__(
        self,
        joiner: SessionJoiner,
        values: Callable[[str, str, bytes], list[tuple[str, str]]],
        rows: ChunkRows,
    ) -> None:
        self.joiner = joiner
        self.values = values
        self.rows = rows
        self.i = 0
        self.asked = False
        self.head = ""  # the row's decoded header text, once asked

    def __call__(self) -> str | None:
        self.asked = True
        rows, i = self.rows, self.i
        self.head = rows.head[i].decode("latin-1")
        values = self.values(rows.path[i], self.head, rows.body[i])
        return self.joiner.join(rows.ts[i], values)
