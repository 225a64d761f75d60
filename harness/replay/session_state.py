"""Per session and per target state of one worker's replay: cookies, links, identities, order.

Pure (no gevent, no sockets): the worker's sending greenlets call it around each exchange, and
:mod:`harness.replay.session_hooks` adapts it to the sender's hooks. For each request and
target, :meth:`SessionState.prepare` builds what goes on the wire from the captured request:

1. the capture's **links** get the values this target delivered (:mod:`harness.replay.links`);
2. the ``Cookie`` header follows this session's **cookie jar** for this target
   (:mod:`harness.replay.cookies`), fed by every ``Set-Cookie`` the target sent it;
3. a session that needs a **staging identity** logs in first (:class:`NeedLogin`: the caller
   sends that request, hands the reply to :meth:`SessionState.logged_in` and asks again), then
   its token replaces the captured credential; captured **JWTs** are signed again
   (:mod:`harness.replay.identities`); a **captured login** sends a staging account's values
   instead of the captured ones (:mod:`harness.replay.captured_logins`).

:meth:`SessionState.answered` reads every reply: ``Set-Cookie`` into the jar, link values into
the target's store. :meth:`SessionState.think_ns` is the session order's think time
(:mod:`harness.replay.ordering`), ``None`` when the request does not wait.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.capture.linkspec import Locator
from harness.replay.captured_logins import CapturedLogins
from harness.replay.cookies import CookieJar
from harness.replay.identities import Identity, carries
from harness.replay.links import LINK_NONE, Link, LinkState
from harness.replay.ordering import Order
from harness.replay.sources import Reply
from harness.replay.substitute import Outgoing


@dataclass(frozen=True)
class RowState:
    """What the session state needs of one capture row (keyed by ``idx``)."""

    session: str | None
    host: str
    """the captured ``Host``: cookies scoped to the original domain still apply"""
    links: tuple[Link, ...] = ()
    order: Order | None = None


@dataclass(frozen=True)
class TargetState:
    """One target as the session state sees it."""

    name: str
    host: str
    """the ``Host`` header the replay sends to it"""
    identity: Identity | None = None
    captured: CapturedLogins | None = None
    """staging accounts for the capture's own logins"""


@dataclass(frozen=True)
class NeedLogin:
    """The session must log in to this target first: send ``request``, then
    :meth:`SessionState.logged_in` with the reply."""

    request: Outgoing


@dataclass
class _Session:
    jar: CookieJar = field(default_factory=CookieJar)
    token: str | None = None
    login_tried: bool = False


@dataclass
class TargetCounts:
    """Identity counts of one target, for the run's report."""

    logins: int = 0
    logins_failed: int = 0
    first_failure: str | None = None
    captured_logins: int = 0
    """captured logins sent with a staging account"""
    captured_logins_failed: int = 0
    """those answered otherwise than in the capture (another status class or redirect)"""


class SessionState:
    """The state of one worker's sessions on every target; see the module docstring."""

    def __init__(
        self,
        rows: Mapping[int, RowState],
        targets: Sequence[TargetState],
        needed: Mapping[int, Sequence[Locator]],
        *,
        speed: float = 1.0,
        cookies: bool = True,
    ) -> None:
        self.rows = rows
        self.targets = list(targets)
        self.speed = speed
        self.cookies = cookies
        self.links = [LinkState(needed) for _ in self.targets]
        self.counts = [TargetCounts() for _ in self.targets]
        self._sessions: list[dict[str, _Session]] = [{} for _ in self.targets]

    def think_ns(self, idx: int) -> int | None:
        """``None``: the request does not wait; else the think time after the previous answer."""
        row = self.rows.get(idx)
        if row is None or row.order is None:
            return None
        return int(row.order.think_ns / self.speed)

    def _session(self, k: int, name: str) -> _Session:
        sessions = self._sessions[k]
        found = sessions.get(name)
        if found is None:
            found = sessions[name] = _Session()
        return found

    def untouched(self, k: int, idx: int) -> bool:
        """True when the request to target ``k`` goes exactly as captured: no links, no
        cookie the target set for its session, no identity (the sender's fast path)."""
        row = self.rows.get(idx)
        if row is None:
            return True
        target = self.targets[k]
        if row.links or target.identity is not None:
            return False
        if target.captured is not None and target.captured.wants(idx):
            return False
        if row.session is None or not self.cookies:
            return True
        state = self._sessions[k].get(row.session)
        return state is None or state.jar.untouched

    def prepare(
        self, k: int, idx: int, captured: Outgoing, *, now: float
    ) -> tuple[Outgoing, str] | NeedLogin:
        """The request for target ``k`` and the row's ``link`` outcome, or a login to do first.

        ``captured`` is the request as the capture holds it (Host rewritten); it is not changed.
        """
        row = self.rows.get(idx)
        if row is None:
            return captured, LINK_NONE
        out = Outgoing(captured.method, captured.path, list(captured.headers), captured.body)
        outcome = self.links[k].apply(out, row.links)
        target = self.targets[k]
        if target.captured is not None and target.captured.wants(idx):
            target.captured.apply(out, idx)
        if row.session is None:
            return out, outcome
        state = self._session(k, row.session)
        if self.cookies and not state.jar.untouched:
            hosts = (target.host, row.host)
            for i, (name, value) in enumerate(out.headers):
                if name.lower() == "cookie":
                    path = out.path.split("?", 1)[0]
                    rewritten = state.jar.cookie_header(value, hosts, path, now=now)
                    out.headers[i] = (name, rewritten if rewritten is not None else "")
            out.headers = [(n, v) for n, v in out.headers if n.lower() != "cookie" or v]
        identity = target.identity
        if identity is not None:
            if identity.needs_login(row.session) and self._wants_token(identity, row, out):
                if not state.login_tried:
                    state.login_tried = True
                    return NeedLogin(identity.login_request(row.session))
                if state.token is not None:
                    identity.apply(out, state.token)
            identity.resign(out, captured.headers, now)
        return out, outcome

    @staticmethod
    def _wants_token(identity: Identity, row: RowState, out: Outgoing) -> bool:
        login = identity.login
        assert login is not None
        if any(str(link.dst) == login.apply for link in row.links):
            return False  # the session's own login delivered this credential
        return carries(out.headers, identity.apply_place)

    def logged_in(
        self, k: int, session: str, login: Outgoing, reply: Reply | None, *, now: float
    ) -> str | None:
        """Take the token from a login's reply (None: no reply); the failure in words, if any."""
        identity = self.targets[k].identity
        assert identity is not None
        state = self._session(k, session)
        state.login_tried = True
        counts = self.counts[k]
        counts.logins += 1
        if reply is not None and self.cookies:
            cookies = [v for n, v in reply.headers if n.lower() == "set-cookie"]
            state.jar.receive(cookies, self.targets[k].host, login.path, now=now)
        token = identity.token_from(reply) if reply is not None else None
        if token is None:
            counts.logins_failed += 1
            failure = login_failure(login, reply, identity)
            counts.first_failure = counts.first_failure or failure
            return failure
        state.token = token
        return None

    def captured_login_answered(self, k: int, idx: int, as_captured: bool) -> None:
        """Count the answer to a captured login of target ``k`` (``as_captured``: the same
        status class, and the same redirect, as in the capture)."""
        captured = self.targets[k].captured
        if captured is None or not captured.wants(idx):
            return
        counts = self.counts[k]
        counts.captured_logins += 1
        counts.captured_logins_failed += not as_captured

    def answered(self, k: int, idx: int, path: str, reply: Reply | None, *, now: float) -> None:
        """Read the reply of target ``k`` to request ``idx`` (None: no reply came)."""
        links = self.links[k]
        if links.wants(idx):
            links.record(idx, reply)
        row = self.rows.get(idx)
        if reply is None or row is None or row.session is None or not self.cookies:
            return
        cookies = [v for n, v in reply.headers if n.lower() == "set-cookie"]
        if cookies:
            hosts = (self.targets[k].host, row.host)
            self._session(k, row.session).jar.receive(cookies, hosts, path, now=now)


def login_failure(login: Outgoing, reply: Reply | None, identity: Identity) -> str:
    """``POST /api/users/login answered 401: {"errors": ...}`` (the body's first line, without
    any value of the account that was used: never a secret)."""
    what = f"{login.method} {login.path.split('?', 1)[0]}"
    if reply is None:
        return f"{what} got no answer"
    first = reply.text.strip().splitlines()[0][:200] if reply.text.strip() else "(empty body)"
    for secret in identity.secrets():
        if secret and len(secret) >= 3:
            first = first.replace(secret, "***")
    if 200 <= reply.status < 400:
        return f"{what} answered {reply.status} without a token at {identity.token_place}: {first}"
    return f"{what} answered {reply.status}: {first}"
