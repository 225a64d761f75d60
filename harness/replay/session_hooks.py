"""The replay user's hooks that keep session state (worker side: gevent is patched in).

:func:`session_hooks` builds, from a worker's :class:`~harness.replay.spec.ShardSpec`, the
:class:`SessionHooks` that :mod:`harness.replay.dispatch` calls around every exchange (see
:mod:`harness.replay.exchange`): session order (``turn``), the outgoing request of each target
with its links, cookies and staging identity (``outgoing``), and every reply read back
(``answered``). The logic is :class:`~harness.replay.session_state.SessionState` (pure); this
module adapts it to the sender's types and does the one thing that needs the network: the
staging logins, all of them **before t0**, so no login delays a scheduled request or counts as
send lag, and a login that fails stops the run before any traffic (exit 4, naming the target,
the status and the first line of the answer, never an account value).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gevent.pool
from geventhttpclient import HTTPClient
from geventhttpclient.header import Headers

from harness.errors import StackFileError, TargetError
from harness.replay.captured_logins import CapturedLogins, as_captured
from harness.replay.exchange import Answer, Await, ReplayRequest, RequestHooks, Send
from harness.replay.exchange import Outgoing as WireRequest
from harness.replay.identities import Identity
from harness.replay.links import sources_needed
from harness.replay.origin import target_host_header
from harness.replay.plan import PLAN_COLUMNS, plan_replay, read_capture
from harness.replay.session_plan import worker_state
from harness.replay.session_state import NeedLogin, SessionState, TargetState
from harness.replay.sources import Reply
from harness.replay.spec import ShardSpec
from harness.replay.substitute import Outgoing
from harness.scenario.accounts import load_accounts
from harness.scenario.auth import AuthSpec
from harness.scenario.jwtkey import load_jwt_key

#: logins in flight at once per worker and target, before t0
LOGIN_CONCURRENCY = 16


class SessionHooks(RequestHooks):
    """Session state around each exchange; see the module docstring."""

    def __init__(self, spec: ShardSpec, state: SessionState) -> None:
        self.spec = spec
        self.state = state
        self.ordered = spec.ordering == "session"
        self._awaited = {
            idx for row in state.rows.values() if row.order for idx in row.order.awaits
        }
        # made once, before t0: the dispatcher asks for every request
        self._awaits = {
            idx: Await(row.order.awaits, int(row.order.think_ns / state.speed))
            for idx, row in state.rows.items()
            if row.order is not None
        }

    def awaits(self, request: ReplayRequest) -> Await | None:
        return self._awaits.get(request.idx)

    def awaited(self, request: ReplayRequest) -> bool:
        return request.idx in self._awaited

    def outgoing(self, target: int, request: ReplayRequest, send: Send) -> WireRequest:
        del send  # staging logins happen before t0 (see the module docstring)
        if self.state.untouched(target, request.idx):
            headers = request.headers[target]
            return WireRequest(request.method, request.path, headers, request.body)
        captured = Outgoing(
            request.method, request.path, list(request.headers[target].items()), request.body
        )
        prepared = self.state.prepare(target, request.idx, captured, now=time.time())
        if isinstance(prepared, NeedLogin):  # every login happened before t0: a bug if here
            raise RuntimeError(f"session {request.session} of {request.idx} is not logged in")
        out, link = prepared
        return WireRequest(out.method, out.path, out.headers, out.body, link=link)

    def answered(
        self, target: int, request: ReplayRequest, outgoing: WireRequest, answer: Answer
    ) -> None:
        reply = Reply(answer.status, answer.headers, answer.body) if answer.status else None
        self.state.answered(target, request.idx, outgoing.path, reply, now=time.time())
        captured = self.state.targets[target].captured
        if captured is not None and captured.wants(request.idx):
            same = as_captured(
                request.orig_status,
                request.orig_location_route,
                answer.status,
                answer.location_route,
            )
            self.state.captured_login_answered(target, request.idx, same)

    def summary(self) -> dict[str, Any]:
        """Per target with staging logins: logins made and failed, captured logins sent with
        an account and those answered otherwise than in the capture (the worker's summary)."""
        out: dict[str, Any] = {}
        for t, c, info in zip(
            self.spec.targets, self.state.counts, self.state.targets, strict=True
        ):
            counts: dict[str, int] = {}
            if info.identity is not None and info.identity.login is not None:
                counts.update(logins=c.logins, logins_failed=c.logins_failed)
            if info.captured is not None:
                counts.update(
                    captured_logins=c.captured_logins,
                    captured_logins_failed=c.captured_logins_failed,
                )
            if counts:
                out[t.name] = counts
        return out


def session_hooks(spec: ShardSpec) -> SessionHooks:
    """The hooks of ``spec``'s shard, its staging logins done (:class:`TargetError` if one
    fails)."""
    capture = Path(spec.capture)
    table = read_capture(capture, PLAN_COLUMNS)
    plan = plan_replay(table, spec.shards, spec.speed, spec.duration_s, spec.loop)
    del table
    rows, _ = worker_state(capture, plan.shards[spec.shard].rows.tolist())
    present = {row.session for row in rows.values() if row.session is not None}
    targets = []
    mine: list[list[str]] = []
    for target in spec.targets:
        sessions = spec.identities.get(target.name, [])
        identity = _identity(target.auth, target.stack_dir, sessions)
        captured = _captured(target.auth, target.stack_dir, spec.captured_logins.get(target.name))
        host = target_host_header(target.url)
        targets.append(TargetState(target.name, host, identity, captured))
        mine.append([s for s in sessions if s in present])
    needed = sources_needed(row.links for row in rows.values())
    state = SessionState(rows, targets, needed, speed=spec.speed)
    _log_in(spec, state, mine)
    return SessionHooks(spec, state)


def _identity(
    auth_data: dict[str, Any] | None, stack_dir: str | None, sessions: list[str]
) -> Identity | None:
    """A target's identities from its spec (secrets read here, from files and environment)."""
    if not auth_data:
        return None
    auth = AuthSpec.model_validate(auth_data)
    if auth.login is None and auth.jwt is None:
        return None
    directory = Path(stack_dir or ".")
    try:
        accounts = load_accounts(auth.login, directory) if auth.login is not None else []
        key = load_jwt_key(auth, directory) if auth.jwt is not None else None
    except ValueError as exc:
        raise StackFileError(f"auth: {exc}") from None
    return Identity(auth, accounts, sessions, key)


def _captured(
    auth_data: dict[str, Any] | None, stack_dir: str | None, assigned: dict[str, int] | None
) -> CapturedLogins | None:
    """A target's accounts for the capture's own logins (read here, from file or environment)."""
    if not auth_data or not assigned:
        return None
    spec = AuthSpec.model_validate(auth_data).captured_login
    if spec is None:
        return None
    try:
        accounts = load_accounts(spec, Path(stack_dir or "."))
    except ValueError as exc:
        raise StackFileError(f"auth.captured_login: {exc}") from None
    return CapturedLogins(spec, accounts, {int(idx): n for idx, n in assigned.items()})


def _log_in(spec: ShardSpec, state: SessionState, mine: list[list[str]]) -> None:
    """Log every session of this shard that needs it in to every target, before t0."""
    for k, target in enumerate(spec.targets):
        identity = state.targets[k].identity
        sessions = mine[k]
        if identity is None or identity.login is None or not sessions:
            continue
        client = HTTPClient.from_url(
            target.url,
            concurrency=LOGIN_CONCURRENCY,
            connection_timeout=spec.timeout_s,
            network_timeout=spec.timeout_s,
        )
        client.default_headers = Headers()
        pool = gevent.pool.Pool(LOGIN_CONCURRENCY)
        jobs = [pool.spawn(_log_in_one, state, k, identity, client, s) for s in sessions]
        pool.join()
        client.close()
        failures = [job.value for job in jobs if job.value is not None]
        if failures:
            raise TargetError(
                f"target {target.name}: staging login failed for {len(failures)} of "
                f"{len(sessions)} sessions: {failures[0]}"
            )


def _log_in_one(
    state: SessionState, k: int, identity: Identity, client: HTTPClient, session: str
) -> str | None:
    """One session's login to target ``k``; the failure in words, or None."""
    request = identity.login_request(session)
    headers = Headers()
    headers.add("Host", state.targets[k].host)
    for name, value in request.headers:
        headers.add(name, value)
    try:
        response = client.request(request.method, request.path, body=request.body, headers=headers)
        reply: Reply | None = Reply(response.status_code, list(response.items()), response.read())
    except Exception:  # refused, reset, timed out: the login got no answer
        reply = None
    return state.logged_in(k, session, request, reply, now=time.time())
