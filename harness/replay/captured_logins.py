"""Staging accounts in the capture's own logins (``auth: captured_login``).

A browser app's login is an exchange, not a request: the login page sets a CSRF cookie and puts
a token in the form, the POST sends both with the user name and password, the answer sets the
session cookie. The capture holds all of it, and the links carry the cookie, the token and the
session; only the password is wrong on replay (pseudonymised at import, as it must be). So the
replay keeps each captured login and writes a staging account into its fields
(:mod:`harness.replay.login_fields`); the rule is in :mod:`harness.scenario.auth`.

:func:`plan_captured_logins` (the orchestrator, once per target, before any traffic) finds the
logins (requests of the rule's method and route) and gives each an account:

- **who logs in** is the captured value of the rule's ``key`` field (a user name or e-mail,
  pseudonymised or not: a pseudonym is stable, so the same user has the same one): the same
  captured user gets the same account every time, in every session; distinct users get
  accounts in order of their first login (``share: true``: user *n* takes account *n mod
  accounts*; without it, too few accounts is an error naming the stack file's line, exit 3);
  a login without that field is its session's own user;
- **registered in the capture**: a login whose captured values (every field's, the key's
  included) an earlier request of the capture sent together (a registration, a password
  change) keeps them: the replay sends that earlier request too, so the target knows the user.

:class:`CapturedLogins` is a worker's side: it writes the account into a login's request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc

from harness.capture.linktargets import request_places
from harness.capture.record import join_headers
from harness.errors import StackFileError
from harness.replay.login_fields import read_field, write_field
from harness.replay.plan import read_capture, read_rows
from harness.replay.substitute import Outgoing
from harness.scenario.auth import CapturedLoginSpec, fill_account

#: rows read at once when looking for registrations
_CHUNK = 2000
#: captured values shorter than this are not looked for in earlier requests (too common)
_MIN_VALUE = 3
#: methods that never register a user
_SAFE = ("GET", "HEAD", "OPTIONS", "TRACE")


@dataclass(frozen=True)
class LoginPlan:
    """The captured logins of one rule and the account each one uses."""

    accounts: dict[int, int] = field(default_factory=dict)
    """capture ``idx`` of a login -> its account number (logins sent as captured are absent)"""
    logins: int = 0
    """requests of the rule's method and route in the capture"""
    users: int = 0
    """distinct users among the logins that use an account"""
    registered: int = 0
    """logins sent as captured: their user registered (or set that password) in the capture"""

    @property
    def first(self) -> list[int]:
        """``idx`` of the logins that use an account, in capture order."""
        return sorted(self.accounts)


@dataclass(frozen=True)
class _Login:
    pos: int
    idx: int
    user: str
    values: frozenset[str]
    found: frozenset[str]
    """the rule's fields this login sends"""


def plan_captured_logins(
    capture: Path, spec: CapturedLoginSpec, accounts: int, where: str
) -> LoginPlan:
    """Which captured login uses which account (see the module docstring); ``where`` is the
    stack file's line of the rule. :class:`StackFileError` (exit 3) when the capture has no
    such login, or more users than accounts without ``share``."""
    table = read_capture(capture, ["method", "route"])
    is_login = pc.and_(
        pc.equal(pc.utf8_upper(table.column("method")), spec.method),
        pc.equal(table.column("route"), spec.route),
    )
    positions = [i for i, hit in enumerate(is_login.to_pylist()) if hit]
    if not positions:
        routes = sorted({r for r in table.column("route").unique().to_pylist() if r})
        near = [r for r in routes if "login" in r.lower() or "sign" in r.lower()][:5]
        hint = f" (routes like it: {', '.join(near)})" if near else ""
        raise StackFileError(
            f"{where}: auth.captured_login: the capture {capture.name} has no {spec.method} "
            f"{spec.route} request{hint}"
        )
    methods = [str(m).upper() for m in table.column("method").to_pylist()]
    del table
    logins = _read_logins(capture, spec, positions)
    _check_fields(capture, spec, logins, where)
    registered = _registered(capture, logins, set(positions), methods)
    numbers: dict[str, int] = {}
    assigned: dict[int, int] = {}
    for login in logins:
        if login.idx in registered:
            continue
        number = numbers.setdefault(login.user, len(numbers))
        assigned[login.idx] = number
    users = len(numbers)
    if users > accounts and not spec.share:
        raise StackFileError(
            f"{where}: auth.captured_login: {accounts} account(s) for {users} users who log in "
            "in the capture: add accounts, or set `share: true` (user n then uses account n mod "
            f"{accounts}, so users share accounts and their server-side state)"
        )
    if accounts:
        assigned = {idx: n % accounts for idx, n in assigned.items()}
    return LoginPlan(assigned, len(logins), users, len(registered))


def _read_logins(capture: Path, spec: CapturedLoginSpec, positions: list[int]) -> list[_Login]:
    found = []
    for start in range(0, len(positions), _CHUNK):
        chunk = positions[start : start + _CHUNK]
        columns = ["idx", "session", "path", "headers", "body"]
        for pos, row in zip(chunk, read_rows(capture, chunk, columns).to_pylist(), strict=True):
            headers = [(h["name"], h["value"]) for h in row["headers"] or ()]
            req = Outgoing(spec.method, row["path"] or "/", headers, row["body"] or b"")
            values = {name: read_field(req, name) for name in spec.fields}
            user = values.get(spec.key_field)
            who = f"user:{user}" if user else f"session:{row['session'] or row['idx']}"
            kept = frozenset(v for v in values.values() if v and len(v) >= _MIN_VALUE)
            sent = frozenset(name for name, v in values.items() if v is not None)
            found.append(_Login(pos, row["idx"], who, kept, sent))
    return found


def _check_fields(
    capture: Path, spec: CapturedLoginSpec, logins: Sequence[_Login], where: str
) -> None:
    """:class:`StackFileError` when a field of the rule is in none of the captured logins,
    naming the places the first login sends (never a value)."""
    absent = [name for name in spec.fields if not any(name in login.found for login in logins)]
    if not absent:
        return
    row = read_rows(capture, [logins[0].pos], ["path", "headers", "body"]).to_pylist()[0]
    pairs = [(h["name"], h["value"]) for h in row["headers"] or ()]
    places = request_places(row["path"] or "/", join_headers(pairs), row["body"] or b"")
    body = [p.dst for p in places if p.dst.split(":")[0] in ("form", "multipart", "json")]
    sends = f" (it sends {', '.join(dict.fromkeys(body))})" if body else " (it sends no body)"
    raise StackFileError(
        f"{where}: auth.captured_login: field {absent[0]!r} is in none of the "
        f"{len(logins)} captured {spec.method} {spec.route} requests{sends}"
    )


def _registered(
    capture: Path, logins: Sequence[_Login], login_positions: set[int], methods: Sequence[str]
) -> set[int]:
    """``idx`` of the logins whose values an earlier request sent together (see the module
    docstring)."""
    wanted = {value for login in logins for value in login.values}
    if not wanted:
        return set()
    last = max(login.pos for login in logins)
    candidates = [
        pos for pos in range(last) if pos not in login_positions and methods[pos] not in _SAFE
    ]
    # value -> (position, values sent together) of the earlier requests that sent it
    seen: dict[str, list[tuple[int, frozenset[str]]]] = {}
    for start in range(0, len(candidates), _CHUNK):
        chunk = candidates[start : start + _CHUNK]
        rows = read_rows(capture, chunk, ["path", "headers", "body"]).to_pylist()
        for pos, row in zip(chunk, rows, strict=True):
            pairs = [(h["name"], h["value"]) for h in row["headers"] or ()]
            sent = {p.value for p in request_places(row["path"] or "/", join_headers(pairs),
                                                    row["body"] or b"")}  # fmt: skip
            together = frozenset(sent & wanted)
            for value in together:
                seen.setdefault(value, []).append((pos, together))
    registered = set()
    for login in logins:
        if not login.values:
            continue
        probe = min(login.values, key=lambda v: len(seen.get(v, ())))
        if any(pos < login.pos and login.values <= sent for pos, sent in seen.get(probe, ())):
            registered.add(login.idx)
    return registered


class CapturedLogins:
    """One target's staging accounts for the captured logins of one worker's rows."""

    def __init__(
        self,
        spec: CapturedLoginSpec,
        accounts: Sequence[Mapping[str, str]],
        assigned: Mapping[int, int],
    ) -> None:
        self.spec = spec
        self._accounts = [dict(a) for a in accounts]
        self._assigned = dict(assigned)

    def wants(self, idx: int) -> bool:
        """Whether request ``idx`` is a captured login that uses a staging account."""
        return idx in self._assigned

    def apply(self, req: Outgoing, idx: int) -> list[str]:
        """Write the account of login ``idx`` into ``req``; the fields it did not find."""
        account = self._accounts[self._assigned[idx] % len(self._accounts)]
        return [
            name
            for name, template in self.spec.fields.items()
            if not write_field(req, name, fill_account(template, account))
        ]

    def secrets(self) -> list[str]:
        """Every value of every account (longest first): never shown in a message."""
        values = {v for account in self._accounts for v in account.values() if v}
        return sorted(values, key=len, reverse=True)


def as_captured(
    orig_status: int | None, orig_location: str | None, status: int, location: str | None
) -> bool:
    """Whether a login was answered as in the capture: the same status class and, for a
    redirect, to the same route (a login that fails often answers 200 with the form again, or
    302 back to the login page, where the capture went on to the app)."""
    if orig_status is None:
        return 200 <= status < 400
    if status // 100 != orig_status // 100:
        return False
    return not (300 <= orig_status < 400 and orig_location and location != orig_location)


def assigned_json(plan: LoginPlan) -> dict[str, int]:
    """A plan's accounts as a worker's spec carries them (JSON keys are strings)."""
    return {str(idx): n for idx, n in plan.accounts.items()}
