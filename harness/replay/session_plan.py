"""Session state before the replay starts: checks in the orchestrator, row states in workers.

Pure (pyarrow; no gevent). The orchestrator calls :func:`check_capture_links` (a link whose
source is not an earlier request: exit 3 naming the file and row) and :func:`plan_identities`
(which sessions log in to each target; too few accounts: exit 3 naming the stack file's line)
and :func:`plan_captured` (which captured login uses which account).
Each worker calls :func:`worker_state` for its own rows: the links, the captured host, and the
session order of every request it sends (:mod:`harness.replay.ordering`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.capture.linkspec import LocatorError
from harness.errors import CaptureError, StackFileError, TargetError
from harness.replay.captured_logins import LoginPlan, assigned_json, plan_captured_logins
from harness.replay.identities import check_accounts, identity_sessions
from harness.replay.links import Link, check_links, parse_links
from harness.replay.ordering import OrderRow, session_order
from harness.replay.plan import read_capture, read_rows
from harness.replay.session_state import RowState
from harness.scenario.accounts import load_accounts
from harness.scenario.auth import AuthSpec

if TYPE_CHECKING:
    from harness.replay.model import ReplayOptions, ReplayTarget
    from harness.replay.spec import TargetSpec
    from harness.scenario.stackfile import Stack
    from harness.scenario.stackfile import TargetSpec as StackTarget


def check_capture_links(capture: Path) -> int:
    """Check every link of the capture (exit 3 naming file and row); the number of links."""
    table = read_capture(capture, ["idx", "links", "source"])
    if table.column("links").null_count == table.num_rows:
        return 0
    return check_links(
        capture,
        table.column("idx").to_pylist(),
        table.column("links").to_pylist(),
        table.column("source").to_pylist(),
    )


@dataclass(frozen=True)
class TargetAuth:
    """A target's staging identities as the orchestrator resolves them."""

    name: str
    auth: AuthSpec
    where: str
    """``stack.yaml:LINE`` of its ``auth:`` (for errors)"""
    stack_dir: Path


def plan_identities(capture: Path, targets: Sequence[TargetAuth]) -> dict[str, list[str]]:
    """Target name -> the sessions that log in to it, in order (their account numbers).

    Raises :class:`~harness.errors.StackFileError` (exit 3) when a login has fewer accounts
    than sessions and may not share them, or its accounts cannot be read.
    """
    logins = [t for t in targets if t.auth.login is not None]
    if not logins:
        return {}
    table = read_capture(capture, ["session", "headers", "links"])
    sessions = table.column("session").to_pylist()
    headers = table.column("headers").to_pylist()
    links = table.column("links").to_pylist()
    planned: dict[str, list[str]] = {}
    for target in logins:
        login = target.auth.login
        assert login is not None
        names = identity_sessions(sessions, headers, links, login.apply)
        try:
            accounts = load_accounts(login, target.stack_dir)
        except ValueError as exc:
            raise StackFileError(f"{target.where}: auth.login: {exc}") from None
        check_accounts(login, len(accounts), len(names), target.where)
        planned[target.name] = names
    return planned


def worker_state(capture: Path, rows: Sequence[int]) -> tuple[dict[int, RowState], int]:
    """``idx`` -> :class:`RowState` for capture rows at positions ``rows`` (one shard's, sorted
    and distinct), and the number of links among them."""
    wanted = sorted(set(rows))
    if not wanted:
        return {}, 0
    columns = ["idx", "session", "host", "offset_ns", "orig_latency_ns", "links", "source"]
    table = read_rows(capture, wanted, columns).to_pylist()
    parsed: dict[int, tuple[Link, ...]] = {}
    order_rows = []
    count = 0
    for row in table:
        try:
            links = parse_links(row["links"])
        except (LocatorError, KeyError, TypeError, ValueError) as exc:
            raise CaptureError(
                f"{capture}: row idx {row['idx']} ({row['source']}): {exc}"
            ) from None
        parsed[row["idx"]] = links
        count += len(links)
        order_rows.append(
            OrderRow(
                pos=row["idx"],
                idx=row["idx"],
                session=row["session"],
                offset_ns=row["offset_ns"],
                latency_ns=row["orig_latency_ns"],
                link_sources=tuple(link.src_idx for link in links),
            )
        )
    orders = session_order(order_rows)
    states = {
        row["idx"]: RowState(
            session=row["session"],
            host=row["host"] or "",
            links=parsed[row["idx"]],
            order=orders.get(row["idx"]),
        )
        for row in table
    }
    return states, count


def link_sources(states: Mapping[int, RowState]) -> set[int]:
    """``idx`` of the exchanges whose replies later requests of these rows read."""
    return {link.src_idx for state in states.values() for link in state.links}


def check_logins(
    targets: Sequence[tuple[str, str, TargetAuth]],
    sessions: Mapping[str, Sequence[str]],
    timeout_s: float,
) -> None:
    """Log each target in once with its first session's account before any traffic: a login
    that fails is :class:`~harness.errors.TargetError` (exit 4) naming the target, the status
    and the first line of the body (never an account value). ``targets``: (name, url, auth)."""
    import httpx

    from harness.replay.identities import Identity
    from harness.replay.session_state import login_failure
    from harness.replay.sources import Reply

    for name, url, target in targets:
        login = target.auth.login
        names = sessions.get(name) or []
        if login is None or not names:
            continue
        identity = Identity(target.auth, load_accounts(login, target.stack_dir), names, None)
        request = identity.login_request(names[0])
        try:
            answer = httpx.request(
                request.method,
                url.rstrip("/") + request.path,
                headers=request.headers,
                content=request.body,
                timeout=timeout_s,
            )
            reply: Reply | None = Reply(
                answer.status_code, list(answer.headers.multi_items()), answer.content
            )
        except httpx.HTTPError:
            reply = None
        if reply is None or identity.token_from(reply) is None:
            raise TargetError(
                f"target {name}: staging login failed: {login_failure(request, reply, identity)}"
            )


def plan_captured(capture: Path, targets: Sequence[TargetAuth]) -> dict[str, LoginPlan]:
    """Target name -> which captured login uses which account (``auth: captured_login``).

    Raises :class:`~harness.errors.StackFileError` (exit 3) when the accounts cannot be read,
    the capture has no such login, or there are more users than accounts without ``share``.
    """
    plans: dict[str, LoginPlan] = {}
    done: dict[tuple[str, int], LoginPlan] = {}  # the same rule for several targets: once
    for target in targets:
        spec = target.auth.captured_login
        if spec is None:
            continue
        try:
            accounts = len(load_accounts(spec, target.stack_dir))
        except ValueError as exc:
            raise StackFileError(f"{target.where}: auth.captured_login: {exc}") from None
        key = (spec.model_dump_json(), accounts)
        if key not in done:
            done[key] = plan_captured_logins(capture, spec, accounts, target.where)
        plans[target.name] = done[key]
    return plans


@dataclass(frozen=True)
class SessionPlan:
    """What the workers are told about identities, per target."""

    identities: dict[str, list[str]]
    """the sessions that log in (``auth: login``), in order"""
    captured_logins: dict[str, LoginPlan]
    """the accounts of the capture's own logins (``auth: captured_login``)"""

    def captured_json(self) -> dict[str, dict[str, int]]:
        """:attr:`captured_logins` as a worker's spec carries them."""
        return {name: assigned_json(plan) for name, plan in self.captured_logins.items()}


def prepare_sessions(
    capture: Path, targets: Sequence[ReplayTarget], options: ReplayOptions
) -> SessionPlan:
    """Everything the orchestrator checks about session state before the workers start: the
    capture's links (exit 3), the accounts of each target's logins (exit 3) and one login per
    target, staging or captured (exit 4)."""
    from harness.replay.login_check import LoginTarget, check_captured_logins

    check_capture_links(capture)
    auths = [
        TargetAuth(t.name, t.auth, t.auth_where or "stack file", t.stack_dir or Path())
        for t in targets
        if t.auth is not None
    ]
    identities = plan_identities(capture, auths)
    captured = plan_captured(capture, auths)
    by_name = {a.name: a for a in auths}
    check_logins(
        [(t.name, t.url, by_name[t.name]) for t in targets if t.name in by_name],
        identities,
        options.timeout_s,
    )
    check_captured_logins(
        capture,
        [
            LoginTarget(t.name, t.url, dict(t.headers), a.auth, a.where, a.stack_dir)
            for t in targets
            if (a := by_name.get(t.name)) is not None
        ],
        captured,
        options.timeout_s,
    )
    return SessionPlan(identities, captured)


def target_spec(target: ReplayTarget) -> TargetSpec:
    """What a worker is told about ``target`` (its identities without any secret)."""
    from harness.replay.spec import TargetSpec

    auth = target.auth.model_dump(mode="json", by_alias=True) if target.auth else None
    stack_dir = str(target.stack_dir) if target.stack_dir else None
    return TargetSpec(target.name, target.url, dict(target.headers), auth, stack_dir)


def identity_counts(summaries: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Target -> staging logins made and failed, captured logins sent with an account and
    those answered otherwise than in the capture: summed over the workers' summary lines."""
    total: dict[str, dict[str, int]] = {}
    for summary in summaries:
        for target, counts in (summary.get("session_state") or {}).items():
            mine = total.setdefault(target, {})
            for key, value in counts.items():
                mine[key] = mine.get(key, 0) + int(value)
    return total


def check_before_stack(
    capture: Path, stack: Stack, targets: Mapping[str, StackTarget] | None = None
) -> None:
    """The checks of session state that need no running target, before a stack is started
    (``harness run``, ``validate``, ``ci``): the capture's links and each login's accounts
    (exit 3). ``targets`` replaces the stack file's (``validate`` names the builds)."""
    check_capture_links(capture)
    chosen = targets if targets is not None else stack.file.targets
    auths = []
    loc: tuple[str, ...]
    for name, spec in chosen.items():
        if spec.auth is not None:
            auth, loc = spec.auth, ("targets", name, "auth")
        elif stack.file.defaults.auth is not None:
            auth, loc = stack.file.defaults.auth, ("defaults", "auth")
        else:
            continue
        auths.append(TargetAuth(name, auth, stack.where(loc), stack.dir))
    plan_identities(capture, auths)
    plan_captured(capture, auths)
