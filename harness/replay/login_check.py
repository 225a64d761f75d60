"""One captured login per target, tried with its staging account before any traffic.

A wrong password in the accounts file, or a field the rule does not name, would otherwise show
only after the whole replay, as a fidelity failure. So the orchestrator replays, once per target
and before the workers start, the first captured login that uses an account together with the
requests it needs (the sources of its links, e.g. the login page that sets the CSRF cookie and
the form token), with the same session state as the replay (links, cookie jar, the account in
its fields, headers naming the target's site). Its answer must be the captured one (status
class, and the route of a redirect): else :class:`~harness.errors.TargetError` (exit 4) names
the target, the login, the account's number and both answers, never an account value.

Only requests that change nothing are replayed on the way (GET, HEAD, OPTIONS): a login that
needs an earlier POST (its own registration) is never tried here; the next one is, and when none
qualifies the run's fidelity check is the judge.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness.errors import TargetError
from harness.replay.captured_logins import CapturedLogins, LoginPlan, as_captured
from harness.replay.links import sources_needed
from harness.replay.locations import LocationRoutes, location_of
from harness.replay.origin import SiteRewrite, own_host, target_host_header
from harness.replay.plan import read_capture, read_rows
from harness.replay.rebuild import rebuild_headers
from harness.replay.session_plan import worker_state
from harness.replay.session_state import SessionState, TargetState
from harness.replay.sources import Reply
from harness.replay.substitute import Outgoing
from harness.scenario.accounts import load_accounts
from harness.scenario.auth import AuthSpec

#: the most requests replayed for one login (the login and the sources of its links)
MAX_CHAIN = 16
#: logins tried before giving up finding one whose sources are all safe to replay
MAX_TRIES = 5
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class LoginTarget:
    """A target whose captured logins are checked: name, URL, injected headers, its rule."""

    name: str
    url: str
    headers: dict[str, str]
    auth: AuthSpec
    where: str
    """``stack.yaml:LINE`` of its ``auth:``"""
    stack_dir: Path


def check_captured_logins(
    capture: Path, targets: Sequence[LoginTarget], plans: dict[str, LoginPlan], timeout_s: float
) -> None:
    """Try one captured login per target (see the module docstring); exit 4 if one fails."""
    todo = [t for t in targets if plans.get(t.name) and plans[t.name].accounts]
    if not todo:
        return
    table = read_capture(capture, ["idx", "method", "links"])
    position = {idx: pos for pos, idx in enumerate(table.column("idx").to_pylist())}
    methods = table.column("method").to_pylist()
    links = table.column("links").to_pylist()
    del table
    for target in todo:
        plan = plans[target.name]
        for idx in plan.first[:MAX_TRIES]:
            chain = _chain(idx, position, methods, links)
            if chain is not None:
                _try(capture, target, plan, idx, chain=chain, timeout_s=timeout_s)
                break


def _chain(
    idx: int,
    position: dict[int, int],
    methods: Sequence[str],
    links: Sequence[Sequence[Mapping[str, Any]] | None],
) -> list[int] | None:
    """Positions of the login ``idx`` and of every request it takes a linked value from
    (transitively), in capture order; None when one of them is not safe to send again."""
    wanted = {position[idx]}
    todo = [position[idx]]
    while todo:
        pos = todo.pop()
        for link in links[pos] or ():
            src = position.get(int(link["src_idx"]))
            if src is None or src in wanted:
                continue
            if str(methods[src]).upper() not in _SAFE or len(wanted) >= MAX_CHAIN:
                return None
            wanted.add(src)
            todo.append(src)
    return sorted(wanted)


def _try(
    capture: Path,
    target: LoginTarget,
    plan: LoginPlan,
    login_idx: int,
    *,
    chain: list[int],
    timeout_s: float,
) -> None:
    spec = target.auth.captured_login
    assert spec is not None
    accounts = load_accounts(spec, target.stack_dir)
    captured = CapturedLogins(spec, accounts, {login_idx: plan.accounts[login_idx]})
    rows, _ = worker_state(capture, chain)
    host = target_host_header(target.url)
    state = SessionState(
        rows,
        [TargetState(target.name, host, None, captured)],
        sources_needed(row.links for row in rows.values()),
    )
    columns = ["idx", "method", "path", "headers", "body", "host", "route"]
    columns += ["orig_status", "orig_location_route"]
    records = read_rows(capture, chain, columns).to_pylist()
    routes = LocationRoutes(r["route"] for r in records)
    base = target.url.rstrip("/")
    for rec in records:
        pairs = [(h["name"], h["value"]) for h in rec["headers"] or ()]
        site = SiteRewrite.of(own_host(pairs, rec["host"]), target.url)
        headers = rebuild_headers(pairs, host, target.headers, site)
        request = Outgoing(rec["method"], rec["path"] or "/", headers, rec["body"] or b"")
        prepared = state.prepare(0, rec["idx"], request, now=time.time())
        assert isinstance(prepared, tuple)  # no staging identity here: never a NeedLogin
        out = prepared[0]
        try:
            answer = httpx.request(
                out.method, base + out.path, headers=out.headers, content=out.body,
                timeout=timeout_s, follow_redirects=False,
            )  # fmt: skip
            reply: Reply | None = Reply(
                answer.status_code, list(answer.headers.multi_items()), answer.content
            )
        except httpx.HTTPError as exc:
            reply = None
            if rec["idx"] == login_idx:
                raise TargetError(
                    f"target {target.name}: the captured login {out.method} {rec['route']} "
                    f"(capture idx {login_idx}) got no answer: {type(exc).__name__}"
                ) from None
        state.answered(0, rec["idx"], out.path, reply, now=time.time())
        if rec["idx"] != login_idx or reply is None:
            continue
        location = location_of(reply.status, reply.headers)
        route = routes.route(location, out.path) if location is not None else None
        orig = (rec["orig_status"], rec["orig_location_route"])
        if not as_captured(*orig, reply.status, route):
            login = f"{rec['method']} {rec['route']} (capture idx {login_idx})"
            raise TargetError(
                f"target {target.name}: the captured login {login} with staging account "
                f"{plan.accounts[login_idx] + 1} answered {_answer(reply.status, route)} where "
                f"the capture has {_answer(*orig)}{_said(reply, captured.secrets())}; check the "
                f"accounts and fields of auth.captured_login ({target.where})"
            )


def _answer(status: int | None, route: str | None) -> str:
    if status is None:
        return "no answer"
    return f"{status} to {route}" if route else str(status)


def _said(reply: Reply, secrets: list[str]) -> str:
    """``: <the body's first line>`` when the answer is not a page (an API's error says what
    is wrong), never with an account value in it; else nothing."""
    ctype = next((v for n, v in reply.headers if n.lower() == "content-type"), "")
    text = reply.text.strip()
    if not text or "html" in ctype.lower():
        return ""
    said = text.splitlines()[0][:200]
    for secret in secrets:
        if len(secret) >= 3:
            said = said.replace(secret, "***")
    return ": " + said
